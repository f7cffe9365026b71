"""Mouth shape measured from 68-point landmarks, in units of the face's own size.

Shared by the exemplar engine (to describe its library and targets) and by the quality
measures (to read the mouth of an output video), so both speak the same units.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_UPPER_INNER = [61, 62, 63]
_LOWER_INNER = [67, 66, 65]


@dataclass(frozen=True)
class MouthShape:
    """Per-frame arrays: ``opening`` = inner-lip gap / interocular distance,
    ``width`` = mouth-corner distance / interocular distance."""

    opening: np.ndarray
    width: np.ndarray


def interocular(landmarks: np.ndarray) -> np.ndarray:
    return np.linalg.norm(landmarks[..., 36, :] - landmarks[..., 45, :], axis=-1)


def down_axis(landmarks: np.ndarray) -> np.ndarray:
    """The face's own down: the unit vector square to the eye line (per frame)."""
    pts = np.asarray(landmarks, np.float64)
    eye_axis = pts[..., 45, :] - pts[..., 36, :]
    eye_axis /= np.linalg.norm(eye_axis, axis=-1, keepdims=True) + 1e-9
    return np.stack([-eye_axis[..., 1], eye_axis[..., 0]], axis=-1)


def opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap (lower minus upper, along the face's vertical) over the eye distance.

    Measured along the face's own vertical axis so a tilted head does not read as open."""
    pts = np.asarray(landmarks, np.float64)
    down = down_axis(pts)
    gap = pts[..., _LOWER_INNER, :] - pts[..., _UPPER_INNER, :]
    vertical = np.einsum("...kd,...d->...k", gap, down).mean(-1)
    return np.maximum(vertical, 0.0) / (interocular(pts) + 1e-9)


def width(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, np.float64)
    return np.linalg.norm(pts[..., 54, :] - pts[..., 48, :], axis=-1) / (interocular(pts) + 1e-9)


def measure(landmarks: np.ndarray) -> MouthShape:
    return MouthShape(opening=opening(landmarks), width=width(landmarks))
