"""Stop closures found from loudness alone, and whether their burst sounds bilabial.

A plosive is a short near-silence (the closure) ended by a burst. Where the lips made the
closure (p, b) the burst is weak and carries little high-frequency energy; tongue-tip bursts
(t, d) are strong and dominated by energy above 3.5 kHz, velar ones (k, g) are strong with a
mid-frequency peak (Stevens & Blumstein's burst templates). These cues are language-blind,
so they help the English phone recogniser on any language; it misses many p/b (it hears
them as TH, K, G or folds them into vowels).

The place cues are statistical, not a classifier: on real English roughly half of the
closures called labial here are t, k or f closures (numbers in measure.py's report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..filters import butter_highpass, moving_max, true_runs
from .features import HOP_S, energy_db

# Tuned on English only (espeak voices f3/m3/klatt/f1 and the two English fixtures against a
# pocketsphinx forced alignment); German and Spanish are held out.
_DIP_DB = 18.0  # closure is this far below the loudest frame within +-_CONTEXT_FRAMES
_CONTEXT_FRAMES = 15
_MIN_FRAMES, _MAX_FRAMES = 2, 18  # 20..180 ms: shorter is noise, longer is a pause
_BURST_RISE_DB = 12.0  # the 30 ms after the closure must be this much louder than it
_SPEECH_BEFORE_DB = 10.0  # speech near full level just before: not a pause boundary
# A labial burst is weak (measured medians: espeak -26 dB, real English -28 dB; coronal -13 and
# -19, velar -14 and -22) and not dominated by high frequencies (centroid medians: labial 1.5
# kHz, coronal 3.5 kHz). The level does most of the work; real-speech centroids overlap a lot.
_LABIAL_MAX_CENTROID_HZ = 2500.0
_LABIAL_MAX_BURST_DB = -18.0
_BURST_SEARCH_S = (-0.03, 0.03)  # where to look for the burst onset around the dip's end
_BURST_LENGTH_S = 0.010  # the burst proper; later the vowel dominates the spectrum
_BURST_HIGHPASS_HZ = 1500.0
_BURST_ONSET_DB = 10.0


@dataclass(frozen=True)
class Closure:
    start: float  # onset of the near-silence, seconds
    release: float  # the burst, seconds
    burst_centroid_hz: float
    burst_level_db: float  # burst's high-frequency level relative to the vowel after it

    @property
    def labial(self) -> bool:
        return self.burst_centroid_hz < _LABIAL_MAX_CENTROID_HZ and self.burst_level_db < _LABIAL_MAX_BURST_DB


def find_closures(pcm: np.ndarray, sr: int) -> list[Closure]:
    """Every closure-then-burst in ``pcm`` (mono float)."""
    level = energy_db(pcm, sr)
    local_peak = moving_max(level, _CONTEXT_FRAMES)
    low = level < local_peak - _DIP_DB
    highpassed = butter_highpass(pcm, 4, _BURST_HIGHPASS_HZ, sr)
    found = []
    for first, stop in true_runs(low):
        if not _is_closure(level, local_peak, first, stop):
            continue
        release = _burst_onset(highpassed, sr, stop * HOP_S)
        found.append(
            Closure(
                first * HOP_S,
                release,
                _burst_centroid(pcm, sr, release),
                _relative_burst_level(pcm, highpassed, sr, release),
            )
        )
    return found


def _is_closure(level: np.ndarray, local_peak: np.ndarray, first: int, stop: int) -> bool:
    if not (_MIN_FRAMES <= stop - first <= _MAX_FRAMES) or first == 0 or stop >= len(level):
        return False
    before = level[max(0, first - _CONTEXT_FRAMES) : first]
    if before.max() < local_peak[first] - _SPEECH_BEFORE_DB:
        return False
    after = level[stop : stop + 3]
    return bool(after.max() > level[first:stop].mean() + _BURST_RISE_DB)


def _burst_onset(highpassed: np.ndarray, sr: int, dip_end: float) -> float:
    """Time the high-frequency energy jumps out of the closure (2 ms resolution).

    The 10 ms frame grid puts the dip's end up to a frame off; the burst spectrum is only
    informative in its first few ms, so locate it on the high-passed signal.
    """
    a = max(0, int((dip_end + _BURST_SEARCH_S[0]) * sr))
    b = min(len(highpassed), int((dip_end + _BURST_SEARCH_S[1]) * sr))
    window = max(1, int(0.002 * sr))
    if b - a <= 2 * window:
        return dip_end
    power = np.convolve(highpassed[a:b].astype(np.float64) ** 2, np.ones(window) / window, "same")
    level = 10.0 * np.log10(power + 1e-12)
    closure_level = np.median(level[: max(1, int(-_BURST_SEARCH_S[0] * sr) - window)])
    rising = np.flatnonzero(level > closure_level + _BURST_ONSET_DB)
    return (a + rising[0]) / sr if len(rising) else dip_end


def _relative_burst_level(pcm: np.ndarray, highpassed: np.ndarray, sr: int, release: float) -> float:
    """dB of the burst's high-passed first 10 ms against the loudest 10 ms of the next 100 ms.

    Lips release a weak burst; tongue tip and body release strong ones.
    """
    n = int(_BURST_LENGTH_S * sr)
    at = int(release * sr)
    burst = highpassed[at : at + n].astype(np.float64)
    after = pcm[at + n : at + 11 * n].astype(np.float64)
    if len(burst) < n or len(after) < n:
        return 0.0
    vowel = max(np.mean(after[k : k + n] ** 2) for k in range(0, len(after) - n + 1, n // 2))
    return float(10.0 * np.log10((np.mean(burst**2) + 1e-12) / (vowel + 1e-12)))


def _burst_centroid(pcm: np.ndarray, sr: int, release: float) -> float:
    """Spectral centroid (above 500 Hz, to ignore the voice bar) of the burst's first 10 ms."""
    a = max(0, int((release - 0.001) * sr))
    b = min(len(pcm), a + int(_BURST_LENGTH_S * sr))
    if b - a < 16:
        return float("inf")
    segment = pcm[a:b].astype(np.float64) * np.hanning(b - a)
    power = np.abs(np.fft.rfft(segment, 512)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / sr)
    band = freqs >= 500.0
    total = power[band].sum()
    return float((power[band] * freqs[band]).sum() / total) if total > 0 else float("inf")
