"""Put a new lower face onto a real frame.

The patch (an image with its 68 landmarks) is aligned to the frame by the points that do not
move when speaking, colour-matched, and blended through a feathered mask that covers mouth,
chin and jaw only. Every pixel outside the mask is the frame's own pixel, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mouth import down_axis, interocular
from .track.model import STABLE
from .warp import apply, similarity

_JAW = list(range(2, 15))
_CHIN = np.isin(_JAW, range(6, 11))  # jaw points 6-10: the chin
# Share of the cover push each chin point takes: less at the chin's corners, where more
# push would reach past the narrower jaw into the hair or wall beside it.
_COVER_WEIGHT = np.interp(_JAW, [5, 6, 7, 9, 10, 11], [0.0, 0.4, 1.0, 1.0, 0.4, 0.0])
# The mask's feather, as a share of the interocular distance: alpha ramps from 0 at the
# polygon's edge to 1 at twice this distance inside it.
FEATHER = 0.1
# Bump when the composite for the same frames and patches changes (cached renders are made
# again). 2: the mask covers the further of two parted chins; 3: and the higher upper lip.
VERSION = "3"
# How far past the further of two parted chins the mask reaches: this many times their
# distance, at most this share of the interocular distance (at 1.6 feathers the further
# chin's edge is blended at alpha 0.9).
_CHIN_COVER = 3.0
_CHIN_COVER_MAX = 1.6 * FEATHER
# Under the nose there is no room for the whole feather: where the two upper lips part by
# this share of the interocular distance or more, the feather there is cut short so that
# the higher lip's top is blended at alpha ~0.99 (see _top_feather).
_LIPS_APART = 0.05
_COVERED = 1.9  # smoothstep is 0.99 at 0.95 of its ramp (2 feathers): 1.9 feathers in
_TOP_FEATHER_MIN = 0.3  # share of the full feather
_NOSE_DROP = 0.06  # the mask's top edge: this far under the nose (share of the iod)


@dataclass(frozen=True)
class Patch:
    """A face image (usually a crop) and its 68 landmarks in the crop's pixels."""

    image: np.ndarray
    points: np.ndarray


def lower_face_polygon(base_pts: np.ndarray, patch_pts: np.ndarray) -> np.ndarray:
    """Cheeks, jaw and chin of both faces, closed just under the nose.

    Around the chin both jaw lines count (the further one), so a chin that moves up in the
    patch covers the old chin and one that moves down covers the neck beneath it: never a
    double chin. Along the cheeks the nearer one counts: where the patch's head is turned a
    little, its far cheek edge and the hair or wall beyond it must stay outside the mask, or
    they show through as a dark smear on the frame's cheek."""
    iod = float(interocular(base_pts))
    centre = base_pts[[48, 54]].mean(0)
    a, b = base_pts[_JAW], patch_pts[_JAW]
    ra, rb = np.hypot(*(a - centre).T), np.hypot(*(b - centre).T)
    further = ra >= rb
    use_base = np.where(_CHIN, further, ~further)
    jaw = np.where(use_base[:, None], a, b)
    # Push the chin outwards: a little always (the mask must hold the whole chin edge), and
    # where the two chins part, past the further one by most of the feather. Otherwise the
    # further chin's edge sits in the feather, half of it shows through the other, and a
    # mouth closed over one that was open has a second jaw line under its own.
    r = np.maximum(np.where(use_base, ra, rb), 1e-6)
    cover = _COVER_WEIGHT * np.minimum(_CHIN_COVER * np.abs(ra - rb), _CHIN_COVER_MAX * iod)
    push = np.where(_CHIN, 0.06 * r, 0.0) + cover
    jaw = centre + (jaw - centre) * (1.0 + push / r)[:, None]
    drop = np.array([0.0, _NOSE_DROP * iod])
    nose = np.array([base_pts[35] + drop, base_pts[33] + drop, base_pts[31] + drop])
    # Cheek points where the jaw meets the level under the nose.
    return np.vstack([jaw, nose])


