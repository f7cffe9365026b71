"""Audio: decoding to mono float PCM, EBU R128 loudness normalisation, per-frame loudness.

Decoding goes through ffmpeg (any container/codec it reads, including a video's audio track);
command lines are built by pure ``*_args`` functions and run without a shell.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heygem_core.errors import NoAudio, UnsupportedMedia
from heygem_core.media import (
    FFMPEG,
    QUIET_ARGS,
    AudioStreamInfo,
    atomic_output,
    probe_audio,
    run_tool,
    stderr_tail,
)

# Loudness at or below the R128 absolute gate means nothing to normalise.
SILENCE_LUFS = -70.0
MIN_MEASURABLE_S = 0.4
TRUE_PEAK_DBTP = -1.5
FLOOR_DB = -80.0


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is not a bool
class Audio:
    pcm: np.ndarray  # mono float32 in [-1, 1]
    sr: int

    def __post_init__(self) -> None:
        if self.pcm.ndim != 1 or self.pcm.dtype != np.float32:
            raise ValueError(f"Audio.pcm must be 1-D float32, got {self.pcm.shape} {self.pcm.dtype}")
        if self.sr <= 0:
            raise ValueError(f"Audio.sr must be positive, got {self.sr}")

    @property
    def duration(self) -> float:
        return len(self.pcm) / self.sr


# --------------------------------------------------------------------------- decoding


def _downmix_filter(channels: int, sr: int) -> str:
    """Resample and average all channels. (``-ac 1`` would sum stereo at -3 dB each, which can
    exceed full scale.)"""
    resample = f"aresample={sr}"
    if channels <= 1:
        return resample
    mix = "+".join(f"c{i}" for i in range(channels))
    return f"{resample},pan=mono|c0<{mix}"


def decode_audio_args(path: str | Path, sr: int, channels: int) -> list[str]:
    """First audio stream of ``path`` as mono float32 little-endian PCM at ``sr`` on stdout."""
    # -ac 1 only acts when the channel count was unknown (0) and pan was left out.
    return [
        FFMPEG,
        *QUIET_ARGS,
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-af",
        _downmix_filter(channels, sr),
        "-ac",
        "1",
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]


def load_audio(path: str | Path, sr: int = 16000, channels: int | None = None) -> Audio:
    """Decode, downmix and resample the first audio stream of any file ffmpeg reads. With
    ``channels`` known (a file this package wrote) the file is not probed first."""
    if channels is None:
        info = probe_audio(path)  # MissingFile / UnsupportedMedia / NoAudio, naming the file
        path, channels = info.path, info.channels
    done = run_tool(decode_audio_args(path, sr, channels))
    if done.returncode != 0:
        raise UnsupportedMedia(f"audio cannot be decoded: {stderr_tail(done.stderr, 3)}", Path(path))
    pcm = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)  # copy: writable, native
    if pcm.size == 0:
        raise NoAudio("audio is empty (zero length)", Path(path))
    np.clip(pcm, -1.0, 1.0, out=pcm)  # resampling can overshoot full scale slightly
    return Audio(pcm=pcm, sr=sr)


# --------------------------------------------------------------------------- loudness normalisation
#
# One decode, then ITU-R BS.1770-4 / EBU R128 in numpy: integrated loudness (K-weighting,
# 400 ms blocks, absolute and relative gates), a linear gain to the target and, only where
# that gain would push peaks past TRUE_PEAK_DBTP, a look-ahead peak limiter. ffmpeg's
# two-pass loudnorm did the same job in two full decodes at 192 kHz (about 1 s per 8 s of
# speech here); this is one 48 kHz decode and a few vectorised passes.

# Bump when normalize_loudness's output for the same input and target changes.
NORMALIZE_VERSION = "1"
NORM_SR = 48000
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
# BS.1770 K-weighting at 48 kHz: a high-shelf then the RLB high-pass (biquads, b then a).
_K_SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585))
_K_RLB = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))
_LIMIT_STEP = 48  # limiter gain resolution: 1 ms
_LIMIT_LOOKAHEAD = 5  # ms: gain reaches its floor before the peak arrives
_LIMIT_RELEASE = 40  # ms: and comes back smoothly after it
_CHUNK = 10 * NORM_SR  # frames per chunk where a whole-length temporary would grow with the audio


def decode_pcm_args(path: str | Path, sr: int, channels: int) -> list[str]:
    """First audio stream as interleaved float32 at ``sr``, at most two channels."""
    return [
        FFMPEG,
        *QUIET_ARGS,
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-af",
        f"aresample={sr}",
        "-ac",
        str(min(max(channels, 1), 2)),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]


def _k_weight_power(n: int, sr: int = NORM_SR) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter at the rfft bins of an ``n``-sample block at ``sr``
    (the filter is defined at 48 kHz; at a lower rate only its response up to sr/2 counts)."""
    z = np.exp(-1j * np.pi * np.arange(n // 2 + 1) * (sr / NORM_SR) / (n / 2))
    gain = np.ones_like(z)
    for b, a in (_K_SHELF, _K_RLB):
        gain *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return np.abs(gain) ** 2


def block_loudness(pcm: np.ndarray, sr: int = NORM_SR) -> np.ndarray:
    """Mean-square K-weighted power of every 400 ms block (hop 100 ms), summed over channels.

    The filter is applied as a power weighting of each 100 ms segment's spectrum (energy does
    not depend on phase, and the filter's impulse response is ~2 ms), and each block is the
    mean of its four segments: every sample is transformed once, not four times."""
    frames, channels = pcm.shape
    hop = sr // 10
    if frames < 4 * hop:
        return np.zeros(0)
    n_seg = frames // hop
    weight = _k_weight_power(hop, sr)
    weight[1:-1] *= 2.0  # rfft holds each non-DC, non-Nyquist bin once
    seg = np.zeros(n_seg)
    for c in range(channels):
        for i in range(0, n_seg, 1024):  # bounded memory for long files: 1024 segments at a time
            # (a channel of interleaved PCM is strided: reshaping it whole would copy it whole)
            segments = pcm[i * hop : min(i + 1024, n_seg) * hop, c].reshape(-1, hop)
            spec = np.fft.rfft(segments, axis=1)
            seg[i : i + len(segments)] += (spec.real**2 + spec.imag**2) @ weight / float(hop) ** 2
    return np.convolve(seg, np.full(4, 0.25), mode="valid")


def integrated_loudness(pcm: np.ndarray, sr: int = NORM_SR) -> float:
    """BS.1770-4 gated integrated loudness in LUFS of (frames, channels) float PCM at 48 kHz
    (or at ``sr``: then without what lies above sr/2); -inf when no block passes the absolute gate."""
    power = block_loudness(pcm, sr)
    with np.errstate(divide="ignore"):
        lufs = -0.691 + 10.0 * np.log10(power)
    kept = power[lufs > _ABSOLUTE_GATE]
    if kept.size == 0:
        return float("-inf")
    relative = -0.691 + 10.0 * np.log10(kept.mean()) + _RELATIVE_GATE
    kept = power[lufs > max(relative, _ABSOLUTE_GATE)]
    return float(-0.691 + 10.0 * np.log10(kept.mean()))


def true_peak(pcm: np.ndarray) -> float:
    """Peak level in dBTP, estimated as the larger of the sample peak and the peak of the
    half-sample points (windowed-sinc interpolation): where speech's inter-sample overs are."""
    if pcm.size == 0:
        return float("-inf")
    h = np.sinc(np.arange(-8, 8) + 0.5) * np.kaiser(16, 6.0)
    h /= h.sum()
    peak = 0.0
    # In chunks overlapping by len(h) - 1 samples, so every "valid" point is computed exactly
    # once while the temporaries (float64) stay a few MB whatever the audio's length.
    for c in range(pcm.shape[1]):
        for i in range(0, len(pcm), _CHUNK):
            x = pcm[i : i + _CHUNK + len(h) - 1, c]
            peak = max(peak, float(np.abs(x).max()))
            if len(x) >= len(h):
                peak = max(peak, float(np.abs(np.convolve(x, h, mode="valid")).max()))
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def _limit(pcm: np.ndarray, ceiling: float) -> np.ndarray:
    """Scale peaks above ``ceiling`` (linear) down, in place (returns ``pcm``), vectorised: the
    gain each 1 ms step needs is spread by a moving minimum (look-ahead and release) then
    smoothed by a shorter moving average, which never rises above what any step inside it needs."""
    frames = len(pcm)
    steps = -(-frames // _LIMIT_STEP)
    # 1.02: oversampled peaks sit a little above the samples.
    need = np.minimum(1.0, ceiling / np.maximum(_step_peaks(pcm) * 1.02, 1e-9))
    reach = _LIMIT_LOOKAHEAD + _LIMIT_RELEASE
    spread = np.pad(need, reach, mode="edge")
    spread = np.lib.stride_tricks.sliding_window_view(spread, 2 * reach + 1).min(1)
    smooth = np.convolve(
        np.pad(spread, _LIMIT_LOOKAHEAD, mode="edge"),
        np.full(2 * _LIMIT_LOOKAHEAD + 1, 1.0 / (2 * _LIMIT_LOOKAHEAD + 1)),
        mode="valid",
    )
    centres = np.arange(steps) * _LIMIT_STEP + _LIMIT_STEP / 2
    for i in range(0, frames, _CHUNK):  # in place, a chunk at a time: no full-length temporaries
        gain = np.interp(np.arange(i, min(i + _CHUNK, frames)), centres, smooth)
        pcm[i : i + _CHUNK] *= gain.astype(np.float32)[:, None]
    return pcm


def _step_peaks(pcm: np.ndarray) -> np.ndarray:
    """The largest absolute sample of every _LIMIT_STEP frames (all channels), chunk by chunk."""
    frames, channels = pcm.shape
    steps = -(-frames // _LIMIT_STEP)
    peaks = np.empty(steps, np.float32)
    per = _CHUNK // _LIMIT_STEP
    for s in range(0, steps, per):
        block = np.abs(pcm[s * _LIMIT_STEP : (s + per) * _LIMIT_STEP])
        n = -(-len(block) // _LIMIT_STEP)
        padded = np.zeros((n * _LIMIT_STEP, channels), np.float32)
        padded[: len(block)] = block
        peaks[s : s + n] = padded.reshape(n, -1).max(1)
    return peaks


def _read_pcm(info: AudioStreamInfo, sr: int) -> np.ndarray:
    channels = min(max(info.channels, 1), 2)
    done = run_tool(decode_pcm_args(info.path, sr, channels))
    if done.returncode != 0:
        raise UnsupportedMedia(f"audio cannot be decoded: {stderr_tail(done.stderr, 3)}", info.path)
    return np.frombuffer(done.stdout, dtype="<f4").reshape(-1, channels).astype(np.float32)


def _write_wav(path: Path, pcm: np.ndarray, sr: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(sr)
        for i in range(0, len(pcm), sr * 10):
            chunk = np.clip(np.rint(pcm[i : i + sr * 10] * 32767.0), -32768, 32767).astype("<i2")
            out.writeframes(chunk.tobytes())


def _unmeasurable(duration: float, loudness: float) -> str:
    """Why a track has no integrated loudness, in words."""
    if duration <= 0:
        return "audio is empty (zero length)"
    if duration < MIN_MEASURABLE_S:
        # R128 integrates 400 ms blocks: a shorter clip has no integrated loudness at all.
        return (
            f"audio is too short to measure its loudness ({duration:.2f} s, EBU R128 needs "
            f"at least {MIN_MEASURABLE_S} s)"
        )
    return f"audio is silent (integrated loudness {loudness:.1f} LUFS)"


def measure_loudness(path: str | Path) -> float:
    """Integrated loudness (LUFS) of the first audio stream of any file ffmpeg reads."""
    return integrated_loudness(_read_pcm(probe_audio(path), NORM_SR))


def normalize_loudness(path: str | Path | AudioStreamInfo, out_path: str | Path, target_lufs: float = -16.0) -> Path:
    """EBU R128 normalisation to ``target_lufs`` (linear gain, peaks held under
    TRUE_PEAK_DBTP), written atomically as a 16-bit wav at 48 kHz."""
    info = path if isinstance(path, AudioStreamInfo) else probe_audio(path)
    pcm = _read_pcm(info, NORM_SR)
    duration = len(pcm) / NORM_SR
    loudness = integrated_loudness(pcm)
    if not loudness > SILENCE_LUFS:
        raise NoAudio(_unmeasurable(duration if pcm.size else 0.0, loudness), info.path)
    pcm *= np.float32(10.0 ** ((target_lufs - loudness) / 20.0))
    ceiling = 10.0 ** (TRUE_PEAK_DBTP / 20.0)
    # Limiting lowers the loudness a little: up to two rounds of limit-then-make-up-gain win most
    # of it back, and a last limit (without make-up gain) leaves the peaks under the ceiling.
    for round_ in range(3):
        if true_peak(pcm) <= TRUE_PEAK_DBTP:
            break
        pcm = _limit(pcm, ceiling)
        short = target_lufs - integrated_loudness(pcm) if round_ < 2 else 0.0
        if short > 0.1:
            pcm *= np.float32(10.0 ** (short / 20.0))
    with atomic_output(out_path) as tmp:
        _write_wav(Path(tmp), pcm, NORM_SR)
    return Path(out_path)


# --------------------------------------------------------------------------- what the aligners hear

ANALYSIS_SR = 16000
# The aligners were tuned on audio at this loudness (their noise floor and pocketsphinx's
# 16-bit input are absolute levels): what they hear is brought to it, whatever the output's target.
ANALYSIS_LUFS = -16.0


def analysis_audio(audio: str | Path | AudioStreamInfo) -> Audio:
    """The new audio as the aligners hear it: 16 kHz mono at ANALYSIS_LUFS, by a plain gain
    (a peak past full scale is clipped: nobody hears this audio, and a single click must not
    keep the rest quiet). Made from the audio as given, not from the normalised file, so it is
    worked on beside the normalisation."""
    if isinstance(audio, AudioStreamInfo):
        clip = load_audio(audio.path, ANALYSIS_SR, channels=audio.channels)
    else:
        clip = load_audio(audio, ANALYSIS_SR)
    loudness = integrated_loudness(clip.pcm[:, None], ANALYSIS_SR)
    if not loudness > SILENCE_LUFS:
        return clip  # nothing to bring up (the normalisation says what is wrong with it)
    pcm = clip.pcm * np.float32(10.0 ** ((ANALYSIS_LUFS - loudness) / 20.0))
    np.clip(pcm, -1.0, 1.0, out=pcm)
    return Audio(pcm=pcm, sr=ANALYSIS_SR)


# --------------------------------------------------------------------------- loudness per frame


def loudness_envelope(
    audio: Audio, fps: float, n_frames: int | None = None, window_s: float | None = None
) -> np.ndarray:
    """Loudness in dBFS per video frame: RMS over a window (default one frame period) centred on
    each frame's timestamp i/fps, floored at -80 dB. Length ``n_frames``, default
    ceil(duration * fps); frames past the end of the audio read as the floor."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if n_frames is None:
        # round first: 8.0 s * 25 fps can come out as 200.00000000003
        n_frames = math.ceil(round(audio.duration * fps, 6))
    window = (1.0 / fps) if window_s is None else window_s
    half = max(1, int(round(window * audio.sr / 2)))
    centres = np.round(np.arange(n_frames) * (audio.sr / fps)).astype(np.int64)
    lo = np.clip(centres - half, 0, len(audio.pcm))
    hi = np.clip(centres + half, 0, len(audio.pcm))
    # Running sum of squares: every window in O(1), float64 so long files keep precision.
    energy = np.concatenate(([0.0], np.cumsum(audio.pcm.astype(np.float64) ** 2)))
    counts = hi - lo
    mean_sq = np.divide(energy[hi] - energy[lo], counts, out=np.zeros(n_frames), where=counts > 0)
    floor_power = 10.0 ** (FLOOR_DB / 10.0)
    return 10.0 * np.log10(np.maximum(mean_sq, floor_power))


def is_silent(audio: Audio, threshold_db: float = -50.0) -> bool:
    """True when no 50 ms stretch of the audio is louder than ``threshold_db`` dBFS (RMS)."""
    if audio.pcm.size == 0:
        return True
    return bool(loudness_envelope(audio, fps=20.0).max() < threshold_db)
