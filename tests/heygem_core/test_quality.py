"""The independent mouth measure (FaceMesh) reads the same mouths as the tracker on real
footage, and ``heygem sync`` reports it."""

import numpy as np
import pytest

from heygem_core import facemesh, media, mouth, quality
from cli import main
from heygem_core.config import Settings
from heygem_core.track import track_video
from tests.paths import CORPUS, VIDEOS


def test_facemesh_and_dlib_read_the_same_mouth_movements(tmp_path):
    settings = Settings(cache_dir=tmp_path)
    # katie: 0.92 here. Where a mouth hardly opens (chaplin under his mustache, p95 gap 0.04 eye
    # distances) the two models agree far less (0.39): a reason to report both.
    info = media.probe_video(VIDEOS["katie_8s"])
    track = track_video(info, settings)
    mesh = quality.independent_series(info, settings, track)
    assert mesh.found.mean() > 0.95
    dlib = mouth.opening(track.landmarks)
    ok = mesh.found & ~track.lost
    assert np.corrcoef(mesh.opening[ok], dlib[ok])[0, 1] > 0.8
    # an open mouth and a closed one are told apart, in eye distances like dlib's
    assert np.nanpercentile(mesh.opening, 95) > 3 * max(np.nanpercentile(mesh.opening, 5), 0.005)


def test_the_roi_maps_the_face_into_the_model_input():
    pts = np.array([[100 + 3 * (k % 17), 200 + 2 * (k // 17)] for k in range(68)], float)
    m = facemesh.roi_transform(pts)
    inside = pts @ m[:, :2].T + m[:, 2]
    assert inside.min() > 0 and inside.max() < facemesh.INPUT
    centre = pts.mean(0) @ m[:, :2].T + m[:, 2]
    assert np.allclose(centre, facemesh.INPUT / 2, atol=facemesh.INPUT * 0.1)


def test_heygem_sync_prints_both_figures(tmp_path, capsys):
    assert main(["sync", str(VIDEOS["katie_8s"]), "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "read by FaceMesh" in out and "loudness correlation" in out and "face in 100%" in out


@pytest.mark.slow
@pytest.mark.parametrize("video", [VIDEOS["chaplin_7s"], CORPUS / "trump_address_10s.mp4"], ids=lambda p: p.stem)
def test_the_steady_opening_follows_a_second_model_better_where_the_inner_lips_slip(video, tmp_path):
    # under a mustache, and on a face whose inner contour dlib places on the teeth, the outer
    # lips keep the reading honest (the engine describes its entries by the steady opening)
    settings = Settings(cache_dir=tmp_path)
    info = media.probe_video(video)
    track = track_video(info, settings)
    mesh = quality.independent_series(info, settings, track)
    ok = mesh.found & ~track.lost
    inner = np.corrcoef(mesh.opening[ok], mouth.opening(track.landmarks)[ok])[0, 1]
    steady = np.corrcoef(mesh.opening[ok], mouth.steady_opening(track.landmarks)[ok])[0, 1]
    assert steady > inner + 0.05, f"steady {steady:.3f}, inner gap {inner:.3f}"
