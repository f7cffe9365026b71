"""The speaker-specific exemplar engine: the lecturer's own mouth, re-sequenced.

Every tracked source frame contributes its lower face to a library. For each output frame we
pick a library frame whose mouth has the planned shape (dynamic programming over runs of
consecutive source frames, so real motion is reused and joins are rare), then bend its lips
by a bounded amount to the exact target. The pixels are the speaker's own, at native
resolution: no blur, no identity drift.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .. import cache, mouth
from ..blend import Patch
from ..config import Settings, setting
from ..errors import NoFaceFound, ProcessingError
from ..track.model import STABLE, FaceTrack
from ..warp import reshape_lips
from .base import EngineJob, Motion

log = logging.getLogger(__name__)

LIBRARY_VERSION = 1
# Absolute opening (gap / eye distance) treated as "fully open" when the speaker's own
# recording never opens that far (a smiling or mumbling source).
MIN_FULL_OPENING = 0.12
# Weight of head-pose mismatch in the selection. At 1 a turned head's exemplar was chosen
# for its mouth where the speaker turns (katie, 6 s): its jaw line and the hair beyond its
# cheek showed through the mask as a second jaw and a dark smear.
POSE_WEIGHT = 3.0
# Pose mismatch is weighed against the speaker's own spread of poses, but at most this much
# (in eye distances): a similarity warp hides a small turn, whoever the speaker, and no turn
# beyond it. Katie moves her head a lot (spread 0.28): to close her smiling mouth, a closed
# one turned 0.42-0.46 away was chosen (katie + de, frames 136-139) and its jaw and cheek
# showed as a dislocated chin with a shadow line across the cheek. Capped, the path takes a
# closed mouth 0.19 away, or closes her own mouth by warping (stills: benchmarks/stills.py).
POSE_SPREAD_MAX = 0.1


@dataclass
class Library:
    frames: np.ndarray  # (L,) source frame index of each entry
    origins: np.ndarray  # (L, 2) crop origin in the source frame
    crops: np.ndarray  # (L, H, W, 3) uint8, usually a read-only memmap
    points: np.ndarray  # (L, 68, 2) landmarks in crop pixels
    opening: np.ndarray
    width: np.ndarray
    pose: np.ndarray  # (L, k) pose descriptor

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Selection:
    entry: np.ndarray  # (T,) library entry per output frame, -1 = keep the frame
    ratio: np.ndarray  # (T,) inner-lip gap scale applied to the entry
    cost: float


@dataclass(frozen=True)
class ExemplarOptions:
    """The exemplar engine's own settings (``HEYGEM_EXEMPLAR_<FIELD>``)."""

    # Further, the teeth and lip texture stretch visibly.
    max_open_stretch: float = setting(
        1.3,
        section="mouth",
        limits=(1, 3),
        doc="the exemplar engine: how far a mouth may be opened by warping, times its own opening "
        "(old name HEYGEM_MAX_OPEN_STRETCH)",
    )


