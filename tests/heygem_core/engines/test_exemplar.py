"""Exemplar engine pieces that need no audio: crops of the mouth library."""

import numpy as np
import pytest

from heygem_core.engines.exemplar import extract, extract_i420, library_crops


def _reference(frame, origin, size):
    """The crop by definition: pixel (x, y) of the frame, coordinates clamped into it."""
    w, h = size
    ys = np.clip(np.arange(origin[1], origin[1] + h), 0, frame.shape[0] - 1)
    xs = np.clip(np.arange(origin[0], origin[0] + w), 0, frame.shape[1] - 1)
    return frame[ys][:, xs]


@pytest.mark.parametrize(
    "origin, size",
    [
        ((40, 30), (100, 80)),  # inside
        ((-25, 10), (100, 80)),  # past the left edge
        ((250, 200), (100, 80)),  # past the right and bottom edges
        ((-10, -10), (400, 300)),  # larger than the frame
        ((500, -300), (20, 20)),  # wholly outside
    ],
)
def test_extract_repeats_edge_pixels_past_the_frame(origin, size):
    frame = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    before = frame.copy()
    got = extract(frame, np.array(origin), size)
    assert got.shape == (size[1], size[0], 3)
    np.testing.assert_array_equal(got, _reference(frame, origin, size))
    got[:] = 0
    np.testing.assert_array_equal(frame, before)  # a crop is a copy, never a view onto the frame


@pytest.mark.parametrize(
    "origin, size",
    [
        ((40, 30), (100, 80)),
        ((41, 31), (101, 81)),  # odd place and size: the part is widened to whole chroma blocks
        ((-25, 11), (100, 80)),
        ((251, 201), (100, 80)),
        ((-10, -10), (400, 300)),
        ((500, -300), (20, 20)),
    ],
)
def test_an_i420_crop_is_the_crop_of_the_bgr_frame(origin, size):
    import cv2

    rng = np.random.default_rng(5)
    yuv = rng.integers(0, 256, (240 * 3 // 2, 320), dtype=np.uint8)
    want = extract(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), np.array(origin), size)
    np.testing.assert_array_equal(extract_i420(yuv, np.array(origin), size), want)


def test_library_crops_seek_to_far_apart_blocks(fixtures_dir, monkeypatch):
    from heygem_core import media

    sun = media.probe_video(fixtures_dir / "video" / "sun_silent_22s.mp4")
    frames = np.concatenate([np.arange(3, 40), np.arange(60, 90), np.arange(300, 330), [549]])
    origins = np.stack([np.arange(len(frames)) % 50 - 20, np.arange(len(frames)) % 70 + 300], 1)
    size = (180, 150)
    full = list(media.read_frames(sun))
    starts = []
    real = media.read_frames
    monkeypatch.setattr(
        media,
        "read_frames",
        lambda info, start=0, count=None, i420=False: starts.append((start, count)) or real(info, start, count, i420),
    )
    got = list(library_crops(sun, frames, origins, size))
    assert [k for k, _ in got] == list(range(len(frames)))
    for k, crop in got:
        np.testing.assert_array_equal(crop, extract(full[frames[k]], origins[k], size), err_msg=str(k))
    # 3..89 decoded through (gap of 21), then a seek to 300 and one to 549.
    assert starts == [(3, 87), (300, 30), (549, 1)]


_BUILD_AT_ONCE = """
import sys, threading
from pathlib import Path
from heygem_core import media
from heygem_core.config import Settings
from heygem_core.engines.exemplar import ExemplarEngine
from heygem_core.track import track_video
settings = Settings(cache_dir=Path(sys.argv[1]))
info = media.probe_video(sys.argv[2])
track = track_video(info, settings)
errors, sums = [], []
def build():
    try:
        sums.append(int(ExemplarEngine(settings).library(info, track).crops.sum(dtype="int64")))
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=build) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors, len(set(sums)), len(sums))
"""


@pytest.mark.slow
def test_jobs_on_one_source_build_its_library_at_once(tmp_path):
    # Two web jobs (or two rows of a sheet) on the same recording build its mouth library in
    # one process at the same time. With one temp file per process they truncated each
    # other's mapped file: FileNotFoundError, 'mmap length is greater than file size', or the
    # whole process killed by SIGBUS, hence the child process here.
    import subprocess
    import sys

    from tests.paths import VIDEOS

    done = subprocess.run(
        [sys.executable, "-c", _BUILD_AT_ONCE, str(tmp_path / "cache"), str(VIDEOS["katie_8s"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "[] 1 4", done.stdout
    assert len([f for f in (tmp_path / "cache" / "library").rglob("*") if f.is_file()]) == 1, (
        "a temp file was left behind"
    )


def test_a_moved_track_gets_crops_of_its_own(tmp_path, fixtures_dir):
    # Crops cut at a track's landmarks must not be served to another track of the same
    # video (tracked again with other settings, or after its cache was lost).
    import dataclasses

    from heygem_core import media
    from heygem_core.config import Settings
    from heygem_core.engines.exemplar import ExemplarEngine
    from heygem_core.track import track_video

    settings = Settings(cache_dir=tmp_path)
    info = media.probe_video(fixtures_dir / "video" / "katie_8s.mp4")
    track = track_video(info, settings)
    first = ExemplarEngine(settings).library(info, track)
    moved = dataclasses.replace(track, landmarks=track.landmarks + np.float32(6.0))
    second = ExemplarEngine(settings).library(info, moved)
    assert len(list((tmp_path / "library").rglob("*.npy"))) == 2
    assert not np.array_equal(first.crops[0], second.crops[0])
    again = ExemplarEngine(settings).library(info, track)
    np.testing.assert_array_equal(again.crops[5], first.crops[5])
    assert len(list((tmp_path / "library").rglob("*.npy"))) == 2


def test_no_mouth_is_taken_from_a_head_turned_far_from_the_frame(tmp_path):
    # Katie turns her head a lot, so her own spread of poses made large turns cheap: to close
    # her smiling mouth for German bilabials, closed mouths turned 0.42-0.46 eye distances away
    # were pasted (frames 136-139), and their jaw and cheek showed as a dislocated chin.
    from heygem_core import media, pipeline
    from heygem_core.config import Settings
    from heygem_core.engines.exemplar import pose_descriptor, pose_reference
    from heygem_core.track import track_video
    from tests.paths import LANGUAGE_AUDIO, VIDEOS

    settings = Settings(cache_dir=tmp_path)
    info = media.probe_video(VIDEOS["katie_8s"])
    track = track_video(info, settings)
    plan, n_out, _ = pipeline.analyse_audio(LANGUAGE_AUDIO["de"], float(info.fps), None, "de", settings)
    motion = pipeline.decide(info, track, plan, n_out, settings)
    entry, base = motion.arrays["entry"], motion.base_index
    chosen = motion.arrays["library_frames"][entry[entry >= 0]]
    pose = pose_descriptor(track.landmarks, pose_reference(track))
    turn = np.linalg.norm(pose[chosen] - pose[base[entry >= 0]], axis=1)
    assert (chosen != base[entry >= 0]).sum() > 20, "the test needs mouths from other frames"
    assert turn.max() <= 0.3, f"a mouth turned {turn.max():.2f} eye distances from its frame"
