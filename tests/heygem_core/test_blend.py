"""Compositor on raw frames: the only pixels that change are inside the lower-face mask."""

import cv2
import numpy as np
import pytest

from heygem_core import media
from heygem_core.blend import (
    FEATHER,
    Patch,
    composite,
    composite_i420,
    feathered_mask,
    lower_face_alpha,
    lower_face_polygon,
)
from heygem_core.config import Settings
from heygem_core.track import track_video
from heygem_core.warp import apply, similarity
from heygem_core.track.model import STABLE
from tests.paths import VIDEOS


@pytest.fixture(scope="module")
def katie(tmp_path_factory):
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"))
    info = media.probe_video(VIDEOS["katie_8s"])
    track = track_video(info, settings)
    frames = list(media.read_frames(info, 0, 120))
    return frames, track


def test_pixels_outside_the_mask_are_bit_identical(katie):
    frames, track = katie
    base, donor = 10, 110  # mouth closed vs open, different head pose
    patch = Patch(image=frames[donor], points=track.landmarks[donor])
    out = composite(frames[base], track.landmarks[base], patch)
    changed = np.any(out != frames[base], axis=2)
    moved = apply(similarity(patch.points[STABLE], track.landmarks[base][STABLE]), patch.points)
    poly = np.zeros(changed.shape, np.uint8)
    cv2.fillPoly(poly, [np.round(lower_face_polygon(track.landmarks[base], moved)).astype(np.int32)], 1)
    assert changed.sum() > 2000, "the mouth must actually be replaced"
    assert not changed[poly == 0].any(), "a pixel outside the lower-face mask changed"
    # Eyes and forehead are far outside the mask: untouched.
    eyes = track.landmarks[base][36:48]
    y0, y1 = int(eyes[:, 1].min()) - 10, int(eyes[:, 1].max()) + 10
    assert np.array_equal(out[y0:y1], frames[base][y0:y1])


def test_mask_takes_the_lower_chin_but_the_narrower_cheeks(katie):
    # A patch whose head is turned has one cheek edge further out: the wall or hair beyond
    # it must stay outside the mask. A patch whose chin is lower must cover the neck under
    # the frame's chin: both chins inside the mask.
    _, track = katie
    base = track.landmarks[10].astype(np.float64)
    iod = np.linalg.norm(base[45] - base[36])
    patch = base.copy()
    patch[2:5, 0] += 0.3 * iod  # head turned: the cheek on the image's left comes in,
    patch[12:15, 0] += 0.3 * iod  # the one on the right sticks out past the frame's
    patch[7:10, 1] += 0.2 * iod  # its chin is lower
    poly = lower_face_polygon(base, patch)
    inside = lambda p: cv2.pointPolygonTest(poly.astype(np.float32), (float(p[0]), float(p[1])), False) >= 0  # noqa: E731
    centre = base[[48, 54]].mean(0)
    assert all(inside(patch[k] + (centre - patch[k]) * 0.03) for k in (7, 8, 9)), "the patch's lower chin is cut off"
    assert all(inside(base[k] + (centre - base[k]) * 0.03) for k in (7, 8, 9)), "the frame's own chin is left out"
    for k in (2, 3, 4):  # left: the patch's cheek is the narrower line
        assert not inside(base[k]), "the mask reaches past the patch's cheek"
    for k in (12, 13, 14):  # right: the frame's cheek is the narrower line
        assert not inside(patch[k]), "the mask reaches the patch's far cheek edge and what lies beyond"


def test_a_chin_raised_over_a_lower_one_covers_the_lower_one(katie):
    # Closing a mouth the frame has open raises the chin: the frame's own chin, lower down,
    # must be under the mask's full weight, not in its feather, or it shows as a second
    # jaw line. Where both chins agree the mask ends just past them as before.
    _, track = katie
    base = track.landmarks[10].astype(np.float64)
    iod = float(np.linalg.norm(base[45] - base[36]))
    feather = FEATHER * iod  # as the compositor feathers

    def alpha_at(patch_pts, k):
        poly = lower_face_polygon(base, patch_pts)
        origin = np.floor(poly.min(0)) - 4
        shape = tuple((np.ceil(poly.max(0) - origin) + 4).astype(int)[::-1])
        alpha = feathered_mask(shape, poly - origin, feather)
        x, y = np.round(base[k] - origin).astype(int)
        return float(alpha[y, x])

    raised = base.copy()
    raised[6:11, 1] -= 0.15 * iod
    assert min(alpha_at(raised, k) for k in (7, 8, 9)) > 0.85, "the lower chin shows through the feather"
    assert alpha_at(base, 8) < 0.5, "with one chin the mask should end just past it"
    # The chin's corners are not pushed: past them lies the hair beside a narrower jaw.
    assert np.allclose(
        lower_face_polygon(base, raised)[[0, 1, 2, 3, 9, 10, 11, 12]],
        lower_face_polygon(base, base)[[0, 1, 2, 3, 9, 10, 11, 12]],
    )


