"""Audio checks and frame features (numpy/scipy only), all on a 10 ms hop."""

from __future__ import annotations

from math import gcd

import numpy as np

from ..errors import InputError, NoAudio

FEATURE_RATE = 16000  # every analysis runs at 16 kHz: sphinx's rate, and speech lives below 8 kHz
HOP_S = 0.010
WIN_S = 0.025


def check_pcm(pcm: np.ndarray, sr: int) -> np.ndarray:
    """Validate caller audio; return it as contiguous float32 mono."""
    if sr <= 0:
        raise InputError(f"sample rate must be positive, got {sr}")
    array = np.asarray(pcm)
    if array.ndim != 1:
        raise InputError(f"audio must be mono (1-D), got an array of shape {array.shape}")
    if array.size == 0:
        raise NoAudio("the audio is empty (0 samples)")
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"audio must be float samples in [-1, 1], got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise InputError("audio contains NaN or infinite samples")
    return np.ascontiguousarray(array, dtype=np.float32)


def resample(pcm: np.ndarray, sr: int, target: int = FEATURE_RATE) -> np.ndarray:
    if sr == target:
        return pcm.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # rarely needed; its import is slow

    g = gcd(int(sr), int(target))
    return resample_poly(pcm, target // g, int(sr) // g).astype(np.float32)


def frames(pcm: np.ndarray, sr: int, hop_s: float = HOP_S, win_s: float = WIN_S) -> np.ndarray:
    """Frames centred on t = k * hop (k = 0 .. ceil(len / hop) - 1), zero padded at the ends."""
    hop, win = int(round(hop_s * sr)), int(round(win_s * sr))
    n_frames = max(1, int(np.ceil(len(pcm) / hop)))
    padded = np.pad(pcm, (win // 2, win + hop))
    view = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]
    return view[:n_frames]


# Frames worked on at once: the frames are a view of the audio, but their float64 squares or
# spectra are not. A whole 10-minute lecture's spectra at once took ~500 MB.
_CHUNK_FRAMES = 4096


def _by_chunks(f: np.ndarray, work, width: int, dtype) -> np.ndarray:
    out = np.empty((len(f), width), dtype)
    for a in range(0, len(f), _CHUNK_FRAMES):
        out[a : a + _CHUNK_FRAMES] = work(f[a : a + _CHUNK_FRAMES])
    return out


def energy_db(pcm: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame RMS level in dBFS (floor -100)."""
    power = _by_chunks(frames(pcm, sr), lambda b: np.mean(b.astype(np.float64) ** 2, axis=1)[:, None], 1, np.float64)[
        :, 0
    ]
    return 10.0 * np.log10(power + 1e-10)


def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    def hz_to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def mel_to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(pcm: np.ndarray, sr: int, n_mels: int = 40) -> np.ndarray:
    """(frames, n_mels) log power in 80..7600 Hz.

    Floored 70 dB below the loudest band so that digital silence (TTS) and room tone
    (recordings) both look like "quiet" instead of the former being a huge outlier.
    """
    window = np.hamming(int(round(WIN_S * sr)))[None, :].astype(np.float32)
    n_fft = 1 << int(np.ceil(np.log2(window.shape[1])))
    bank = _mel_filterbank(sr, n_fft, n_mels, 80.0, min(7600.0, sr / 2 - 1))
    mel = _by_chunks(
        frames(pcm, sr), lambda b: (np.abs(np.fft.rfft(b * window, n=n_fft, axis=1)) ** 2) @ bank.T, n_mels, np.float64
    )
    return np.log(mel + max(float(mel.max()) * 1e-7, 1e-12)).astype(np.float32)


def mfcc(pcm: np.ndarray, sr: int, n_coeffs: int = 13) -> np.ndarray:
    return _mfcc(log_mel(pcm, sr), n_coeffs)


def deltas(feats: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression slope over +-width frames (the HTK delta)."""
    padded = np.pad(feats, ((width, width), (0, 0)), mode="edge")
    n = len(feats)
    num = sum(k * (padded[width + k : width + k + n] - padded[width - k : width - k + n]) for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def speech_bounds(pcm: np.ndarray, sr: int, margin_s: float = 0.03) -> tuple[float, float] | None:
    """(start, end) in seconds of the part that is louder than the background, or None.

    The threshold sits between the noise floor (10th percentile level) and the peak, so it
    works both on clean TTS (floor -100 dB) and on recordings with hiss or room tone.
    """
    level = energy_db(pcm, sr)
    floor, peak = np.percentile(level, 10), np.percentile(level, 99)
    if peak < -60.0 or peak - floor < 10.0:
        return None
    threshold = max(floor + 0.2 * (peak - floor), peak - 45.0)
    loud = np.flatnonzero(level > threshold)
    start = max(0.0, float(loud[0]) * HOP_S - margin_s)
    end = min(len(pcm) / sr, float(loud[-1] + 1) * HOP_S + margin_s)
    return start, end


def _mfcc(log_mel_frames: np.ndarray, n_coeffs: int) -> np.ndarray:
    """The first ``n_coeffs`` of the orthonormal DCT-II of each frame (scipy.fft.dct with
    norm="ortho"), as one small matrix product: no scipy import at start-up."""
    n = log_mel_frames.shape[1]
    k = np.arange(n_coeffs)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    basis[0] /= np.sqrt(2.0)
    return (log_mel_frames @ basis[: min(n_coeffs, n)].T).astype(log_mel_frames.dtype)
