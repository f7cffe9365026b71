"""The face track: one record per source frame, shared by every module downstream."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..filters import true_runs

# dlib's 68-point layout (iBUG 300-W). Named groups used across the project.
JAW = np.arange(0, 17)
NOSE = np.arange(27, 36)
LEFT_EYE = np.arange(36, 42)
RIGHT_EYE = np.arange(42, 48)
OUTER_LIPS = np.arange(48, 60)
INNER_LIPS = np.arange(60, 68)
# Points that do not move when the mouth speaks: used to align faces across frames.
STABLE = np.array([27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])


@dataclass
class FaceTrack:
    """Where the speaking face is in every frame of one source video.

    ``landmarks`` are in pixels of the decoded frame (display orientation, even-cropped size).
    ``confidence`` is the detector score of the latest keyframe detection that supports the
    frame (dlib HOG: SVM margin, higher is surer; 0 where lost). ``lost`` frames have no usable
    face: they pass through unchanged and are reported.
    """

    source_sha256: str
    backend: str
    width: int
    height: int
    fps: float
    time: np.ndarray  # (N,) float64 seconds
    boxes: np.ndarray  # (N, 4) float32 x0, y0, x1, y1
    landmarks: np.ndarray  # (N, 68, 2) float32
    confidence: np.ndarray  # (N,) float32
    lost: np.ndarray  # (N,) bool
    params: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.time)

    @property
    def coverage(self) -> float:
        return float(1.0 - self.lost.mean()) if self.n_frames else 0.0

    def lost_ranges(self) -> list[tuple[int, int]]:
        """Half-open [start, end) frame ranges where the face is lost."""
        return true_runs(self.lost)

    def found_ranges(self) -> list[tuple[int, int]]:
        return true_runs(~self.lost)

    def interocular(self) -> np.ndarray:
        """Outer eye-corner distance per frame: the face's scale."""
        return np.linalg.norm(self.landmarks[:, 36] - self.landmarks[:, 45], axis=1)


def describe_lost(track: FaceTrack) -> str:
    """A sentence for reports: which stretches of the video had no face."""
    ranges = track.lost_ranges()
    if not ranges:
        return "face found in every frame"
    parts = [f"{a / track.fps:.2f}-{b / track.fps:.2f}s" for a, b in ranges[:8]]
    more = f" and {len(ranges) - 8} more" if len(ranges) > 8 else ""
    return (
        f"face not found in {int(track.lost.sum())} of {track.n_frames} frames "
        f"({', '.join(parts)}{more}); those frames are left unchanged"
    )