def test_an_upper_lip_lowered_over_a_higher_one_covers_the_higher_one(katie):
    # A closed mouth pasted on a smile: the patch's upper lip sits lower than the frame's.
    # With the full feather under the nose the frame's lip was blended at ~0.5 and showed as
    # a pale second upper lip (katie + de, frame 136). The sides keep their feather, and
    # nothing changes outside the polygon.
    _, track = katie
    base = track.landmarks[10].astype(np.float64)
    iod = float(np.linalg.norm(base[45] - base[36]))

    def mask(patch_pts):
        poly = lower_face_polygon(base, patch_pts)
        origin = np.floor(poly.min(0)) - 4
        shape = tuple((np.ceil(poly.max(0) - origin) + 4).astype(int)[::-1])
        return (
            lower_face_alpha(shape, poly - origin, base - origin, patch_pts - origin),
            feathered_mask(shape, poly - origin, FEATHER * iod),
            origin,
        )

    lowered = base.copy()
    lowered[48:68, 1] += 0.12 * iod
    alpha, plain, origin = mask(lowered)
    x, y = np.round(base[50:53] - origin).astype(int).T
    assert alpha[y, x].min() > 0.97, "the frame's own upper lip shows through the feather"
    assert plain[y, x].min() < 0.85, "the test's lips should lie in the full feather"
    assert alpha[plain == 0].max() == 0, "the mask reaches past its polygon"
    # Only under the nose: across the cheeks (their top edges included) the mask is as before.
    feather = FEATHER * iod
    xs = np.arange(alpha.shape[1]) + origin[0]
    away = (xs < base[31, 0] - 2.5 * feather) | (xs > base[35, 0] + 2.5 * feather)
    np.testing.assert_array_equal(alpha[:, away], plain[:, away])
    # And still a ramp there, not a cut: just inside the edge under the nose, alpha is low.
    poly = lower_face_polygon(base, lowered) - origin
    below = np.round(poly[-2] + [0, 2]).astype(int)  # 2 px under the edge's middle point
    assert 0 < alpha[below[1], below[0]] < 0.3, "a hard seam under the nose"
    same, plain, _ = mask(base)
    np.testing.assert_array_equal(same, plain)  # lips together: the mask as before


def test_mask_is_zero_outside_polygon_and_one_inside():
    square = np.array([[20, 20], [80, 20], [80, 80], [20, 80]], float)
    alpha = feathered_mask((100, 100), square, feather=6)
    assert alpha[:19].max() == 0 and alpha[:, :19].max() == 0
    assert alpha[50, 50] == pytest.approx(1.0, abs=1e-3)
    assert 0 < alpha[50, 23] < 1  # feathered edge


def test_same_frame_as_patch_changes_nothing_visible(katie):
    frames, track = katie
    patch = Patch(image=frames[30], points=track.landmarks[30])
    out = composite(frames[30], track.landmarks[30], patch)
    assert np.abs(out.astype(int) - frames[30]).max() <= 2


def test_i420_composite_changes_only_the_mask_and_matches_bgr(katie):
    """The I420 path the renderer uses: every Y sample outside the mask (and every chroma
    sample whose 2x2 block lies outside it) is the decoder's own value; inside, the picture
    is the BGR compositor's."""
    frames, track = katie
    base, donor = 10, 110
    info = media.probe_video(VIDEOS["katie_8s"])
    [yuv] = list(media.read_frames(info, base, 1, i420=True))
    original = yuv.copy()
    patch = Patch(image=frames[donor], points=track.landmarks[donor])
    composite_i420(yuv, track.landmarks[base], patch)
    h = yuv.shape[0] * 2 // 3
    moved = apply(similarity(patch.points[STABLE], track.landmarks[base][STABLE]), patch.points)
    poly = np.zeros((h, yuv.shape[1]), np.uint8)
    cv2.fillPoly(poly, [np.round(lower_face_polygon(track.landmarks[base], moved)).astype(np.int32)], 1)
    changed_y = yuv[:h] != original[:h]
    assert changed_y.sum() > 2000
    assert not changed_y[poly == 0].any(), "a luma sample outside the mask changed"
    outside_c = poly.reshape(h // 2, 2, -1, 2).max(axis=(1, 3)) == 0
    changed_c = (yuv[h:] != original[h:]).reshape(2, h // 2, -1)
    assert not changed_c[:, outside_c].any(), "a chroma sample outside the mask changed"
    want = composite(frames[base], track.landmarks[base], patch)
    got = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)
    inside = poly == 1
    assert np.abs(got[inside].astype(int) - want[inside]).mean() < 2.0
