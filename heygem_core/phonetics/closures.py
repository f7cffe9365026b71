"""Stop closures found from loudness alone, and whether their burst sounds bilabial.

A plosive is a short near-silence (the closure) ended by a burst. Where the lips made the
closure (p, b) the burst is weak and its spectrum falls with frequency (energy below ~1.5
kHz); tongue-tip bursts (t, d) are dominated by energy above 3.5 kHz, velar ones (k, g) by a
mid-frequency peak (Stevens & Blumstein's burst templates). Both cues are language-blind, so
they help the English phone recogniser on any language; it misses many p/b (it hears them
as TH, K, G or folds them into vowels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from .features import HOP_S, energy_db

# Tuned on English espeak voices only (f3, m3, klatt, default); German and Spanish held out.
_DIP_DB = 18.0  # closure is this far below the loudest frame within +-_CONTEXT_FRAMES
_CONTEXT_FRAMES = 15
_MIN_FRAMES, _MAX_FRAMES = 2, 18  # 20..180 ms: shorter is noise, longer is a pause
_BURST_RISE_DB = 12.0  # the 30 ms after the closure must be this much louder than it
_SPEECH_BEFORE_DB = 10.0  # speech near full level just before: not a pause boundary
_LABIAL_MAX_CENTROID_HZ = 1600.0
_BURST_WINDOW_S = (-0.005, 0.020)  # around the release


@dataclass(frozen=True)
class Closure:
    start: float  # onset of the near-silence, seconds
    release: float  # the burst, seconds
    burst_centroid_hz: float

    @property
    def labial(self) -> bool:
        return self.burst_centroid_hz < _LABIAL_MAX_CENTROID_HZ


def find_closures(pcm: np.ndarray, sr: int) -> list[Closure]:
    """Every closure-then-burst in ``pcm`` (mono float)."""
    level = energy_db(pcm, sr)
    local_peak = maximum_filter1d(level, 2 * _CONTEXT_FRAMES + 1)
    low = level < local_peak - _DIP_DB
    found = []
    for first, stop in _runs(low):
        if not _is_closure(level, local_peak, first, stop):
            continue
        release = stop * HOP_S
        found.append(Closure(first * HOP_S, release, _burst_centroid(pcm, sr, release)))
    return found


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[first, stop) index ranges where mask is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _is_closure(level: np.ndarray, local_peak: np.ndarray, first: int, stop: int) -> bool:
    if not (_MIN_FRAMES <= stop - first <= _MAX_FRAMES) or first == 0 or stop >= len(level):
        return False
    before = level[max(0, first - _CONTEXT_FRAMES) : first]
    if before.max() < local_peak[first] - _SPEECH_BEFORE_DB:
        return False
    after = level[stop : stop + 3]
    return bool(after.max() > level[first:stop].mean() + _BURST_RISE_DB)


def _burst_centroid(pcm: np.ndarray, sr: int, release: float) -> float:
    a = max(0, int((release + _BURST_WINDOW_S[0]) * sr))
    b = min(len(pcm), int((release + _BURST_WINDOW_S[1]) * sr))
    if b - a < 16:
        return float("inf")
    segment = pcm[a:b].astype(np.float64) * np.hanning(b - a)
    power = np.abs(np.fft.rfft(segment, 512)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / sr)
    total = power.sum()
    return float((power * freqs).sum() / total) if total > 0 else float("inf")
