"""Tracking in parts: the first here, the others in helper processes, joined at the seams."""

import logging
import os
import signal

import numpy as np
import pytest

from heygem_core import media
from heygem_core.config import Settings
from heygem_core.errors import ModelMissing
from heygem_core.track import helpers, track_stats, track_video
from heygem_core.track.tracker import RawTrack, TrackParams
from tests.paths import VIDEOS

PARAMS = TrackParams()


@pytest.fixture(scope="module")
def katie():
    return media.probe_video(VIDEOS["katie_8s"])


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    s = Settings(cache_dir=tmp_path_factory.mktemp("cache"), tracking_processes=2)
    yield s
    helpers.pool_for(s).close()


@pytest.fixture(scope="module")
def one_run(katie, settings):
    """The whole video tracked in one run, the reference every join is held to."""
    return helpers.track_here(katie, settings, PARAMS, 0, katie.n_frames)


def _mean_apart(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


def test_parts_are_cut_on_keyframes():
    assert helpers.plan_parts(200, 5, 2) == [(0, 100), (100, 100)]
    assert helpers.plan_parts(210, 5, 2) == [(0, 105), (105, 105)]
    parts = helpers.plan_parts(1003, 5, 3)
    assert len(parts) == 3 and parts[0][0] == 0
    assert all(first % 5 == 0 for first, _ in parts)
    assert [a + n for a, n in parts[:-1]] == [a for a, _ in parts[1:]]  # contiguous
    assert sum(n for _, n in parts) == 1003
    assert helpers.plan_parts(199, 5, 2) == [(0, 199)]  # a part would be under 100 frames
    assert helpers.plan_parts(799, 5, 2, helpers.COLD_PART_MIN_FRAMES) == [(0, 799)]
    assert helpers.plan_parts(800, 5, 2, helpers.COLD_PART_MIN_FRAMES) == [(0, 400), (400, 400)]


def test_without_waiting_helpers_a_short_video_is_tracked_here(tmp_path):
    s = Settings(cache_dir=tmp_path, tracking_processes=2)
    assert helpers.pool_for(s).ready() == 0
    assert helpers.parts_for(200, s, 5) == [(0, 200)]
    assert len(helpers.parts_for(1000, s, 5)) == 2  # long enough to pay for a helper's start


@pytest.mark.slow
def test_a_video_tracked_in_parts_matches_one_run(katie, settings, one_run):
    helpers.warm(settings, 1)
    assert helpers.parts_for(katie.n_frames, settings, 5) == [(0, 100), (100, 100)]
    ticks, faces = [], []
    runs = track_stats["runs"]
    track = track_video(katie, settings, use_cache=False, progress=ticks.append, on_face=lambda: faces.append(1))
    assert track_stats["runs"] == runs + 1
    assert track.n_frames == katie.n_frames and not track.lost.any()
    assert sum(ticks) == katie.n_frames  # the frame both parts tracked counts once
    assert faces == [1]
    # The later part starts from a fresh detection: sub-pixel differences, the same face.
    raw = helpers.track_parts(katie, settings, PARAMS, [(0, 100), (100, 100)])
    assert _mean_apart(raw.landmarks, one_run.landmarks) < 1.0
    np.testing.assert_array_equal(raw.landmarks[:100], one_run.landmarks[:100])
    assert helpers.pool_for(settings).ready() == 1  # the helper went back to the pool


def _spoiled(raw: RawTrack, n: int, *, lost: bool) -> RawTrack:
    """``raw`` with its first ``n`` frames lost, or moved onto another face 150 px aside."""
    boxes, points = raw.boxes.copy(), raw.landmarks.copy()
    flags = raw.lost.copy()
    if lost:
        boxes[:n], points[:n], flags[:n] = np.nan, np.nan, True
    else:
        boxes[:n] += 150.0
        points[:n] += 150.0
    return RawTrack(boxes, points, raw.confidence.copy(), flags)


@pytest.mark.parametrize("lost", [True, False], ids=["face missed", "other face"])
def test_a_seam_the_later_part_got_wrong_is_tracked_again(katie, settings, one_run, lost):
    earlier = helpers.track_here(katie, settings, PARAMS, 0, 101)
    later = _spoiled(helpers.track_here(katie, settings, PARAMS, 100, 100), 12, lost=lost)
    asked = []

    def retrack(first, count, seed):
        asked.append((first, count, seed is not None))
        return helpers.track_here(katie, settings, PARAMS, first, count, seed=seed)

    joined = helpers.join([earlier, later], [0, 100], retrack)
    assert len(joined.lost) == katie.n_frames and not joined.lost.any()
    assert asked == [(101, 10, True), (111, 20, True)]  # until the two agree, no further
    assert _mean_apart(joined.landmarks[100:112], one_run.landmarks[100:112]) < 1.0
    np.testing.assert_array_equal(joined.landmarks[113:], later.landmarks[13:])


def test_parts_that_agree_are_not_tracked_again(katie, settings):
    earlier = helpers.track_here(katie, settings, PARAMS, 0, 101)
    later = helpers.track_here(katie, settings, PARAMS, 100, 100)
    joined = helpers.join([earlier, later], [0, 100], lambda *a: pytest.fail("tracked again"))
    np.testing.assert_array_equal(joined.landmarks[100:], later.landmarks)
    np.testing.assert_array_equal(joined.landmarks[:100], earlier.landmarks[:100])


def test_a_part_whose_helper_fails_is_tracked_here(katie, settings, one_run, monkeypatch, caplog):
    helpers.warm(settings, 1)
    real = helpers.VideoInfo.to_json
    # The helper is sent a video that is not there: it fails, and the part is tracked here.
    monkeypatch.setattr(helpers.VideoInfo, "to_json", lambda info: {**real(info), "path": "/nonexistent.mp4"})
    ticks = []
    with caplog.at_level(logging.WARNING, logger="heygem_core.track.helpers"):
        raw = helpers.track_parts(katie, settings, PARAMS, [(0, 100), (100, 100)], progress=ticks.append)
    assert sum(ticks) == katie.n_frames  # what the helper told before failing is not told twice
    assert "tracking helper failed" in caplog.text and "frames 100-199 here" in caplog.text
    assert "/nonexistent.mp4" in caplog.text and "exit status" not in caplog.text
    # Tracked here as the helper would have: a part of its own from frame 100.
    np.testing.assert_array_equal(raw.landmarks[:100], one_run.landmarks[:100])
    np.testing.assert_array_equal(raw.landmarks[100:], helpers.track_here(katie, settings, PARAMS, 100, 100).landmarks)
    assert helpers.pool_for(settings).ready() == 1  # it failed its part, and serves again


def test_an_error_here_stops_the_helpers(katie, tmp_path):
    s = Settings(cache_dir=tmp_path, tracker="nope", tracking_processes=2)
    with pytest.raises(ModelMissing, match="unknown tracker 'nope'"):
        helpers.track_parts(katie, s, PARAMS, [(0, 100), (100, 100)])
    assert helpers.pool_for(s).ready() == 0  # the helper asked was stopped, not kept
    helpers.pool_for(s).close()


def test_a_stop_from_progress_ends_the_helpers(katie, settings):
    helpers.warm(settings, 1)

    def progress(k):
        raise KeyboardInterrupt  # what the pipeline's callback does with the audio's error

    with pytest.raises(KeyboardInterrupt):
        helpers.track_parts(katie, settings, PARAMS, [(0, 100), (100, 100)], progress=progress)
    assert helpers.pool_for(settings).ready() == 0


@pytest.mark.slow
def test_a_silent_helper_is_stopped_and_its_part_tracked_here(katie, settings, one_run, monkeypatch, caplog):
    helpers.warm(settings, 1)
    monkeypatch.setattr(helpers, "HELPER_SILENCE_S", 2.0)
    real = helpers._ask

    def ask_then_freeze(*args):
        helper = real(*args)
        os.kill(helper._proc.pid, signal.SIGSTOP)  # as if it hung
        return helper

    monkeypatch.setattr(helpers, "_ask", ask_then_freeze)
    with caplog.at_level(logging.WARNING, logger="heygem_core.track.helpers"):
        raw = helpers.track_parts(katie, settings, PARAMS, [(0, 100), (100, 100)])
    assert "silent" in caplog.text and "frames 100-199 here" in caplog.text
    assert len(raw.lost) == katie.n_frames and not raw.lost.any()


def test_a_helper_without_its_models_says_why_and_ends(tmp_path):
    helper = helpers.TrackHelper(helpers._setup(Settings(cache_dir=tmp_path, tracker="nope")))
    helper.send({"video": {}, "params": {}, "first": 0, "count": 1, "report": 1, "out": str(tmp_path / "x")})
    with pytest.raises(helpers.HelperFailed, match="unknown tracker 'nope'"):
        list(helper.messages())
    helper._proc.wait(timeout=10)  # it ends by itself: no pool keeps a helper that cannot track
    helper.close()
