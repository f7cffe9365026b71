"""Tracking a long video in parts, one per core, each in a helper process with the models loaded.

dlib's landmark predictor holds the GIL (~3 ms a frame here, most of tracking), so threads
cannot share the work. A video of at least two ``PART_MIN_FRAMES`` parts is cut at keyframes
into one part per core; each part is tracked by a helper (``python -m
heygem_core.track.helpers``) that decodes its own frames from a seek. Helpers wait in a
process-wide pool, so a worker or the web app loads the models once per helper.

A part starts with a full detection, so where two parts meet the later one may have picked
another face than the run before it followed, or missed a face it would have kept. Each such
seam is tracked again here, carrying on from the earlier part, until the two agree. A part
whose helper fails is tracked here instead: slower, same result (the same error, if its
frames are bad).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..probe import VideoInfo
from ..workers import HelperFailed, HelperPool, ProcessHelper, cores
from .tracker import RawTrack, Seed, Tracker, TrackParams, _iou

log = logging.getLogger(__name__)

# A part is at least this long: with helpers waiting, a request costs a seek and a decoder;
# without, a helper's start (imports and dlib's predictor: 1.3-1.4 s to its first answer on
# a quiet machine) is ~250 frames of tracking, so a short video is tracked here alone.
PART_MIN_FRAMES = 100
COLD_PART_MIN_FRAMES = 400
_TICK = 10  # a helper reports progress every this many frames
# A helper not heard from for this long (it reports every _TICK frames, and loads its models
# in a few seconds) is taken for hung: it is stopped and its part tracked here.
HELPER_SILENCE_S = 60.0
# At most this many parts, whatever the core count: a loaded dlib helper holds ~160 MB (RSS).
MAX_PARTS = 8
# Two parts agree on a frame when both lost it, or both found the same face: boxes overlapping
# this much and points this close (fraction of the eye distance).
_SAME_BOX_IOU = 0.5
_SAME_POINTS = 0.1


def parts_for(n_frames: int, settings, detect_every: int) -> list[tuple[int, int]]:
    """How this process cuts a video: helpers already waiting take shorter parts."""
    wanted = settings.tracking_processes if settings.tracking_processes > 0 else min(cores(), MAX_PARTS)
    warm = wanted > 1 and pool_for(settings).ready() >= wanted - 1
    return plan_parts(n_frames, detect_every, wanted, PART_MIN_FRAMES if warm else COLD_PART_MIN_FRAMES)


def plan_parts(
    n_frames: int, detect_every: int, processes: int, min_frames: int = PART_MIN_FRAMES
) -> list[tuple[int, int]]:
    """(first frame, frame count) of each part: ``processes`` parts, fewer when parts would
    be shorter than ``min_frames``; each cut on a keyframe."""
    n = max(1, min(processes, n_frames // min_frames))
    starts = sorted({round(n_frames * k / n / detect_every) * detect_every for k in range(n)})
    ends = [*starts[1:], n_frames]
    return [(a, b - a) for a, b in zip(starts, ends) if b > a]


# --------------------------------------------------------------------------- this process


class TrackHelper(ProcessHelper):
    """One helper process with the models of one backend loaded: ``send`` a part, then read
    its ``messages`` until "done"."""

    def __init__(self, setup: dict) -> None:
        super().__init__(__name__)
        self.send(setup)  # the models load while the caller goes on

    def send(self, message: dict) -> None:
        self._write(json.dumps(message).encode() + b"\n")

    def messages(self):
        """(kind, value) pairs: ("tick", frames), ("face", None), ("done", None); raises
        HelperFailed when the helper fails or ends without finishing."""
        for line in self._proc.stdout:
            kind, _, rest = line.decode().strip().partition(" ")
            if kind == "tick":
                yield "tick", int(rest)
            elif kind == "face":
                yield "face", None
            elif kind == "done":
                yield "done", None
                return
            elif kind == "error":  # it failed on this part, and waits for the next
                raise HelperFailed(rest)
            else:
                raise self._failed(f"unreadable answer {line[:80]!r}")
        raise self._failed("ended without an answer")


_pools: dict[str, HelperPool[TrackHelper]] = {}
_pools_lock = threading.Lock()


def _setup(settings) -> dict:
    root = settings.insightface_root
    return {
        "tracker": settings.tracker,
        "cache_dir": str(settings.cache_dir),
        "insightface_root": None if root is None else str(root),
    }


def pool_for(settings) -> HelperPool[TrackHelper]:
    """The helpers with ``settings``' backend loaded (one pool per backend and model folder)."""
    setup = _setup(settings)
    key = json.dumps(setup, sort_keys=True)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = HelperPool(lambda: TrackHelper(setup), keep=cores())
        return _pools[key]


