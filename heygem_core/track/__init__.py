"""Face tracking: once per source video, cached as Parquet under the video's content hash."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import cache, filefacts
from ..config import Settings
from ..errors import NoFaceFound
from .model import FaceTrack, describe_lost
from .store import read_track, track_path, write_track
from .tracker import TrackParams, smooth_landmarks

log = logging.getLogger(__name__)

__all__ = ["FaceTrack", "track_video", "describe_lost", "TrackParams", "track_stats", "version"]

# Counts tracking passes actually run (not cache hits); tests and benchmarks read it.
track_stats = {"runs": 0}


def version(settings: Settings) -> str:
    """The declared versions of what makes a track with ``settings``: enters cache keys."""
    from .store import made_by

    return " ".join(f"{k}={v}" for k, v in sorted(made_by(settings.tracker).items()))


def params_from(settings: Settings) -> TrackParams:
    return TrackParams(
        detect_every=settings.detect_every, detect_max_side=settings.detect_max_side, speaker=settings.speaker
    )


def track_video(
    video, settings: Settings, *, source_sha256: str | None = None, use_cache: bool = True, progress=None, on_face=None
) -> FaceTrack:
    """Track the speaking face of ``video`` (a path or a ``media.VideoInfo``).

    Reads the cached Parquet track when one exists for the same content, backend and
    parameters. Raises ``NoFaceFound`` when no frame has a face. ``progress(1)`` is called
    after each tracked frame, ``on_face()`` once, when tracking first finds a face."""
    from .. import media

    info = video if isinstance(video, media.VideoInfo) else media.probe_video(video, settings.cache_dir)
    sha = source_sha256 or filefacts.sha256(info.path, settings.cache_dir)
    params = params_from(settings)
    path = track_path(settings.cache_dir, sha, settings.tracker, params.as_dict())
    track = cache.read(path, read_track, "face track") if use_cache else None
    if track is not None:
        log.info("face track for %s read from cache %s", info.path, path)
        # Checked after the read: a cached track without a face is a valid answer
        # (NoFaceFound), not a damaged file to warn about and recompute.
        return _checked(track, info.path)
    from . import helpers  # not at import: ``python -m heygem_core.track.helpers`` runs it

    parts = helpers.parts_for(info.n_frames, settings, params.detect_every)
    if len(parts) > 1:
        raw = helpers.track_parts(info, settings, params, parts, progress=progress, on_face=on_face)
    else:
        raw = helpers.track_here(info, settings, params, 0, info.n_frames, progress=progress, on_face=on_face)
    track_stats["runs"] += 1
    fps = float(info.fps)
    track = FaceTrack(
        source_sha256=sha,
        backend=settings.tracker,
        width=info.out_width,
        height=info.out_height,
        fps=fps,
        time=np.arange(len(raw.lost)) / fps,
        boxes=raw.boxes,
        landmarks=smooth_landmarks(raw.landmarks, raw.lost, fps),
        confidence=raw.confidence,
        lost=raw.lost,
        params=params.as_dict(),
    )
    if use_cache:
        write_track(track, path)
    return _checked(track, info.path)


def _checked(track: FaceTrack, path: Path) -> FaceTrack:
    if track.n_frames == 0 or track.lost.all():
        raise NoFaceFound("no face found in any frame of the video", path)
    return track
