"""Audio -> the mouth the network predicts -> a mouth plan the engines follow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..phonetics.types import VISEMES
from ..plan import GAP_OPENING, MouthPlan, build_plan, pause_frames, relative_loudness
from . import features, net

# The network regresses towards the mean (an unsure frame is half open); the plan stretches
# its opening over the clip so the speaker's own range is used: the lower STRETCH_LOW
# percentile of the clip's speech maps to 0, the upper STRETCH_HIGH to 1.
STRETCH_LOW, STRETCH_HIGH = 5.0, 95.0
# A frame the network is this sure of being closed is drawn closed.
CLOSED_P = 0.5
# With a transcript, the plan's opening is this much the network's (the rest the phones').
SCRIPTED_SHARE = 0.5


@dataclass(frozen=True)
class MouthPrediction:
    """The network's outputs at 100 Hz."""

    opening: np.ndarray  # (T,) relative 0..OPEN_MAX
    width: np.ndarray  # (T,) -WIDTH_MAX..WIDTH_MAX
    closed: np.ndarray  # (T,) probability
    visemes: np.ndarray  # (T, 15) probabilities
    version: str

    rate = features.RATE

    def at(self, fps: float, n_frames: int, lead_s: float = 0.0) -> "MouthPrediction":
        """The same outputs at each video frame's time i / fps (``lead_s`` later: frame i
        shows the mouth of i / fps + lead_s)."""
        times = np.arange(n_frames) / fps + lead_s
        return MouthPrediction(
            features.at_times(self.opening, times),
            features.at_times(self.width, times),
            features.at_times(self.closed, times),
            features.at_times(self.visemes, times),
            self.version,
        )


def predict(pcm: np.ndarray, sr: int, model: str | Path | None = None, adaptation=None) -> MouthPrediction:
    """The network's outputs for the audio; with ``adaptation`` (adapt.Adaptation, fitted for
    the same model) the opening is the lecturer's."""
    weights = net.load(model)
    feats = features.clip_features(pcm, sr)
    h = net.hidden(weights, feats)
    out = net.outputs(weights, h).astype(np.float64)
    logits = out[:, net.VISEMES_AT :]
    vis = np.exp(logits - logits.max(1, keepdims=True))
    opening = net.OPEN_MAX / (1 + np.exp(-out[:, net.OPENING]))
    if adaptation is not None and adaptation.used:
        if adaptation.model_version != weights.version:
            raise ValueError(f"adaptation made for {adaptation.model_version}, not {weights.version}")
        opening = adaptation.opening(h, feats, opening)
    return MouthPrediction(
        opening=opening,
        width=net.WIDTH_MAX * np.tanh(out[:, net.WIDTH]),
        closed=1 / (1 + np.exp(-out[:, net.CLOSED])),
        visemes=vis / vis.sum(1, keepdims=True),
        version=weights.version,
    )


def learned_plan(
    pred: MouthPrediction, loudness_db: np.ndarray, fps: float, phones: Sequence | None = None, lead_s: float = 0.0
) -> MouthPlan:
    """The plan from the network's prediction (``pred`` at 100 Hz; ``loudness_db`` per output
    frame). Pauses close the lips as in the phone plan. With ``phones`` (a transcript's
    aligned phones) their closures and visemes are kept, and the opening is shared.
    ``lead_s``: the mouth moves this much ahead of the sound it makes (the prediction and
    the loudness that opens and closes it are read that much later; phones keep their own
    timing, which already leads closures)."""
    n = len(loudness_db)
    at = pred.at(fps, n, lead_s)
    loud = relative_loudness(ahead(np.asarray(loudness_db, np.float64), lead_s * fps))
    silent = loud <= 0.02
    pause = pause_frames(silent, fps)
    speech = ~silent
    opening = stretch(at.opening, speech)
    opening[silent & ~pause] = np.minimum(opening[silent & ~pause], GAP_OPENING)
    closed = (at.closed >= CLOSED_P) | pause
    width = np.clip(at.width, -1, 1)
    viseme = [VISEMES[k] for k in np.argmax(at.visemes, axis=1)]
    if phones is not None:
        scripted = build_plan(phones, loudness_db, fps)
        opening = SCRIPTED_SHARE * opening + (1 - SCRIPTED_SHARE) * scripted.opening
        closed = scripted.closed
        width = 0.5 * (width + scripted.width)
        viseme = scripted.viseme
    opening = np.where(closed, 0.0, np.clip(opening, 0, 1))
    return MouthPlan(fps=fps, opening=opening, width=width, closed=np.asarray(closed, bool), viseme=viseme)


def ahead(series: np.ndarray, frames: float) -> np.ndarray:
    """``series`` read ``frames`` later (linearly between frames; the ends held)."""
    if not frames:
        return series
    idx = np.arange(len(series), dtype=np.float64)
    return np.interp(idx + frames, idx, series)


def stretch(opening: np.ndarray, speech: np.ndarray) -> np.ndarray:
    ref = opening[speech] if speech.sum() >= 5 else opening
    lo, hi = np.percentile(ref, [STRETCH_LOW, STRETCH_HIGH])
    if hi - lo < 1e-3:
        return np.clip(opening, 0, 1)
    return np.clip((opening - lo) / (hi - lo), 0, 1)
