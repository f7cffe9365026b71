"""What the network hears: log-mel frames at 100 Hz, each band normalised over the clip.

Normalising per clip takes out the microphone, the room and the voice's overall colour, so a
voice the network never heard starts nearer the ones it did; what is left is how the spectrum
moves, which is what the mouth does.
"""

from __future__ import annotations

import numpy as np

from ..phonetics.features import FEATURE_RATE, HOP_S, energy_db, log_mel, resample

N_MELS = 40
RATE = 1.0 / HOP_S  # feature frames per second
N_FEATURES = N_MELS + 1  # the bands and the overall level


def clip_features(pcm: np.ndarray, sr: int) -> np.ndarray:
    """(frames, N_FEATURES) float32 at RATE Hz of mono float audio at ``sr``."""
    audio = resample(np.asarray(pcm, np.float32), sr, FEATURE_RATE)
    mel = log_mel(audio, FEATURE_RATE, N_MELS)
    level = energy_db(audio, FEATURE_RATE)[:, None] / 10.0
    feats = np.concatenate([mel, level[: len(mel)]], axis=1).astype(np.float64)
    return normalise(feats).astype(np.float32)


def normalise(feats: np.ndarray) -> np.ndarray:
    """Each column to zero mean and unit spread over the clip's louder half, so that a clip
    mostly silent and one of running speech are scaled alike."""
    level = feats[:, -1]
    speech = level >= np.median(level)
    if speech.sum() < 10:
        speech = np.ones(len(feats), bool)
    mean = feats[speech].mean(0)
    std = feats[speech].std(0) + 1e-3
    return np.clip((feats - mean) / std, -6.0, 6.0)


def at_times(series: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Values of a RATE Hz series (frames x ...) at ``times`` seconds, linearly interpolated
    (frame k stands for time k / RATE)."""
    pos = np.clip(np.asarray(times, np.float64) * RATE, 0, len(series) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(series) - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (series.ndim - 1))
    return series[lo] * (1 - w) + series[hi] * w
