"""heygem_core.sequence: index tables, and reads in that order against full decodes."""

from __future__ import annotations

import numpy as np
import pytest

from heygem_core import media, sequence
from heygem_core.media import VideoInfo

from .test_media import KATIE, _digest, full_read_hashes


@pytest.fixture(scope="session")
def katie(fixtures_dir) -> VideoInfo:
    return media.probe_video(fixtures_dir / KATIE)


# --------------------------------------------------------------------------- index sequences


@pytest.mark.parametrize(
    "n_source, n_out, mode, expected",
    [
        (4, 10, "pingpong", [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]),
        (3, 9, "pingpong", [0, 1, 2, 1, 0, 1, 2, 1, 0]),
        (2, 5, "pingpong", [0, 1, 0, 1, 0]),
        (1, 3, "pingpong", [0, 0, 0]),
        (4, 10, "loop", [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]),
        (5, 3, "pingpong", [0, 1, 2]),  # audio shorter than video: a cut
        (5, 3, "loop", [0, 1, 2]),
        (5, 0, "pingpong", []),
    ],
)
def test_frame_indices_table(n_source, n_out, mode, expected):
    assert sequence.frame_indices(n_source, n_out, mode).tolist() == expected


def test_pingpong_never_shows_a_frame_twice_in_a_row():
    idx = sequence.frame_indices(7, 100)
    assert np.all(np.abs(np.diff(idx)) == 1)
    assert idx.min() == 0 and idx.max() == 6


@pytest.mark.parametrize("args", [(0, 5), (3, -1), (3, 5, "bounce")])
def test_frame_indices_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        sequence.frame_indices(*args)


# cache_bytes 0: every run decoded (and backward runs reversed) on its own; the default keeps
# the frames of a revisiting sequence from one forward decode.
@pytest.mark.parametrize("cache_bytes", [0, sequence.SEQUENCE_CACHE_BYTES])
def test_read_frame_sequence_pingpong_and_loop(katie, cache_bytes):
    hashes = full_read_hashes(katie)
    for mode in ("pingpong", "loop"):
        indices = 150 + sequence.frame_indices(20, 45, mode)
        got = [_digest(f) for f in sequence.read_frame_sequence(katie, indices, cache_bytes=cache_bytes)]
        assert got == [hashes[i] for i in indices], mode


@pytest.mark.parametrize("cache_bytes", [0, sequence.SEQUENCE_CACHE_BYTES])
def test_read_frame_sequence_repeats_and_jumps(katie, cache_bytes):
    hashes = full_read_hashes(katie)
    indices = np.array([5, 5, 5, 80, 3, 4, 2])
    got = [_digest(f) for f in sequence.read_frame_sequence(katie, indices, cache_bytes=cache_bytes)]
    assert got == [hashes[i] for i in indices]
    with pytest.raises(ValueError):
        sequence.read_frame_sequence(katie, np.array([0, katie.n_frames]))


def test_pingpong_over_a_short_source_decodes_it_once(katie, monkeypatch):
    started = []
    real_popen = media.subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(args[0])
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(media.subprocess, "Popen", recording_popen)
    indices = sequence.frame_indices(katie.n_frames, 3 * katie.n_frames)
    first = None
    for t, frame in enumerate(sequence.read_frame_sequence(katie, indices, i420=True)):
        if t == 0:
            first = frame.copy()
        if t == 2 * (katie.n_frames - 1):  # frame 0 again, after one pass up and back
            np.testing.assert_array_equal(frame, first)
        frame[:] = 0  # the consumer draws on what it gets; later repeats must not see it
    assert t == len(indices) - 1 and first.any()
    assert len(started) == 1
