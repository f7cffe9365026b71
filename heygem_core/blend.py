"""Put a new lower face onto a real frame.

The patch (an image with its 68 landmarks) is aligned to the frame by the points that do not
move when speaking, colour-matched, and blended through a feathered mask that covers mouth,
chin and jaw only. Every pixel outside the mask is the frame's own pixel, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .track.model import STABLE
from .warp import apply, similarity

_JAW = list(range(2, 15))


@dataclass(frozen=True)
class Patch:
    """A face image (usually a crop) and its 68 landmarks in the crop's pixels."""

    image: np.ndarray
    points: np.ndarray


def lower_face_polygon(base_pts: np.ndarray, patch_pts: np.ndarray) -> np.ndarray:
    """Cheeks, jaw and chin of both faces, closed just under the nose.

    Both jaw lines count, so a chin that moves up in the patch covers the old chin and one
    that moves down covers the neck beneath it: never a double chin."""
    iod = np.linalg.norm(base_pts[45] - base_pts[36])
    centre = base_pts[[48, 54]].mean(0)
    jaw = []
    for i in _JAW:
        a, b = base_pts[i], patch_pts[i]
        jaw.append(a if np.linalg.norm(a - centre) >= np.linalg.norm(b - centre) else b)
    jaw = np.array(jaw)
    # Push the jaw outline a little outwards: the mask must hold the whole chin edge.
    jaw = centre + (jaw - centre) * 1.06
    drop = np.array([0.0, 0.06 * iod])
    nose = np.array([base_pts[35] + drop, base_pts[33] + drop, base_pts[31] + drop])
    # Cheek points where the jaw meets the level under the nose.
    return np.vstack([jaw, nose])


def feathered_mask(shape: tuple[int, int], polygon: np.ndarray, feather: float) -> np.ndarray:
    """Alpha in [0, 1]: 1 well inside, smoothly to exactly 0 at and outside the polygon."""
    h, w = shape
    hard = np.zeros((h, w), np.uint8)
    cv2.fillPoly(hard, [np.round(polygon).astype(np.int32)], 255)
    k = max(1, int(round(feather)))
    inner = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    soft = cv2.GaussianBlur(inner.astype(np.float32) / 255.0, (0, 0), sigmaX=k / 2.0)
    soft[hard == 0] = 0.0  # blur must not leak past the polygon
    return soft


def composite(frame: np.ndarray, frame_pts: np.ndarray, patch: Patch,
              color_match: bool = True) -> np.ndarray:
    """A new frame: ``frame`` with its lower face replaced by ``patch``'s."""
    m = similarity(patch.points[STABLE], frame_pts[STABLE])
    moved = apply(m, patch.points)
    poly = lower_face_polygon(frame_pts, moved)
    h, w = frame.shape[:2]
    x0, y0 = np.floor(poly.min(0)).astype(int) - 2
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame
    iod = float(np.linalg.norm(frame_pts[45] - frame_pts[36]))
    alpha = feathered_mask((y1 - y0, x1 - x0), poly - [x0, y0], feather=0.1 * iod)
    shift = m.copy()
    shift[:, 2] -= [x0, y0]
    warped = cv2.warpAffine(patch.image, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE)
    base = frame[y0:y1, x0:x1].astype(np.float32)
    new = warped.astype(np.float32)
    if color_match:
        new += _colour_offset(base, new, alpha)
    a = alpha[..., None]
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(base + (new - base) * a), 0, 255).astype(np.uint8)
    return out


def _colour_offset(base: np.ndarray, new: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Mean colour difference along the mask's soft edge, where the two images meet."""
    band = (alpha > 0.02) & (alpha < 0.6)
    if band.sum() < 20:
        return np.zeros(3, np.float32)
    return (base[band] - new[band]).mean(0).astype(np.float32)