class ExemplarEngine:
    name = "exemplar"
    # .2: gaps rest open, pose weighs more, top-2 candidates, pose mismatch capped at 0.1 eye distances
    # .3: entries described by the steady opening (inner and outer lips together)
    version = f"exemplar-{LIBRARY_VERSION}.3"
    Options = ExemplarOptions

    def __init__(self, settings: Settings, options: ExemplarOptions | None = None, max_library: int = 3000):
        self.settings = settings
        self.options = options or ExemplarOptions()
        self.max_library = max_library

    # -- library ------------------------------------------------------------------------
    def library(self, source, track: FaceTrack) -> Library:
        frames = choose_library_frames(track, self.max_library)
        if len(frames) == 0:
            raise NoFaceFound("no tracked frames to build a mouth library from")
        iod = track.interocular()[frames]
        size = crop_size(float(np.percentile(iod, 95)))
        origins = np.array([crop_origin(track.landmarks[f], size) for f in frames], np.int32)
        crops = self._crops(source, track, frames, origins, size)
        pts = track.landmarks[frames] - origins[:, None, :]
        # the steady opening: an entry chosen for its inner gap alone showed another opening
        # wherever the inner contour slipped (conversational clips' render followed its plan
        # at r 0.78 against GRID's 0.91, read by FaceMesh)
        opening = mouth.steady_opening(track.landmarks[frames])
        return Library(
            frames=frames,
            origins=origins,
            crops=crops,
            points=pts,
            opening=opening,
            width=mouth.width(track.landmarks[frames]),
            pose=pose_descriptor(track.landmarks[frames], pose_reference(track)),
        )

    def _crops(self, source, track, frames, origins, size) -> np.ndarray:
        w, h = size
        # Which frames and where each crop sits make the key: a track computed again (other
        # tracker settings, a deleted cache) moves the landmarks, and old crops would not fit.
        placed = hashlib.sha256(
            np.ascontiguousarray(frames, np.int64).tobytes() + np.ascontiguousarray(origins, np.int32).tobytes()
        ).hexdigest()[:16]
        key = cache.key(
            "library",
            made_by={"library": LIBRARY_VERSION},
            settings={"size": f"{w}x{h}"},
            inputs={"video": track.source_sha256, "placed": placed},
        )
        path = cache.entry(self.settings.cache_dir, "library", key, ".npy")

        def load(p: Path) -> np.ndarray:
            arr = np.load(p, mmap_mode="r")
            if arr.shape != (len(frames), h, w, 3):
                raise ValueError(f"shape {arr.shape}, expected {(len(frames), h, w, 3)}")
            return arr

        kept = cache.read(path, load, "exemplar library")
        if kept is not None:
            return kept
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temp file of this call's own: jobs on the same source in one process (the web app,
        # a flow's task threads) build at once, and one truncating the file another has
        # mapped kills the process (SIGBUS).
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp.npy", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            # A memmap on disk keeps a long source's library out of RAM.
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(frames), h, w, 3))
            reserve(tmp)  # a full disk must fail here, as an OSError, not as SIGBUS on a mapped write
            for k, crop in library_crops(source, frames, origins, size):
                arr[k] = crop
            arr.flush()
            del arr
            os.replace(tmp, path)  # atomic: a reader maps the old file or the whole new one
        finally:
            tmp.unlink(missing_ok=True)
        return np.load(path, mmap_mode="r")

    # -- selection ------------------------------------------------------------------------
    def select(self, job: EngineJob, lib: Library) -> Selection:
        return select(lib, job.track, job.base_index, job.plan, self.options.max_open_stretch)

    def drive(self, job: EngineJob) -> Motion:
        lib = self.library(job.source, job.track)
        sel = self.select(job, lib)
        # The library's frame list pins the entry numbering: the renderer rebuilds the same
        # library from the track (or its cache) and checks it matches.
        return Motion(
            engine=self.version,
            base_index=np.asarray(job.base_index, np.int64),
            arrays={
                "entry": sel.entry.astype(np.int32),
                "ratio": sel.ratio.astype(np.float32),
                "library_frames": lib.frames.astype(np.int32),
                "cost": np.array(sel.cost, np.float64),
            },
        )

    @staticmethod
    def selection(motion: Motion) -> Selection:
        a = motion.arrays
        return Selection(entry=a["entry"], ratio=a["ratio"], cost=float(a["cost"]))

    def patches(self, job: EngineJob, motion: Motion) -> Iterator[Patch | None]:
        lib = self.library(job.source, job.track)
        if not np.array_equal(lib.frames, motion.arrays["library_frames"]):
            raise ProcessingError("motion was made for another mouth library (track or engine changed)")
        sel = self.selection(motion)
        for t in range(len(sel.entry)):
            k = int(sel.entry[t])
            if k < 0:
                yield None
                continue
            if lib.frames[k] == job.base_index[t] and abs(sel.ratio[t] - 1.0) < 1e-3:
                yield None  # the frame already shows the wanted mouth
                continue
            image, pts = reshape_lips(lib.crops[k], lib.points[k], float(sel.ratio[t]))  # copies only if it warps
            yield Patch(image=image, points=pts)


def choose_library_frames(track: FaceTrack, limit: int) -> np.ndarray:
    """Tracked frames, thinned to ``limit`` as evenly spaced blocks so runs survive."""
    ok = np.flatnonzero(~track.lost)
    if len(ok) <= limit:
        return ok
    block = 50
    n_blocks = max(1, limit // block)
    starts = np.linspace(0, len(ok) - block, n_blocks).astype(int)
    return np.unique(np.concatenate([ok[s : s + block] for s in starts]))


# Library frames at least this far apart are reached by a seek rather than by decoding every
# frame between them (a seek costs the decode of up to a keyframe interval: with long
# intervals it may decode again frames the last stretch passed).
SEEK_GAP = 100


def reserve(path: Path) -> None:
    """Allocate every block of a (sparse) file now: writing through a memory map into a block
    the disk cannot give kills the process with SIGBUS, while this raises ENOSPC."""
    with open(path, "r+b") as fh:
        size = os.fstat(fh.fileno()).st_size
        if hasattr(os, "posix_fallocate") and size:
            try:
                os.posix_fallocate(fh.fileno(), 0, size)
            except OSError as err:  # it names no file: this one
                raise OSError(err.errno, err.strerror, str(path)) from None


def library_crops(
    source, frames: np.ndarray, origins: np.ndarray, size: tuple[int, int]
) -> Iterator[tuple[int, np.ndarray]]:
    """(entry, BGR crop) for every library frame, in order. A long source's library is blocks
    spread over the whole video: each stretch of nearby frames is decoded from a seek, not
    the whole video, and only each crop's part of a frame is converted to BGR."""
    from .. import media

    want = {int(f): k for k, f in enumerate(frames)}
    for first, last in _stretches(np.sort(np.asarray(frames)), SEEK_GAP):
        for i, yuv in enumerate(media.read_frames(source, first, last - first + 1, i420=True), start=first):
            k = want.get(i)
            if k is not None:
                yield k, extract_i420(yuv, origins[k], size)


def _stretches(frames: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """(first, last) of the runs of sorted ``frames`` with less than ``gap`` between neighbours."""
    if len(frames) == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) >= gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(frames) - 1]])
    return [(int(frames[a]), int(frames[b])) for a, b in zip(starts, ends)]


