"""Scripted aligner: the transcript is known, so synthesize it and warp it onto the recording.

espeak-ng speaks the transcript and tells us exactly when each of its phones starts. DTW
between the two spectral sequences then says which instant of the recording matches which
instant of the synthesized speech; carrying espeak's boundaries through that map gives the
phones of the recording. Leading and trailing silence is cut from both sides first because
DTW must pin the two starts and the two ends together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import espeak, timeline
from .dtw import dtw_path
from .features import FEATURE_RATE, HOP_S, check_pcm, deltas, mfcc, resample, speech_bounds
from .types import Phone

# How far (fraction of the utterance, floor/ceiling in frames) the warp may stray from a
# uniform stretch: wide enough for pauses the recording has and espeak has not. The ceiling
# (15 s) bounds memory: one byte per frame pair in the band, 180 MB for a 10-minute take.
_BAND_FRACTION = 0.25
_BAND_MIN_FRAMES = 150
_BAND_MAX_FRAMES = 1500
_N_CEPSTRA = 8


def align_scripted(pcm: np.ndarray, sr: int, transcript: str, language: str = "en") -> list[Phone]:
    """Phones of the transcript, timed on ``pcm``; labels are espeak mnemonics."""
    real = resample(check_pcm(pcm, sr), sr)
    duration = len(pcm) / sr
    # Synthesize first so a bad language is reported even for silent audio.
    synth, synth_sr, synth_phones = espeak.synthesize(transcript, language)
    bounds = speech_bounds(real, FEATURE_RATE)
    if bounds is None:
        return timeline.tidy([], duration)
    synth = resample(synth, synth_sr)
    synth_bounds = speech_bounds(synth, FEATURE_RATE) or (0.0, len(synth) / FEATURE_RATE)

    real_part = _crop(real, bounds)
    synth_part = _crop(synth, synth_bounds)
    band = _band(len(real_part), len(synth_part))
    path = dtw_path(_features(real_part), _features(synth_part), band)
    warp = _synth_to_real_time(path, len(synth_part) / FEATURE_RATE, len(real_part) / FEATURE_RATE)
    local = timeline.shift(synth_phones, -synth_bounds[0])
    mapped = [Phone(warp(p.start), warp(p.end), p.label, p.viseme) for p in local]
    return timeline.tidy(timeline.shift(mapped, bounds[0]), duration)


def _crop(pcm: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    start, end = (int(round(t * FEATURE_RATE)) for t in bounds)
    return pcm[start:end]


def _features(pcm: np.ndarray) -> np.ndarray:
    # Only the first 8 cepstra (c0..c7): the coarse spectral envelope is what two different
    # voices share; higher cepstra carry speaker detail. Measured on espeak voice pairs
    # (tests/heygem_core/phonetics/measure.py): 13 cepstra gave 0.93 bilabial recall and
    # 20 ms mean boundary error, 8 gave 1.00 and 6 ms. Per-utterance mean/variance
    # normalisation removes loudness and channel offsets.
    cep = mfcc(pcm, FEATURE_RATE, n_coeffs=_N_CEPSTRA)
    feats = np.hstack([cep, deltas(cep)])
    return (feats - feats.mean(0)) / (feats.std(0) + 1e-6)


def _band(n_real_samples: int, n_synth_samples: int) -> int:
    frames = max(n_real_samples, n_synth_samples) / (HOP_S * FEATURE_RATE)
    return int(np.clip(_BAND_FRACTION * frames, _BAND_MIN_FRAMES, _BAND_MAX_FRAMES))


def _synth_to_real_time(path: np.ndarray, synth_duration: float, real_duration: float) -> Callable[[float], float]:
    """Piecewise-linear map from synthesized-audio seconds to recording seconds.

    Where the path runs vertically (several recording frames on one synthesized frame, e.g.
    a pause only the speaker made) the synthesized frame maps to the middle of the run.
    """
    real_idx, synth_idx = path[:, 0].astype(np.float64), path[:, 1]
    counts = np.bincount(synth_idx)
    mean_real = np.bincount(synth_idx, weights=real_idx) / np.maximum(counts, 1)
    synth_frames = np.flatnonzero(counts)
    # Frame k is centred on k*hop; the two ends are pinned so nothing falls off either side.
    xs = np.concatenate([[0.0], synth_frames * HOP_S, [synth_duration]])
    ys = np.concatenate([[0.0], mean_real[synth_frames] * HOP_S, [real_duration]])
    ys = np.maximum.accumulate(np.minimum(ys, real_duration))

    def warp(t: float) -> float:
        return float(np.interp(t, xs, ys))

    return warp