def feathered_mask(shape: tuple[int, int], polygon: np.ndarray, feather: float) -> np.ndarray:
    """Alpha in [0, 1]: 1 well inside, smoothly to exactly 0 at and outside the polygon.

    The ramp is a smoothstep of the distance to the polygon's edge over ``2 * feather``: the
    same profile as eroding by ``feather`` and blurring, at a fraction of the cost (one
    linear-time distance transform instead of a large elliptical erosion and a blur)."""
    return _ramp(_inside_distance(shape, polygon), feather)


def _inside_distance(shape: tuple[int, int], polygon: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """Each pixel's distance inside ``polygon`` (0 outside), with ``extra`` filled in too."""
    hard = np.zeros(shape, np.uint8)
    cv2.fillPoly(hard, [np.round(polygon).astype(np.int32)], 255)
    if extra is not None:
        cv2.fillPoly(hard, [np.round(extra).astype(np.int32)], 255)
    return cv2.distanceTransform(hard, cv2.DIST_L2, cv2.DIST_MASK_5)


def _ramp(dist: np.ndarray, feather: float) -> np.ndarray:
    k = max(1.0, float(feather))
    t = np.minimum(dist * np.float32(1.0 / (2.0 * k)), np.float32(1.0))
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


def _top_feather(dist: np.ndarray, frame_pts: np.ndarray, patch_pts: np.ndarray, iod: float, down: np.ndarray) -> float:
    """The feather (pixels) of the mask's edge under the nose; ``dist`` is each pixel's
    distance inside the mask, the points are in its pixels.

    The full feather reaches ~0.2 iod into the mask, about as far as the upper lip lies under
    the nose. Where the patch's upper lip sits lower than the frame's (a smile closed by a
    patch), the frame's own lip was blended at alpha ~0.5 and showed as a pale second lip
    above the new one; where it sits higher, the patch's lip top was half faded. So where the
    lips part, this feather shrinks until the higher lip's top is at alpha ~0.99 (at 0.9 a
    faint line still showed), gradually (a frame whose lips part a little more than the last
    must not jump), and never below a share of the full one (a hard seam would show)."""
    full = FEATHER * iod
    apart = abs(float(((frame_pts[50:53] - patch_pts[50:53]) @ down).mean()))
    share = min(apart / (_LIPS_APART * iod), 1.0)
    if share == 0.0:
        return full
    h, w = dist.shape
    lips = np.clip(np.rint(np.vstack([frame_pts[50:53], patch_pts[50:53]])).astype(int), 0, [w - 1, h - 1])
    depth = float(dist[lips[:, 1], lips[:, 0]].min())  # the higher lip's top, inside the mask
    short = min(max(depth / _COVERED, _TOP_FEATHER_MIN * full), full)
    return full - (full - short) * share


def lower_face_alpha(
    shape: tuple[int, int], poly: np.ndarray, frame_pts: np.ndarray, patch_pts: np.ndarray
) -> np.ndarray:
    """The lower-face mask over ``shape`` (``poly`` and both point sets in its pixels):
    ``feathered_mask`` with the feather under the nose cut short where the lips part."""
    iod, down = float(interocular(frame_pts)), down_axis(frame_pts)
    full = FEATHER * iod
    dist = _inside_distance(shape, poly)
    top = _top_feather(dist, frame_pts, patch_pts, iod, down) if iod > 1.0 else full
    if top > full - 0.5:
        return _ramp(dist, full)
    # Only the edge under the nose (points 35-33-31, and one feather on along each cheek's
    # top edge, so the lip's peaks under the nostrils are covered too) takes the short
    # feather. The rest keeps the full one, measured with a band above that stretch filled
    # in (added to the same filled polygon, so every other edge lies exactly where it was).
    # The short ramp, from the real edge, keeps alpha 0 outside the polygon.
    n35, n33, n31 = poly[-3:]
    q35, q31 = _along(n35, poly[-4], full), _along(n31, poly[0], full)
    edge = np.array([q35, n35, n33, n31, q31])
    band = np.vstack([edge, edge[::-1] - 2.0 * full * down])
    return np.minimum(_ramp(_inside_distance(shape, poly, band), full), _ramp(dist, top))


def _along(a: np.ndarray, b: np.ndarray, d: float) -> np.ndarray:
    """The point ``d`` from ``a`` towards ``b`` (at most ``b``)."""
    length = float(np.hypot(*(b - a)))
    return b if length <= d else a + (b - a) * (d / length)


def placement(frame_pts: np.ndarray, patch: Patch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the patch goes: the lower-face polygon in frame pixels, the 2x3 similarity taking
    patch pixels onto the frame (fitted on the points that do not move in speech), and the
    patch's points placed so."""
    m = similarity(patch.points[STABLE], frame_pts[STABLE])
    placed = apply(m, patch.points)
    return lower_face_polygon(frame_pts, placed), m, placed


def _box(poly: np.ndarray, w: int, h: int, even: bool = False) -> tuple[int, int, int, int] | None:
    """The polygon's bounding box with a small margin, clipped to the frame (with ``even``,
    widened to even coordinates: whole 2x2 chroma blocks)."""
    x0, y0 = np.floor(poly.min(0)).astype(int) - 2
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 3
    if even:
        x0, y0, x1, y1 = x0 - x0 % 2, y0 - y0 % 2, x1 + x1 % 2, y1 + y1 % 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def composite(frame: np.ndarray, frame_pts: np.ndarray, patch: Patch, color_match: bool = True) -> np.ndarray:
    """A new frame: ``frame`` with its lower face replaced by ``patch``'s."""
    out = frame.copy()
    composite_into(out, frame_pts, patch, color_match)
    return out


def composite_into(
    frame: np.ndarray,
    frame_pts: np.ndarray,
    patch: Patch,
    color_match: bool = True,
    placed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[int, int, int, int] | None:
    """Replace ``frame``'s lower face in place; returns the changed box (x0, y0, x1, y1), or
    None when nothing changed. Pixels outside the mask keep their exact values. ``placed`` is
    ``placement(frame_pts, patch)`` when the caller already has it."""
    poly, m, patch_pts = placed if placed is not None else placement(frame_pts, patch)
    h, w = frame.shape[:2]
    box = _box(poly, w, h)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    alpha = lower_face_alpha((y1 - y0, x1 - x0), poly - [x0, y0], frame_pts - [x0, y0], patch_pts - [x0, y0])
    shift = m.copy()
    shift[:, 2] -= [x0, y0]
    warped = cv2.warpAffine(
        patch.image, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    roi = frame[y0:y1, x0:x1]
    offset = _colour_offset(roi, warped, _band(alpha)) if color_match else np.zeros(3, np.float32)
    if color_match:
        # Rounded to whole levels: a sub-level offset is invisible and keeps the add in uint8.
        warped = cv2.add(warped, tuple(float(v) for v in np.rint(offset)) + (0.0,))
    # (a * new + (1 - a) * base), rounded and saturated in one OpenCV pass; where a is 0
    # (outside the polygon) that is the old pixel exactly.
    roi[...] = cv2.blendLinear(warped, roi, alpha, 1.0 - alpha)
    return x0, y0, x1, y1


def _band(alpha: np.ndarray) -> np.ndarray:
    """The mask's soft edge, where the two images meet: colour is matched there."""
    return cv2.inRange(alpha, 0.02, 0.6)


def _colour_offset(base: np.ndarray, new: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Mean difference per channel (one for a plane, three for BGR) along ``band``."""
    k = base.shape[2] if base.ndim == 3 else 1
    if cv2.countNonZero(band) < 20:
        return np.zeros(k, np.float32)
    return (np.array(cv2.mean(base, band)[:k]) - np.array(cv2.mean(new, band)[:k])).astype(np.float32)


def composite_i420(yuv: np.ndarray, frame_pts: np.ndarray, patch: Patch, color_match: bool = True) -> np.ndarray:
    """``composite`` on an I420 frame ((h * 3 / 2, w) planes as the decoder gives them), in
    place, blending plane by plane: the part of the patch that lands in the lower face's box
    goes to I420 once and each plane is warped on its own (half the samples of a BGR warp),
    luma is blended with the mask, chroma with the mask averaged over each 2x2 block. The
    frame's own samples never go through BGR, so where the mask is 0 they reach the encoder
    exactly as decoded."""
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    poly, m, patch_pts = placement(frame_pts, patch)
    box = _box(poly, w, h, even=True)
    if box is None:
        return yuv
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    alpha = lower_face_alpha((bh, bw), poly - [x0, y0], frame_pts - [x0, y0], patch_pts - [x0, y0])
    alpha_c = cv2.resize(alpha, (bw // 2, bh // 2), interpolation=cv2.INTER_AREA)
    shift = m.copy()
    shift[:, 2] -= [x0, y0]
    new_y, new_u, new_v = _warp_i420(patch.image, shift, bw, bh)
    chroma = yuv[h:].reshape(2, h // 2, w // 2)  # U then V
    planes: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = [
        (yuv[y0:y1, x0:x1], new_y, alpha, None)
    ]
    band_c = _band(alpha_c) if color_match else None
    planes += [
        (chroma[i, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], new, alpha_c, band_c) for i, new in ((0, new_u), (1, new_v))
    ]
    for base, new, a, band in planes:
        if color_match:
            # Rounded to whole levels: a sub-level offset is invisible and keeps the add in uint8.
            offset = float(np.rint(_colour_offset(base, new, _band(a) if band is None else band)[0]))
            if offset:
                new = cv2.add(new, offset)
        base[...] = cv2.blendLinear(new, base, a, 1.0 - a)
    return yuv


def _warp_i420(image: np.ndarray, m: np.ndarray, bw: int, bh: int) -> tuple[np.ndarray, ...]:
    """The Y, U and V planes (bh x bw, and half that) of BGR ``image`` mapped by the 2x3
    ``m``: only the part of the image that lands in the box is converted (with a margin for
    the cubic kernel), and chroma is warped at its own resolution, its samples sitting at the
    centre of each 2x2 luma block."""
    ih, iw = image.shape[:2]
    corners = np.array([[0, 0], [bw, 0], [0, bh], [bw, bh]], np.float64)
    src = apply(cv2.invertAffineTransform(m), corners)
    sx0, sy0 = (np.floor(src.min(0)).astype(int) - 4) // 2 * 2
    sx1, sy1 = np.ceil(src.max(0)).astype(int) + 5
    sx0, sy0 = max(int(sx0), 0), max(int(sy0), 0)
    sx1, sy1 = min(int(sx1), iw - iw % 2), min(int(sy1), ih - ih % 2)
    sx1 -= (sx1 - sx0) % 2
    sy1 -= (sy1 - sy0) % 2
    if sx1 - sx0 < 2 or sy1 - sy0 < 2:  # nothing of the patch lands in the box
        sx0, sy0, sx1, sy1 = 0, 0, iw - iw % 2, ih - ih % 2
    ch, cw = (sy1 - sy0) // 2, (sx1 - sx0) // 2
    planes = cv2.cvtColor(np.ascontiguousarray(image[sy0:sy1, sx0:sx1]), cv2.COLOR_BGR2YUV_I420).ravel()
    n = 4 * ch * cw
    y = planes[:n].reshape(2 * ch, 2 * cw)
    u, v = planes[n:].reshape(2, ch, cw)
    my = m.copy()
    my[:, 2] += m[:, :2] @ [sx0, sy0]
    mc = my.copy()
    mc[:, 2] = (my[:, :2] @ [0.5, 0.5] + my[:, 2] - 0.5) / 2
    # Luma cubic (bilinear would soften teeth and lip edges against the real frame around
    # them); chroma bilinear: its detail is half resolution already and a cubic warp of it
    # cost 0.19-0.25 ms a frame against 0.07-0.09 bilinear, for nothing one can see.
    border = cv2.BORDER_REPLICATE
    return (
        cv2.warpAffine(y, my, (bw, bh), flags=cv2.INTER_CUBIC, borderMode=border),
        cv2.warpAffine(u, mc, (bw // 2, bh // 2), flags=cv2.INTER_LINEAR, borderMode=border),
        cv2.warpAffine(v, mc, (bw // 2, bh // 2), flags=cv2.INTER_LINEAR, borderMode=border),
    )