def extract_i420(yuv: np.ndarray, origin: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``extract`` from an I420 frame ((h * 3 / 2, w) planes): the part of the frame under
    the crop, widened to whole 2x2 chroma blocks, goes to BGR (the same pixels as converting
    the whole frame: each block shares its chroma sample), and is cut as ``extract`` cuts."""
    fh, fw = yuv.shape[0] * 2 // 3, yuv.shape[1]
    w, h = size
    x0, y0 = int(origin[0]), int(origin[1])
    ix0, iy0 = max(x0, 0) // 2 * 2, max(y0, 0) // 2 * 2
    ix1, iy1 = min(x0 + w, fw), min(y0 + h, fh)
    ix1, iy1 = min(ix1 + ix1 % 2, fw), min(iy1 + iy1 % 2, fh)
    if ix1 - ix0 < 2 or iy1 - iy0 < 2:  # the crop misses the frame: its nearest edge, repeated
        return extract(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), origin, size)
    chroma = yuv[fh:].reshape(2, fh // 2, fw // 2)
    part = [yuv[iy0:iy1, ix0:ix1]] + [plane[iy0 // 2 : iy1 // 2, ix0 // 2 : ix1 // 2] for plane in chroma]
    planes = np.concatenate([p.ravel() for p in part]).reshape((iy1 - iy0) * 3 // 2, ix1 - ix0)
    bgr = cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420)
    # Where the crop passes the frame's edge, the part's edge is the frame's: extract repeats it.
    return extract(bgr, np.array([x0 - ix0, y0 - iy0]), size)


def crop_size(iod: float) -> tuple[int, int]:
    return int(round(2.4 * iod)) // 2 * 2, int(round(2.0 * iod)) // 2 * 2


def crop_origin(pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    iod = np.linalg.norm(pts[45] - pts[36])
    cx = pts[[48, 54], 0].mean()
    top = pts[29, 1] - 0.25 * iod
    return np.array([round(cx - w / 2), round(top)], np.int32)


def extract(frame: np.ndarray, origin: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A crop that may reach past the frame edge (edge pixels repeated there)."""
    w, h = size
    fh, fw = frame.shape[:2]
    x0, y0 = int(origin[0]), int(origin[1])
    ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + w, fw), min(y0 + h, fh)
    if ix0 < ix1 and iy0 < iy1:  # slicing: fancy indexing cost ~3 ms a crop
        inner = frame[iy0:iy1, ix0:ix1]
        if (ix1 - ix0, iy1 - iy0) == (w, h):
            return inner.copy()
        return cv2.copyMakeBorder(inner, iy0 - y0, y0 + h - iy1, ix0 - x0, x0 + w - ix1, cv2.BORDER_REPLICATE)
    xs = np.clip(np.arange(x0, x0 + w), 0, fw - 1)  # wholly outside: the nearest edge, repeated
    ys = np.clip(np.arange(y0, y0 + h), 0, fh - 1)
    return frame[np.ix_(ys, xs)]


def pose_reference(track: FaceTrack) -> np.ndarray:
    return track.landmarks[~track.lost][:, STABLE].mean(0)