def _end_all() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.end()


atexit.register(_end_all)


def warm(settings, n: int | None = None) -> None:
    """Have ``n`` tracking helpers loaded and waiting (default: one per core but one; the
    caller tracks the first part itself)."""
    pool_for(settings).warm(cores() - 1 if n is None else n, HelperFailed)


def track_parts(
    info, settings, params: TrackParams, parts: list[tuple[int, int]], *, progress=None, on_face=None
) -> RawTrack:
    """Track the first part here and the others in helpers, all at once, then join them
    (seams re-tracked where needed). Every part but the last also tracks the next part's
    first frame: where both tracked the same frame, whether they agree says whether the later
    part needs mending."""
    pool = pool_for(settings)
    out = tempfile.TemporaryDirectory(prefix="heygem-track-")
    spans = [(first, count + (k < len(parts) - 1)) for k, (first, count) in enumerate(parts)]
    news = _News(progress, _Once(on_face))
    check = _checking(progress)  # work that reports no frames still stops on the caller's error
    try:
        for k, (first, count) in enumerate(spans[1:], 1):
            helper = _ask(pool, info, params, first, count, parts[k][1], Path(out.name) / f"{k}.npz")
            if helper is not None:
                news.follow(k, helper)
        pieces = [track_here(info, settings, params, *spans[0], progress=news.here(parts[0][1]), on_face=news.face)]
        news.wait()
        for k, (first, count) in enumerate(spans[1:], 1):
            helper = news.helpers.pop(k, None)
            if helper is not None:
                pool.give_back(helper)  # one that failed its part but lives can serve again
            if helper is not None and k not in news.failed:
                pieces.append(_load(Path(out.name) / f"{k}.npz"))
            else:
                log.warning(
                    "tracking helper failed (%s); tracking frames %d-%d here",
                    news.failed.get(k, "could not start"),
                    first,
                    first + count - 1,
                )
                pieces.append(
                    track_here(
                        info,
                        settings,
                        params,
                        first,
                        count,
                        on_face=news.face,
                        progress=news.here(parts[k][1] - news.told.get(k, 0)),
                    )
                )
        return join(
            pieces,
            [first for first, _ in parts],
            lambda first, count, seed: track_here(info, settings, params, first, count, seed=seed, progress=check),
        )
    finally:
        for helper in news.helpers.values():
            helper.kill()  # still tracking a part nobody waits for
        out.cleanup()


def _checking(progress):
    """A progress callback that reports no frames but still lets the caller stop the work."""
    if progress is None:
        return None
    return lambda k=1: progress(0)


