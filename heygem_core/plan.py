"""From the new audio to a target mouth shape for every output frame.

Phones give the shape (a viseme: closed for /p b m/, open for /a/, rounded for /u/ …);
loudness gives how strongly a vowel is articulated and where speech pauses. Targets are
relative (0 = lips together, 1 = this speaker's widest speaking opening) so the engine maps
them onto the speaker's own range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .filters import gaussian_smooth, true_runs

# viseme -> (opening 0..1, width -1 narrow/rounded .. +1 spread)
VISEME_SHAPES: dict[str, tuple[float, float]] = {
    "sil": (0.0, 0.0),
    "PP": (0.0, 0.0),
    "FF": (0.15, 0.1),
    "TH": (0.3, 0.1),
    "DD": (0.35, 0.1),
    "kk": (0.45, 0.0),
    "CH": (0.3, -0.4),
    "SS": (0.2, 0.3),
    "nn": (0.3, 0.1),
    "RR": (0.35, -0.3),
    "aa": (1.0, 0.2),
    "E": (0.7, 0.3),
    "ih": (0.45, 0.5),
    "oh": (0.75, -0.6),
    "ou": (0.35, -0.8),
}


# Silence at least this long is a pause (lips meet); a shorter gap between words rests at
# GAP_OPENING, open a little, as lips do between words of running speech.
PAUSE_MIN_S = 0.24
GAP_OPENING = 0.1


@dataclass
class MouthPlan:
    """Per output frame: relative opening and width targets, and hard closures."""

    fps: float
    opening: np.ndarray  # (T,) 0..1
    width: np.ndarray  # (T,) -1..1
    closed: np.ndarray  # (T,) bool: lips must meet (bilabial or silence)
    viseme: list[str]

    @property
    def n_frames(self) -> int:
        return len(self.opening)


def frame_visemes(phones: Sequence, fps: float, n_frames: int) -> list[str]:
    """The viseme shown at each frame's centre; bilabials win any frame they touch,
    because a closure shorter than a frame must still be seen."""
    out = ["sil"] * n_frames
    centres = (np.arange(n_frames) + 0.5) / fps
    for ph in phones:
        a, b = np.searchsorted(centres, [ph.start, ph.end])
        for t in range(a, min(b, n_frames)):
            out[t] = ph.viseme
    for ph in phones:
        if ph.viseme == "PP":
            # Closure begins slightly before the burst: lead by ~30 ms, hold at least one frame.
            a = int(np.floor((ph.start - 0.03) * fps))
            b = max(a + 1, int(np.ceil(ph.end * fps - 0.3)))
            for t in range(max(a, 0), min(b, n_frames)):
                out[t] = "PP"
    return out


def build_plan(phones: Sequence, loudness_db: np.ndarray, fps: float, silence_db: float | None = None) -> MouthPlan:
    n = len(loudness_db)
    vis = frame_visemes(phones, fps, n)
    base_open = np.array([VISEME_SHAPES.get(v, (0.35, 0.0))[0] for v in vis])
    base_width = np.array([VISEME_SHAPES.get(v, (0.35, 0.0))[1] for v in vis])
    loud = relative_loudness(loudness_db, silence_db)
    # Loudness scales articulation (a shouted /a/ opens wider than a murmured one) but the
    # phone decides the shape: a loud /m/ stays closed.
    opening = base_open * (0.75 + 0.25 * loud)
    silent = loud <= 0.02
    # Lips meet in a pause, not in every gap between words: snapping shut for the 40-160 ms
    # gaps of running speech is what makes a mouth flap with the loudness. A short gap rests
    # nearly closed and blends with its neighbours.
    pause = pause_frames(silent, fps)
    opening[pause] = 0.0
    opening[silent & ~pause] = GAP_OPENING
    # Coarticulation: neighbours blend over ~40 ms, then closures are re-imposed.
    sigma = max(0.04 * fps, 0.5)
    opening = gaussian_smooth(opening, sigma)
    width = gaussian_smooth(base_width, sigma)
    closed = np.array([v == "PP" for v in vis]) | pause
    opening[closed] = 0.0
    return MouthPlan(fps=fps, opening=np.clip(opening, 0, 1), width=np.clip(width, -1, 1), closed=closed, viseme=vis)


def pause_frames(silent: np.ndarray, fps: float) -> np.ndarray:
    """The silent frames that are part of a pause (PAUSE_MIN_S or longer)."""
    return silent & _runs_at_least(silent, PAUSE_MIN_S * fps)


def _runs_at_least(mask: np.ndarray, frames: float) -> np.ndarray:
    """``mask`` kept only in its runs of at least ``frames`` frames."""
    out = np.zeros_like(mask, dtype=bool)
    for a, b in true_runs(mask):
        if b - a >= frames:
            out[a:b] = True
    return out


def relative_loudness(db: np.ndarray, silence_db: float | None = None) -> np.ndarray:
    """0 at the pause level, 1 at the loud end of this recording's speech."""
    db = np.asarray(db, np.float64)
    hi = np.percentile(db, 95)
    floor = silence_db if silence_db is not None else max(np.percentile(db, 10), hi - 40.0)
    if hi - floor < 6.0:
        floor = hi - 6.0
    return np.clip((db - floor) / (hi - floor), 0.0, 1.0)
