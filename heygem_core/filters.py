"""Small 1-D filters in numpy, each equal to a scipy one (the tests hold them to it), and the
runs of a boolean series.

Why not scipy: importing scipy.signal costs ~1 s of CPU (it pulls in scipy.stats), which was
a fifth of a short job on a cached track. The filters a job needs are a few lines each.
"""

from __future__ import annotations

import numpy as np


def gaussian_smooth(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter of a 1-D series, edges held (scipy.ndimage.gaussian_filter1d with
    mode="nearest")."""
    x = np.asarray(x, np.float64)
    radius = int(truncate * sigma + 0.5)
    if radius < 1 or x.size == 0:
        return x.copy()
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, radius, mode="edge"), k / k.sum(), mode="valid")


def moving_max(x: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over a centred window of 2 * radius + 1, mirrored at the edges
    (scipy.ndimage.maximum_filter1d's default "reflect" mode)."""
    if x.size == 0:
        return x.copy()
    padded = np.pad(x, radius, mode="symmetric")
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1).max(axis=1)


def butter_highpass(x: np.ndarray, order: int, cutoff_hz: float, sr: int) -> np.ndarray:
    """Causal Butterworth high-pass (scipy.signal.sosfilt of butter(order, cutoff, "highpass")).

    Applied as a convolution with the filter's impulse response, taken until it has decayed
    by 1e-13 (set by the largest pole radius): a convolution is vectorised where a
    recursion is not."""
    x = np.asarray(x, np.float64)
    gain, poles = _butter_highpass_zp(order, cutoff_hz, sr)
    n = int(np.ceil(np.log(1e-13) / np.log(np.abs(poles).max()))) + order
    h = np.zeros(min(n, max(x.size, 1)))
    h[0] = gain
    # One section per conjugate pole pair (and one for a real pole): a high-order
    # polynomial loses precision when poles sit near the unit circle, sections do not.
    upper = poles[poles.imag > 1e-12]
    real = poles[np.abs(poles.imag) <= 1e-12].real
    for pole in upper:
        h = _recurse(h, [1.0, -2.0, 1.0], [1.0, -2.0 * pole.real, abs(pole) ** 2])
    for pole in real:
        h = _recurse(h, [1.0, -1.0], [1.0, -pole])
    return np.convolve(x, h)[: x.size]


def _butter_highpass_zp(order: int, cutoff_hz: float, sr: int) -> tuple[float, np.ndarray]:
    """Digital Butterworth high-pass by the bilinear transform with pre-warping (as
    scipy.signal.butter): gain and poles; its zeros are all at z = 1."""
    if not 0 < cutoff_hz < sr / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie between 0 and {sr / 2} Hz")
    k = np.arange(order)
    prototype = np.exp(1j * np.pi * (2 * k + order + 1) / (2 * order))  # unit-cutoff low-pass poles
    fs2 = 2.0 * sr
    warped = fs2 * np.tan(np.pi * cutoff_hz / sr)
    poles = warped / prototype  # low-pass → high-pass: s → warped / s, zeros all at s = 0
    gain = float(np.real(fs2**order / np.prod(fs2 - poles)))  # prototype gain 1: prod(-prototype) = 1
    return gain, (fs2 + poles) / (fs2 - poles)


def _recurse(x: np.ndarray, b: list[float], a: list[float]) -> np.ndarray:
    """Direct-form IIR of a short signal (a[0] = 1): a Python loop, fine for a few thousand
    samples of impulse response."""
    y = np.zeros_like(x)
    for i in range(x.size):
        acc = sum(b[j] * x[i - j] for j in range(len(b)) if i >= j)
        acc -= sum(a[j] * y[i - j] for j in range(1, len(a)) if i >= j)
        y[i] = acc
    return y


def savgol_smooth(x: np.ndarray, window: int, polyorder: int = 2) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0 (scipy.signal.savgol_filter(x, window,
    polyorder, axis=0), mode "interp": the first and last half-windows take the value of
    the polynomial fitted to the first and last full window)."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    if window % 2 == 0 or window <= polyorder or window > n:
        raise ValueError(f"window {window} must be odd, above the order {polyorder} and at most {n}")
    half = window // 2
    offsets = np.arange(window, dtype=np.float64) - half
    vander = offsets[:, None] ** np.arange(polyorder + 1)
    projection = vander @ np.linalg.pinv(vander)  # window → its least-squares polynomial, sampled
    flat = x.reshape(n, -1)
    out = np.empty_like(flat)
    windows = np.lib.stride_tricks.sliding_window_view(flat, window, axis=0)  # (n - window + 1, k, window)
    out[half : n - half] = windows @ projection[half]
    out[:half] = projection[:half] @ flat[:window]
    out[n - half :] = projection[half + 1 :] @ flat[n - window :]
    return out.reshape(x.shape)


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[first, stop) index ranges where ``mask`` is True, in order."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