def pose_descriptor(landmarks: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Head pose as the residual shape of the rigid points after removing position, scale and
    roll: what a 2-D similarity warp cannot fix (yaw, pitch) shows up here.

    All frames at once: the least-squares similarity onto ``ref`` in closed form (complex
    numbers, as warp.similarity), vectorised over frames."""
    pts = np.asarray(landmarks, np.float64)[:, STABLE]
    ref = np.asarray(ref, np.float64)
    z = pts[..., 0] + 1j * pts[..., 1]  # (N, k)
    r = ref[:, 0] + 1j * ref[:, 1]
    zc = z - z.mean(1, keepdims=True)
    rc = r - r.mean()
    var = (np.abs(zc) ** 2).sum(1)
    a = np.where(var > 0, (np.conj(zc) * rc).sum(1) / np.where(var > 0, var, 1.0), 1.0)
    moved = a[:, None] * zc + r.mean()
    iod = np.linalg.norm(ref[3] - ref[0]) + 1e-9
    out = np.empty((len(pts), len(STABLE) * 2))
    out[:, 0::2] = (moved.real - ref[:, 0]) / iod
    out[:, 1::2] = (moved.imag - ref[:, 1]) / iod
    return out


def target_absolute(plan, lib: Library) -> tuple[np.ndarray, np.ndarray, float]:
    """Relative plan targets in this speaker's own units."""
    full = max(float(np.percentile(lib.opening, 95)), MIN_FULL_OPENING)
    open_abs = plan.opening * full
    w_lo, w_med, w_hi = np.percentile(lib.width, [5, 50, 95])
    spread = max((w_hi - w_lo) / 2, 0.03)
    width_abs = w_med + plan.width * spread
    return open_abs, width_abs, full


def select(
    lib: Library,
    track: FaceTrack,
    base_index: np.ndarray,
    plan,
    max_stretch: float,
    jump_cost: float = 2.0,
    hold_cost: float = 0.6,
    pose_weight: float = POSE_WEIGHT,
) -> Selection:
    """Viterbi over library entries. Moving to the next source frame is free, holding one
    costs a little, any other move costs ``jump_cost``; so the path follows real runs of
    motion and jumps where the target shape asks for it."""
    T, L = len(base_index), len(lib)
    open_abs, width_abs, full = target_absolute(plan, lib)
    sig_o = max(0.12 * full, 0.008)
    sig_w = max(np.std(lib.width), 0.02)
    # What the lip reshape can reach from each entry bounds what an entry can deliver.
    reach = np.clip(open_abs[:, None], 0.0, lib.opening[None, :] * max_stretch)
    closing = plan.closed[:, None]
    unary = ((lib.opening[None, :] - reach) / sig_o) ** 2 * 0.5
    unary += ((reach - open_abs[:, None]) / sig_o) ** 2
    # A closure can always be made by warping, but a nearly closed real mouth looks best.
    unary += np.where(closing, (lib.opening[None, :] / sig_o) ** 2 * 0.5, 0.0)
    unary += ((lib.width[None, :] - width_abs[:, None]) / sig_w) ** 2 * 0.3
    base_pose = pose_descriptor_at(track, base_index)
    spread = float(np.median(np.linalg.norm(lib.pose - lib.pose.mean(0), axis=1)))
    sig_p = min(max(spread, 1e-3), POSE_SPREAD_MAX)
    # |a-b|^2 expanded: a (T, L, k) difference array would not fit in memory for long jobs.
    bp, lp = base_pose.astype(np.float32), lib.pose.astype(np.float32)
    pose_d = ((bp**2).sum(1)[:, None] + (lp**2).sum(1)[None, :] - 2 * bp @ lp.T) / sig_p**2
    unary += pose_weight * pose_d

    consecutive = np.zeros(L, bool)
    consecutive[1:] = np.diff(lib.frames) == 1
    back = np.zeros((T, L), np.int32)
    cost = unary[0].copy()
    for t in range(1, T):
        best_prev = int(np.argmin(cost))
        jump = cost[best_prev] + jump_cost
        step = np.full(L, np.inf)
        step[1:][consecutive[1:]] = cost[:-1][consecutive[1:]]
        hold = cost + hold_cost
        choice = np.stack([step, hold, np.full(L, jump)])
        arg = np.argmin(choice, axis=0)
        new = choice[arg, np.arange(L)]
        back[t] = np.where(arg == 0, np.arange(L) - 1, np.where(arg == 1, np.arange(L), best_prev))
        cost = new + unary[t]
    path = np.empty(T, np.int64)
    path[-1] = int(np.argmin(cost))
    total = float(cost[path[-1]])
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]

    ex_open = lib.opening[path]
    ratio = np.where(ex_open > 1e-3, reach[np.arange(T), path] / np.maximum(ex_open, 1e-3), 1.0)
    ratio = np.where(plan.closed, 0.0, np.clip(ratio, 0.0, max_stretch))
    entry = np.where(track.lost[base_index], -1, path)
    return Selection(entry=entry, ratio=ratio, cost=total)


def pose_descriptor_at(track: FaceTrack, frames: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(frames, return_inverse=True)
    pts = track.landmarks[uniq]
    pts = np.where(np.isfinite(pts), pts, np.nanmean(track.landmarks[~track.lost], axis=0))
    return pose_descriptor(pts, pose_reference(track))[inv]
