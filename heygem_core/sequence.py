"""Which source frame each output frame shows, and reading a source in that order.

An output longer than its source shows the source again (ping-pong or loop); the reads here
stream forward and backward runs through ``media`` and, when the frames shown fit a bound,
decode each once and keep it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from heygem_core.media import Frames, VideoInfo, read_frames, read_frames_reversed


def frame_indices(n_source: int, n_out: int, mode: str = "pingpong") -> np.ndarray:
    """Which source frame each of ``n_out`` output frames shows.

    "pingpong": 0..n-1, n-2..0, 1..n-1, ... (the turning frames are not shown twice);
    "loop": 0..n-1, 0..n-1, ...; both are a plain cut when ``n_out <= n_source``.
    """
    if n_source < 1:
        raise ValueError("n_source must be at least 1")
    if n_out < 0:
        raise ValueError("n_out must not be negative")
    t = np.arange(n_out, dtype=np.int64)
    if mode == "loop":
        return t % n_source
    if mode != "pingpong":
        raise ValueError(f"unknown extend mode {mode!r}: use 'pingpong' or 'loop'")
    if n_source == 1:
        return np.zeros(n_out, dtype=np.int64)
    period = 2 * (n_source - 1)
    phase = t % period
    return np.where(phase < n_source, phase, period - phase)


def _runs(indices: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """Split an index sequence into (first, length, step) runs with step +1, -1 or 0."""
    i, n = 0, len(indices)
    while i < n:
        first = int(indices[i])
        step = int(indices[i + 1]) - first if i + 1 < n else 1
        if step not in (1, -1, 0):
            step = 1
        length = 1
        while i + length < n and int(indices[i + length]) == first + step * length:
            length += 1
        yield first, length, step
        i += length


SEQUENCE_CACHE_BYTES = 256 << 20


def read_frame_sequence(
    info: VideoInfo, indices: np.ndarray, i420: bool = False, cache_bytes: int = SEQUENCE_CACHE_BYTES
) -> Frames:
    """Frames for an index sequence of forward and backward runs (as frame_indices makes),
    streamed: forward runs with read_frames, backward runs with read_frames_reversed. When
    the sequence shows frames again (a short source ping-ponged under long audio) and the
    frames it shows fit in ``cache_bytes``, each is decoded once and kept instead."""
    indices = np.asarray(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= info.n_frames):
        raise ValueError(f"frame indices outside 0..{info.n_frames - 1} for {info.path}")
    if indices.size:
        last = int(indices.max())
        frame_bytes = info.out_height * info.out_width * 3 // (2 if i420 else 1)
        if indices.size > last + 1 and (last + 1) * frame_bytes <= cache_bytes:
            return _decode_kept(info, indices, last, i420)
    return _decode_runs(info, indices, i420)


def _decode_kept(info: VideoInfo, indices: np.ndarray, last: int, i420: bool) -> Frames:
    """One forward decode of frames 0..last, kept as they arrive; each index is served as a
    copy (the consumer may draw on it). The decode runs only as far as the sequence has
    asked, so a ping-pong's first pass streams as before."""
    kept: list[np.ndarray] = []
    frames = read_frames(info, 0, last + 1, i420)
    try:
        for index in indices:
            while len(kept) <= index:
                kept.append(next(frames))  # read_frames raises on a short decode
            yield kept[index].copy()
    finally:
        frames.close()


def _decode_runs(info: VideoInfo, indices: np.ndarray, i420: bool = False) -> Frames:
    for first, length, step in _runs(indices):
        if step == 1:
            yield from read_frames(info, first, length, i420)
        elif step == -1:
            yield from read_frames_reversed(info, first, first - length, i420=i420)
        else:
            [frame] = read_frames(info, first, 1, i420)
            for _ in range(length):
                yield frame.copy()  # copies: the consumer may draw on each one
