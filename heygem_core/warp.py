"""Geometry: aligning faces across frames, and reshaping lips inside a patch."""

from __future__ import annotations

import cv2
import numpy as np


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, shift) taking src onto dst.

    Closed form in the complex plane (Umeyama's solution in 2-D, never a reflection): it runs
    once or twice per output frame, where an SVD costs more than the rest of the geometry."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s = (src[:, 0] - mu_s[0]) + 1j * (src[:, 1] - mu_s[1])
    d = (dst[:, 0] - mu_d[0]) + 1j * (dst[:, 1] - mu_d[1])
    var = float((s.real**2 + s.imag**2).sum())
    a = complex((np.conj(s) * d).sum() / var) if var > 0 else 1.0 + 0j
    m = np.empty((2, 3))
    m[:, :2] = [[a.real, -a.imag], [a.imag, a.real]]
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]


_UPPER_INNER = [48, 61, 62, 63, 54]
_LOWER_INNER = [48, 67, 66, 65, 54]
_UPPER_OUTER = [48, 49, 50, 51, 52, 53, 54]
_LOWER_OUTER = [48, 59, 58, 57, 56, 55, 54]


def reshape_lips(
    image: np.ndarray, pts: np.ndarray, ratio: float, upper_share: float = 0.35
) -> tuple[np.ndarray, np.ndarray]:
    """Scale the inner-lip gap of the face in ``image`` by ``ratio`` (0 closes the lips).

    Each lip moves as a unit along the vertical, the jaw carrying most of the motion
    (``upper_share`` of it goes to the upper lip). The two lips are warped separately and
    joined along the new contact line, so a closed mouth has no dark seam of stretched
    inner-mouth pixels: a continuous warp cannot close a gap without smearing it.
    Returns the new image and landmarks. Assumes the face is roughly upright in ``image``.
    """
    pts = np.asarray(pts, np.float64)
    if abs(ratio - 1.0) < 1e-3:
        return image, pts
    h, w = image.shape[:2]
    x_lo, x_hi = pts[48, 0], pts[54, 0]
    if x_hi - x_lo < 4:
        return image, pts
    # Every contour is taken over the mouth's columns only ([c0, c1)): outside the corners
    # the gap is zero and nothing moves.
    c0, c1 = max(int(np.floor(x_lo)), 0), min(int(np.ceil(x_hi)) + 1, w)
    if c1 - c0 < 2:
        return image, pts
    columns = np.arange(c0, c1, dtype=np.float64)
    up_in = _curve(pts[_UPPER_INNER], columns)
    lo_in = _curve(pts[_LOWER_INNER], columns)
    up_out = _curve(pts[_UPPER_OUTER], columns)
    lo_out = _curve(pts[_LOWER_OUTER], columns)
    gap = np.clip(lo_in - up_in, 0, None)
    mouth = gap > 0
    t_up = max(float(np.median((up_in - up_out)[mouth])) if mouth.any() else 2.0, 2.0)
    t_lo = max(float(np.median((lo_out - lo_in)[mouth])) if mouth.any() else 2.0, 2.0)
    if ratio < 1.0:
        # Inner-lip landmarks under-read a gap that shows teeth (smiles especially), so a
        # closing lip overshoots; the seam join hides the overlap. The overlap is capped by
        # the lips' thickness so both lips stay visible.
        extra = np.minimum(0.35 * gap + 0.04 * (x_hi - x_lo), 0.5 * (t_up + t_lo)) * mouth
        change = (1.0 - ratio) * (gap + extra)
    else:
        change = (1.0 - ratio) * gap  # <0: opens
    down = upper_share * change  # upper lip moves down by this
    up = (1.0 - upper_share) * change  # lower lip moves up by this
    new_up, new_lo = up_in + down, lo_in - up
    overlap = new_up - new_lo
    # Where the lips overlap, the thin upper lip gives up at most 30% of itself.
    seam = np.where(overlap > 0, new_up - np.minimum(overlap, 0.3 * t_up), (new_up + new_lo) / 2.0)

    lip_h = t_lo
    # Fades must be longer than the shift they undo, or the mapping folds back on itself
    # and mirrors the lip (its slope 1 - shift/fade must stay positive).
    fade_up = max(1.5 * lip_h, 2.0 * float(np.abs(down).max()))
    fade_lo = max(2.0 * lip_h, 2.0 * float(np.abs(up).max()))
    top = up_out + down
    bottom = lo_out - up
    # The map is the identity outside the moving columns and beyond both fades, so only that
    # window is resampled: the rest of the crop is copied, bit for bit and much faster.
    cols = np.flatnonzero(change != 0)
    if len(cols) == 0:
        return image, pts
    a, b = int(cols[0]), int(cols[-1]) + 1  # within [c0, c1), as offsets from c0
    r0 = max(int(np.floor(float(top[a:b].min()) - fade_up)) - 1, 0)
    r1 = min(int(np.ceil(float(bottom[a:b].max()) + fade_lo)) + 2, h)
    if r1 <= r0:
        return image, pts
    ys = np.arange(r0, r1, dtype=np.float32)[:, None]
    xs = np.ascontiguousarray(np.broadcast_to(columns[a:b].astype(np.float32)[None, :], (r1 - r0, b - a)))
    down_w, up_w = down[a:b][None, :], up[a:b][None, :]
    # Upper lip: full shift from the lip line down, fading out above it towards the nose.
    f_up = np.clip(1.0 - (top[a:b][None, :] - ys) / fade_up, 0.0, 1.0)
    # Lower lip: full shift down to its outer edge, fading towards the chin.
    f_lo = np.clip(1.0 - (ys - bottom[a:b][None, :]) / fade_lo, 0.0, 1.0)
    map_y = np.where(ys <= seam[a:b][None, :], ys - down_w * f_up, ys + up_w * f_lo)
    out = np.array(image)  # a copy (the library's crops may be a read-only memory map)
    out[r0:r1, c0 + a : c0 + b] = cv2.remap(
        image, xs, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )

    new = pts.copy()
    upper, lower = [49, 50, 51, 52, 53, 61, 62, 63], [55, 56, 57, 58, 59, 65, 66, 67]
    new[upper, 1] += np.interp(new[upper, 0], columns, down, left=0.0, right=0.0)
    new[lower, 1] -= np.interp(new[lower, 0], columns, up, left=0.0, right=0.0)
    return out, new


def _curve(points: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """A lip contour as y per image column; outside the mouth corners it holds the end values
    and the gap computed from it goes to zero, so columns beyond the mouth are untouched."""
    order = np.argsort(points[:, 0])
    xp, yp = points[order, 0], points[order, 1]
    xp = np.maximum.accumulate(xp + np.arange(len(xp)) * 1e-6)
    return np.interp(columns, xp, yp)
