import json
import threading

import cv2
import numpy as np
import pytest

from heygem_core import media
from heygem_core.config import Settings
from heygem_core.quality import CLOSED_OPENING, MouthSeries
from heygem_core.report import (
    NO_FACE_GREY,
    TILE_H,
    TILE_W,
    contact_sheet,
    opening_plot,
    output_qa,
    pick_frames,
    qa_figures,
    series_from_track,
    sheet_size,
    tile_origin,
)
from heygem_core.track import track_video
from tests.paths import LANGUAGE_AUDIO, VIDEOS

KATIE = VIDEOS["katie_8s"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def katie_qa(settings, tmp_path_factory):
    """output_qa of katie against her own audio (tracks once; later tracks hit the cache)."""
    out = tmp_path_factory.mktemp("qa_katie")
    return output_qa(KATIE, KATIE, out, settings, title="katie (own voice)")


@pytest.fixture(scope="module")
def half_black(media_factory):
    """katie with the whole picture black from 4 s on: no face in the second half."""
    return media_factory.ffmpeg(
        "katie_half_black.mp4",
        "-i",
        str(KATIE),
        "-vf",
        "drawbox=enable='gte(t,4)':x=0:y=0:w=iw:h=ih:color=black:t=fill",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "23",
        "-c:a",
        "copy",
    )


@pytest.fixture(scope="module")
def half_black_qa(settings, half_black, tmp_path_factory):
    return output_qa(half_black, half_black, tmp_path_factory.mktemp("qa_half"), settings)


def _series(opening, found=None, fps=25.0):
    opening = np.asarray(opening, float)
    found = np.isfinite(opening) if found is None else np.asarray(found, bool)
    return MouthSeries(fps=fps, opening=opening, found=found)


def _is_grey(tile):
    return (tile == np.array(NO_FACE_GREY, np.uint8)).all(axis=2).mean() > 0.85


# --------------------------------------------------------------------------- figures


@pytest.mark.slow
def test_figures_on_real_video_with_its_own_audio(katie_qa):
    figures, _, _ = katie_qa
    assert -1.0 <= figures.sync <= 1.0
    assert figures.coverage > 0.98
    assert figures.frames == 200
    assert figures.duration == pytest.approx(8.0)
    assert not any("face" in r for r in figures.reasons)
    d = figures.as_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["frames"] == 200 and d["flagged"] == figures.flagged


@pytest.mark.slow
def test_half_blacked_out_video_is_flagged_for_coverage(half_black_qa):
    figures, _, _ = half_black_qa
    assert figures.coverage == pytest.approx(0.5, abs=0.06)
    assert figures.flagged
    coverage_reasons = [r for r in figures.reasons if "% of frames" in r]
    assert len(coverage_reasons) == 1
    assert "threshold 90%" in coverage_reasons[0]
    assert f"{round(figures.coverage * 100)}%" in coverage_reasons[0]


def test_thresholds_come_from_settings():
    t = np.arange(100)
    loud = np.sin(t / 5.0) * 20 - 30
    opening = np.where(t < 80, 0.1 + 0.05 * np.sin(t / 5.0), np.nan)  # 80% coverage, in sync
    series = _series(opening)
    strict = qa_figures(series, loud, Settings(qa_min_coverage=0.9, qa_min_sync=0.05))
    assert strict.flagged and strict.coverage == pytest.approx(0.8)
    assert strict.sync > 0.99
    assert strict.reasons == ("face found in only 80% of frames (threshold 90%)",)
    lenient = qa_figures(series, loud, Settings(qa_min_coverage=0.75))
    assert not lenient.flagged and lenient.reasons == ()

    against = qa_figures(_series(0.1 - 0.05 * np.sin(t / 5.0)), loud, Settings(qa_min_sync=0.05))
    assert against.flagged and against.sync < -0.99
    assert "sync -1.00 (threshold 0.05)" in against.reasons[0]


def test_no_face_at_all_is_flagged_not_an_error():
    figures = qa_figures(series_from_track(None, 50), np.zeros(50), Settings())
    assert figures.flagged and figures.coverage == 0.0 and figures.sync == 0.0
    assert figures.reasons == ("no face found in any frame",)
    assert figures.as_dict()["coverage"] == 0.0


def test_near_full_coverage_is_not_rounded_up_to_100():
    opening = np.full(1000, 0.1)
    opening[:5] = np.nan  # 99.5%
    figures = qa_figures(_series(opening), np.zeros(1000), Settings(qa_min_coverage=0.999))
    assert "99.5%" in figures.reasons[0]


# --------------------------------------------------------------------------- contact sheet


def test_pick_frames_evenly_spaced():
    assert pick_frames(200, 12).tolist() == [0, 18, 36, 54, 72, 90, 109, 127, 145, 163, 181, 199]
    assert pick_frames(5, 12).tolist() == [0, 1, 2, 3, 4]
    assert pick_frames(0, 12).size == 0


def test_contact_sheet_of_real_video(katie_qa):
    _, contact, _ = katie_qa
    sheet = cv2.imread(str(contact))
    assert sheet is not None
    assert sheet.shape[:2][::-1] == sheet_size(12, 6)
    for i in range(12):
        x, y = tile_origin(i, 6)
        tile = sheet[y : y + TILE_H, x : x + TILE_W]
        assert not _is_grey(tile)
        assert tile.std() > 10, f"tile {i} looks empty"
    # Mouth crops: lips are red, so the middle of each tile is redder than it is blue.
    x, y = tile_origin(0, 6)
    middle = sheet[y + TILE_H // 3 : y + 2 * TILE_H // 3, x + TILE_W // 4 : x + 3 * TILE_W // 4].astype(float)
    assert middle[..., 2].mean() > middle[..., 0].mean() + 20


def test_contact_sheet_no_face_tiles_are_grey(half_black_qa):
    _, contact, _ = half_black_qa
    sheet = cv2.imread(str(contact))
    assert sheet.shape[:2][::-1] == sheet_size(12, 6)
    frames = pick_frames(200, 12)
    for i, frame in enumerate(frames):
        x, y = tile_origin(i, 6)
        tile = sheet[y : y + TILE_H, x : x + TILE_W]
        if frame >= 110:  # black from 4 s = frame 100; the tracker may hold on a few frames
            assert _is_grey(tile), f"tile {i} (frame {frame}) should be a grey 'no face' tile"
        elif frame < 100:
            assert not _is_grey(tile)


def test_contact_sheet_other_grid_and_no_track(tmp_path):
    info = media.probe_video(VIDEOS["chaplin_7s"])
    out = contact_sheet(info.path, None, tmp_path / "sheet.png", n=5, cols=3)
    sheet = cv2.imread(str(out))
    assert sheet.shape[:2][::-1] == sheet_size(5, 3)
    for i in range(5):
        x, y = tile_origin(i, 3)
        assert _is_grey(sheet[y : y + TILE_H, x : x + TILE_W])
    assert not list(tmp_path.glob(".*")), "no temp file may be left behind"


def test_contact_sheet_far_apart_frames_are_fetched_by_seeking(settings, tmp_path, monkeypatch):
    """A long video is not decoded end to end: each picked frame is read on its own."""
    from heygem_core import report

    monkeypatch.setattr(report, "_SEEK_GAP_S", 0.1)
    calls = []
    real = media.read_frames

    def spy(info, start=0, count=None):
        calls.append((start, count))
        return real(info, start, count)

    monkeypatch.setattr(media, "read_frames", spy)
    track = track_video(KATIE, settings)
    contact_sheet(KATIE, track, tmp_path / "a.png", n=4, cols=4)
    assert calls == [(0, 1), (66, 1), (133, 1), (199, 1)]
    calls.clear()
    monkeypatch.setattr(report, "_SEEK_GAP_S", 10.0)
    contact_sheet(KATIE, track, tmp_path / "b.png", n=4, cols=4)
    assert calls == [(0, 200)]
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.png")), cv2.imread(str(tmp_path / "b.png")))


# --------------------------------------------------------------------------- plot


def _check_plot(path):
    img = cv2.imread(str(path))
    assert img is not None
    h, w = img.shape[:2]
    assert (w, h) == (1000, 350)
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) > 50
    assert img.std() > 20
    return img


def test_opening_plot_real(katie_qa, half_black_qa):
    _check_plot(katie_qa[2])
    img = _check_plot(half_black_qa[2])
    # The second half is shaded grey: the plot's right part has far more mid-grey pixels.
    grey = (
        (np.abs(img.astype(int) - img.mean(axis=2, keepdims=True)).max(axis=2) < 8)
        & (img.mean(axis=2) > 150)
        & (img.mean(axis=2) < 225)
    )
    assert grey[:, 600:900].mean() > 5 * grey[:, 150:450].mean()


def test_opening_plot_edge_cases_and_threads(tmp_path):
    """All-NaN opening, empty loudness, and several plots at once from threads."""
    t = np.arange(300)
    cases = [
        (_series(np.full(50, np.nan)), np.full(50, -80.0)),
        (_series(np.full(50, 0.1)), np.zeros(0)),
        (_series(0.1 + 0.1 * np.sin(t / 7.0)), -30 + 10 * np.sin(t / 7.0)),
    ]
    errors = []

    def work(k):
        try:
            series, loud = cases[k % len(cases)]
            opening_plot(series, loud, tmp_path / f"p{k}.png", title=f"plot {k}")
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for k in range(6):
        assert cv2.imread(str(tmp_path / f"p{k}.png")).shape == (350, 1000, 3)
    assert CLOSED_OPENING > 0


def test_output_qa_with_new_audio(settings, tmp_path):
    figures, contact, plot = output_qa(KATIE, LANGUAGE_AUDIO["de"], tmp_path / "qa", settings)
    assert contact == tmp_path / "qa" / "katie_8s_contact.png"
    assert plot == tmp_path / "qa" / "katie_8s_opening.png"
    assert contact.stat().st_size > 10_000 and plot.stat().st_size > 10_000
    assert figures.frames == 200 and -1 <= figures.sync <= 1


def test_pipeline_picture_names_do_not_leave_temp_files(katie_qa):
    _, contact, plot = katie_qa
    assert sorted(p.name for p in contact.parent.iterdir()) == sorted([contact.name, plot.name])


def test_half_black_fixture_is_black(half_black):
    info = media.probe_video(half_black)
    [frame] = media.read_frames(info, 150, 1)
    assert frame.max() < 30