class _News:
    """The helpers' news (progress, a first face, done or failed), passed on in the caller's
    thread, where ``progress`` may raise to stop the tracking. A helper silent for
    HELPER_SILENCE_S is stopped, and its part tracked here."""

    def __init__(self, progress, face: "_Once") -> None:
        self.progress = progress
        self.face = face
        self.events: queue.Queue = queue.Queue()
        self.helpers: dict[int, TrackHelper] = {}
        self.told: dict[int, int] = {}  # frames each helper has reported
        self.heard: dict[int, float] = {}  # when each running helper was last heard
        self.failed: dict[int, str] = {}

    def follow(self, k: int, helper: TrackHelper) -> None:
        self.helpers[k] = helper
        self.heard[k] = time.monotonic()
        threading.Thread(target=_relay, args=(k, helper, self.events), daemon=True).start()

    def here(self, frames: int):
        """Progress for frames tracked in this process: at most ``frames`` reported (a part's
        extra frame, or what its failed helper already told, is not counted twice), and the
        helpers' news passed on between frames."""
        left = [frames]

        def tick(k: int = 1) -> None:
            self._drain(block=False)
            k = min(k, left[0])
            left[0] -= k
            if self.progress is not None:
                self.progress(k)

        return tick

    def wait(self) -> None:
        """Until every helper has finished (or failed, or been stopped for silence)."""
        while self.heard:
            self._drain(block=True)

    def _drain(self, block: bool) -> None:
        while True:
            try:
                k, kind, value = self.events.get(block=block, timeout=1.0 if block else None)
            except queue.Empty:
                if block:
                    self._stop_the_silent()
                    if self.progress is not None:
                        self.progress(0)
                return
            block = False
            self.heard[k] = time.monotonic()
            if kind == "tick":
                self.told[k] = self.told.get(k, 0) + value
                if self.progress is not None:
                    self.progress(value)
            elif kind == "face":
                self.face()
            else:  # done or failed: this helper is finished
                del self.heard[k]
                if kind == "failed":
                    self.failed[k] = value

    def _stop_the_silent(self) -> None:
        now = time.monotonic()
        for k, when in list(self.heard.items()):
            if now - when > HELPER_SILENCE_S:
                log.warning("tracking helper silent for %.0f s: stopped", now - when)
                self.helpers[k].kill()  # its relay then reports it failed


