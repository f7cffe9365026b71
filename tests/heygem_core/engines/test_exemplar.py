"""Exemplar engine pieces that need no audio: crops of the mouth library."""
import numpy as np
import pytest

from heygem_core.engines.exemplar import extract


def _reference(frame, origin, size):
    """The crop by definition: pixel (x, y) of the frame, coordinates clamped into it."""
    w, h = size
    ys = np.clip(np.arange(origin[1], origin[1] + h), 0, frame.shape[0] - 1)
    xs = np.clip(np.arange(origin[0], origin[0] + w), 0, frame.shape[1] - 1)
    return frame[ys][:, xs]


@pytest.mark.parametrize("origin, size", [
    ((40, 30), (100, 80)),  # inside
    ((-25, 10), (100, 80)),  # past the left edge
    ((250, 200), (100, 80)),  # past the right and bottom edges
    ((-10, -10), (400, 300)),  # larger than the frame
    ((500, -300), (20, 20)),  # wholly outside
])
def test_extract_repeats_edge_pixels_past_the_frame(origin, size):
    frame = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    before = frame.copy()
    got = extract(frame, np.array(origin), size)
    assert got.shape == (size[1], size[0], 3)
    np.testing.assert_array_equal(got, _reference(frame, origin, size))
    got[:] = 0
    np.testing.assert_array_equal(frame, before)  # a crop is a copy, never a view onto the frame
