"""Audio: decoding to mono float PCM, EBU R128 loudness normalisation, per-frame loudness.

Decoding goes through ffmpeg (any container/codec it reads, including a video's audio track);
command lines are built by pure ``*_args`` functions and run without a shell.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heygem_core.errors import NoAudio, ProcessingError, UnsupportedMedia
from heygem_core.media import (
    FFMPEG, QUIET_ARGS, AudioStreamInfo, atomic_output, probe_audio, run_tool, stderr_tail,
)

# Loudness at or below the R128 absolute gate means nothing to normalise.
SILENCE_LUFS = -70.0
MIN_MEASURABLE_S = 0.4
TRUE_PEAK_DBTP = -1.5
# Target loudness range; raised to the measured range so loudnorm can stay linear.
MIN_LRA = 11.0
MAX_LRA = 50.0
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
    return [FFMPEG, *QUIET_ARGS, "-i", str(path), "-map", "0:a:0", "-af", _downmix_filter(channels, sr),
            "-ac", "1", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]


def load_audio(path: str | Path, sr: int = 16000) -> Audio:
    """Decode, downmix and resample the first audio stream of any file ffmpeg reads."""
    info = probe_audio(path)  # MissingFile / UnsupportedMedia / NoAudio, naming the file
    done = run_tool(decode_audio_args(info.path, sr, info.channels))
    if done.returncode != 0:
        raise UnsupportedMedia(f"audio cannot be decoded: {stderr_tail(done.stderr, 3)}", info.path)
    pcm = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)  # copy: writable, native
    if pcm.size == 0:
        raise NoAudio("audio is empty (zero length)", info.path)
    np.clip(pcm, -1.0, 1.0, out=pcm)  # resampling can overshoot full scale slightly
    return Audio(pcm=pcm, sr=sr)


# --------------------------------------------------------------------------- loudness normalisation


def loudnorm_measure_args(path: str | Path, target_lufs: float = -16.0) -> list[str]:
    """First loudnorm pass: analyse only, statistics as JSON on stderr."""
    return [FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-i", str(path),
            "-map", "0:a:0", "-af",
            f"loudnorm=I={target_lufs}:TP={TRUE_PEAK_DBTP}:LRA={MIN_LRA}:print_format=json",
            "-f", "null", "-"]


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def loudnorm_apply_args(path: str | Path, out_path: str | Path, measured: dict,
                        target_lufs: float = -16.0, sr: int = 48000) -> list[str]:
    """Second loudnorm pass: apply the gain found by the first, linearly where loudnorm can,
    and write 16-bit PCM wav at ``sr`` (loudnorm itself works at 192 kHz)."""
    lra = _clamp(float(measured["input_lra"]), MIN_LRA, MAX_LRA)
    # Option ranges of loudnorm; out-of-range values would make ffmpeg refuse the filter.
    params = {
        "I": target_lufs, "TP": TRUE_PEAK_DBTP, "LRA": lra,
        "measured_I": _clamp(float(measured["input_i"]), -99.0, 0.0),
        "measured_LRA": _clamp(float(measured["input_lra"]), 0.0, 99.0),
        "measured_TP": _clamp(float(measured["input_tp"]), -99.0, 99.0),
        "measured_thresh": _clamp(float(measured["input_thresh"]), -99.0, 0.0),
        "offset": _clamp(float(measured["target_offset"]), -99.0, 99.0),
    }
    spec = ":".join(f"{k}={v:.2f}" for k, v in params.items())
    return [FFMPEG, *QUIET_ARGS, "-y", "-i", str(path), "-map", "0:a:0",
            "-af", f"loudnorm={spec}:linear=true:print_format=none",
            "-ar", str(sr), "-c:a", "pcm_s16le", "-f", "wav", str(out_path)]


def _parse_loudnorm_json(stderr: str) -> dict:
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if match is None:
        raise ValueError("no loudnorm statistics in ffmpeg output")
    return json.loads(match.group(0))


def measure_loudness(path: str | Path, target_lufs: float = -16.0) -> dict:
    """loudnorm's first-pass statistics (input_i, input_tp, input_lra, input_thresh, target_offset)."""
    return _measure(probe_audio(path), target_lufs)


def _measure(info: AudioStreamInfo, target_lufs: float) -> dict:
    done = run_tool(loudnorm_measure_args(info.path, target_lufs))
    if done.returncode != 0:
        raise UnsupportedMedia(f"audio cannot be decoded: {stderr_tail(done.stderr, 3)}", info.path)
    try:
        return _parse_loudnorm_json(done.stderr.decode("utf-8", "replace"))
    except ValueError as err:
        raise ProcessingError(f"{info.path}: could not read the loudness measurement") from err


def _unmeasurable(duration: float, loudness: float) -> str:
    """Why a track has no integrated loudness, in words."""
    if duration <= 0:
        return "audio is empty (zero length)"
    if duration < MIN_MEASURABLE_S:
        # R128 integrates 400 ms blocks: a shorter clip has no integrated loudness at all.
        return (f"audio is too short to measure its loudness ({duration:.2f} s, EBU R128 needs "
                f"at least {MIN_MEASURABLE_S} s)")
    return f"audio is silent (integrated loudness {loudness:.1f} LUFS)"


def normalize_loudness(path: str | Path, out_path: str | Path, target_lufs: float = -16.0,
                       sr: int = 48000) -> Path:
    """Two-pass EBU R128 normalisation to ``target_lufs``, written atomically as a 16-bit wav."""
    info = probe_audio(path)
    measured = _measure(info, target_lufs)
    loudness = float(measured["input_i"])  # float() reads "-inf" too
    if not loudness > SILENCE_LUFS:
        raise NoAudio(_unmeasurable(info.duration, loudness), info.path)
    with atomic_output(out_path) as tmp:
        done = run_tool(loudnorm_apply_args(info.path, tmp, measured, target_lufs, sr))
        if done.returncode != 0:
            raise ProcessingError(f"{out_path}: loudness normalisation of {info.path} failed:\n"
                                  f"{stderr_tail(done.stderr)}")
    return Path(out_path)


# --------------------------------------------------------------------------- loudness per frame


def loudness_envelope(audio: Audio, fps: float, n_frames: int | None = None,
                      window_s: float | None = None) -> np.ndarray:
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