class _Once:
    """``on_face``, called at most once whichever part finds a face first."""

    def __init__(self, call) -> None:
        self._call = call

    def __call__(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call()


def _ask(pool, info, params: TrackParams, first: int, count: int, report: int, out: Path) -> TrackHelper | None:
    try:
        helper = pool.borrow()
        helper.send(
            {
                "video": info.to_json(),
                "params": params.as_dict(),
                "first": first,
                "count": count,
                "report": report,
                "out": str(out),
            }
        )
        return helper
    except HelperFailed as err:
        log.warning("tracking helper unavailable: %s", err)
        return None


def _relay(k: int, helper: TrackHelper, events: queue.Queue) -> None:
    try:
        for kind, value in helper.messages():
            events.put((k, kind, value))
    except HelperFailed as err:
        events.put((k, "failed", str(err)))


def track_here(
    info,
    settings,
    params: TrackParams,
    first: int,
    count: int,
    *,
    seed: Seed | None = None,
    progress=None,
    on_face=None,
) -> RawTrack:
    """Frames ``first`` .. ``first + count - 1`` tracked in this process."""
    from .. import media
    from .backends import leased_backend

    with leased_backend(settings.tracker, settings) as backend:
        read = media.read_gray_frames if backend.wants_gray else media.read_frames
        return Tracker(backend, params).run(
            read(info, first, count), progress=progress, on_face=on_face, first=first, seed=seed
        )


def join(pieces: list[RawTrack], firsts: list[int], retrack: Callable[[int, int, Seed | None], RawTrack]) -> RawTrack:
    """The parts (each but the last one frame longer: the next part's first frame) as one
    track. Where a part's first frame disagrees with the part before's last (another face
    chosen, or a face missed that the run before would have kept), the part's frames after it
    are tracked again by ``retrack(first, count, seed)``, carrying on from the part before, up
    to the first frame both agree on."""
    track = pieces[0]
    for piece, first in zip(pieces[1:], firsts[1:]):
        last = len(track.lost) - 1  # frame ``first``, tracked by both
        if _agree(track, last, piece, 0):
            track = _concat_all([_slice(track, 0, last), piece])
        else:
            rest = _mend(_slice(piece, 1, len(piece.lost)), first + 1, Seed.of_frame(track, last), retrack)
            track = _concat_all([track, rest])
    return track


def _mend(
    piece: RawTrack, first: int, seed: Seed | None, retrack: Callable[[int, int, Seed | None], RawTrack]
) -> RawTrack:
    """``piece`` (frames from ``first``) with its first frames tracked again from ``seed``
    until the two agree, in growing steps: most seams agree within a keyframe or two."""
    count = len(piece.lost)
    done = 0
    redone: list[RawTrack] = []
    step = 10
    while done < count:
        n = min(step, count - done)
        again = retrack(first + done, n, seed)
        for j in range(n):
            if _agree(again, j, piece, done + j):
                return _concat_all([*redone, _slice(again, 0, j), _slice(piece, done + j, count)])
        redone.append(again)
        seed = Seed.of_frame(again, n - 1)
        done += n
        step *= 2
    return _concat_all(redone) if redone else piece


def _agree(a: RawTrack, i: int, b: RawTrack, j: int) -> bool:
    if a.lost[i] or b.lost[j]:
        return bool(a.lost[i] and b.lost[j])
    eyes = float(np.linalg.norm(a.landmarks[i, 36] - a.landmarks[i, 45]))
    apart = float(np.linalg.norm(a.landmarks[i] - b.landmarks[j], axis=1).mean())
    return _iou(a.boxes[i], b.boxes[j]) >= _SAME_BOX_IOU and apart <= _SAME_POINTS * eyes


def _slice(raw: RawTrack, a: int, b: int) -> RawTrack:
    return RawTrack(raw.boxes[a:b], raw.landmarks[a:b], raw.confidence[a:b], raw.lost[a:b])


def _concat_all(pieces: list[RawTrack]) -> RawTrack:
    return RawTrack(
        *(np.concatenate([getattr(p, f) for p in pieces]) for f in ("boxes", "landmarks", "confidence", "lost"))
    )


def _load(path: Path) -> RawTrack:
    with np.load(path) as data:
        return RawTrack(data["boxes"], data["landmarks"], data["confidence"], data["lost"])


# --------------------------------------------------------------------------- the helper process


def _serve() -> None:
    """Helper process: a first line names the backend (loaded at once); then each line asks
    for one part, answered by "tick N" lines, "face" at its first face, and "done" once its
    track is written (or "error" and why)."""
    from ..config import Settings
    from .backends import leased_backend

    stdin = sys.stdin.buffer
    # The answers get a descriptor of their own; fd 1 goes to stderr, so what a library prints
    # (insightface announces every model it loads) cannot garble them.
    stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    setup = json.loads(stdin.readline())
    root = setup["insightface_root"]
    settings = Settings(
        tracker=setup["tracker"],
        cache_dir=Path(setup["cache_dir"]),
        insightface_root=None if root is None else Path(root),
    )

    def say(line: str) -> None:
        stdout.write(line + "\n")
        stdout.flush()

    try:
        with leased_backend(settings.tracker, settings):
            pass  # loaded before the first request
    except Exception as err:  # noqa: BLE001 - each request says so; the caller tracks it itself
        loading: str | None = f"{type(err).__name__}: {err}"
    else:
        loading = None
    for line in stdin:
        if loading is not None:
            say(f"error {loading}")
            return  # a helper without its models serves nobody: it ends, not back to the pool
        request = json.loads(line)
        ticked, untold = [0], [request["report"]]  # frames tracked, not yet told; left to tell

        def tick(k: int = 1) -> None:
            k = min(k, untold[0])
            ticked[0] += k
            untold[0] -= k
            if ticked[0] >= _TICK:
                say(f"tick {ticked[0]}")
                ticked[0] = 0

        try:
            raw = track_here(
                VideoInfo.from_json(request["video"]),
                settings,
                TrackParams(**request["params"]),
                request["first"],
                request["count"],
                progress=tick,
                on_face=lambda: say("face"),
            )
            if ticked[0]:
                say(f"tick {ticked[0]}")
            np.savez(request["out"], boxes=raw.boxes, landmarks=raw.landmarks, confidence=raw.confidence, lost=raw.lost)
        except Exception as err:  # noqa: BLE001 - reported; the caller tracks the part itself
            say(f"error {type(err).__name__}: {err}".replace("\n", " "))
        else:
            say("done")


if __name__ == "__main__":
    _serve()
