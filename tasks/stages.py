"""The production stages as Prefect tasks: thin wrappers over ``heygem_core``.

Each stage reads its inputs from the artifact store, runs one core function, and writes one
content-addressed object back; what passes between tasks is the object's key. The cache key
*is* that key, so a re-run, a crashed run or another machine finds finished work.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from heygem_core import media, pipeline, planners, quality, report
from heygem_core.assets import Asset, ingest as ingest_ref
from heygem_core.engines import Motion, get_engine
from heygem_core.errors import InputError, ProcessingError
from heygem_core.scratch import scratch_dir
from heygem_core.track import describe_lost, track_video
from heygem_core.track.store import read_track, write_track
from heygem_core.transcripts import TranscriptMismatch

from .records import QaResult
from .remote import Limits, run_on_gpu_pool
from .runtime import RETRIES, Stage, StageRun, settings_for, stage, store_for

Overrides = dict[str, Any] | None


@contextmanager
def _named(store, asset: Asset):
    """The local copy of an input, with errors about it naming the user's file, not the copy."""
    local = store.local_path(asset.key)
    try:
        yield local
    except InputError as err:
        if err.path is None or Path(err.path) != Path(local):
            raise
        raise err.about(asset.name) from err


def _scratch(settings):
    return scratch_dir(settings, "task")


# -- ingest --------------------------------------------------------------------------------
@task(name="ingest", task_run_name="ingest {name}", tags=["io"], **RETRIES)
def ingest(kind: str, value: str, name: str, overrides: Overrides = None) -> Asset:
    """Hash a source file and store it once by content (no-op when already stored)."""
    return ingest_ref(kind, value, store_for(settings_for(overrides)))


# -- normalise audio -----------------------------------------------------------------------
NORMALIZE = Stage("normalize_audio", ".wav", lambda p: {"audio": p["audio"].sha256})


@task(
    name="normalize_audio",
    task_run_name="normalize audio {audio.name}",
    cache_key_fn=NORMALIZE.cache_key_fn,
    persist_result=True,
    **RETRIES,
)
@stage(NORMALIZE)
def normalize_audio(run: StageRun, audio: Asset, overrides: Overrides = None) -> str:
    with _scratch(run.settings) as tmp, _named(run.store, audio) as src:
        out = pipeline.prepare_audio(src, Path(tmp) / "audio.wav", run.settings)
        run.store.put_file(run.key, out, "audio/wav")
    get_run_logger().info("normalised %s to %.1f LUFS", audio.name, run.settings.target_lufs)
    return run.key


# -- face tracking -------------------------------------------------------------------------
TRACK = Stage("track_faces", ".parquet", lambda p: {"video": p["video"].sha256})


@task(
    name="track_faces",
    task_run_name="track faces {video.name}",
    cache_key_fn=TRACK.cache_key_fn,
    persist_result=True,
    **RETRIES,
)
@stage(TRACK)
def track_faces(run: StageRun, video: Asset, overrides: Overrides = None) -> str:
    with _named(run.store, video) as src:
        info = media.probe_video(src)
        track = track_video(info, run.settings, source_sha256=video.sha256)
    logger = get_run_logger()
    logger.info("tracked %d frames of %s, face found in %.0f%%", track.n_frames, video.name, 100 * track.coverage)
    if track.lost.any():
        logger.warning("%s: %s", video.name, describe_lost(track))
    with _scratch(run.settings) as tmp:
        run.store.put_file(run.key, write_track(track, Path(tmp) / "track.parquet"))
    return run.key


# -- the learned mouth adapted to the lecturer (once per source video) ---------------------
ADAPT = Stage("adapt_mouth", ".npz", lambda p: {"video": p["video"].sha256, "track": p["track_key"]})


@task(
    name="adapt_mouth",
    task_run_name="adapt the mouth to {video.name}",
    tags=["gpu"],
    cache_key_fn=ADAPT.cache_key_fn,
    persist_result=True,
    **RETRIES,
)
@stage(ADAPT)
def adapt_mouth(run: StageRun, video: Asset, track_key: str, overrides: Overrides = None) -> str:
    """The learned mouth's head for this source's lecturer (heygem_core.soundmouth.adapt), or
    the record that none is used and why: made once per source, read by every row's lipsync."""
    from heygem_core.soundmouth import adapt

    settings = run.settings
    track = read_track(run.store.local_path(track_key))
    with _named(run.store, video) as src:
        fitted = planners.adaptation(src, track, settings)
    if fitted is None:
        fitted = adapt.not_used(f"no adaptation (planner {settings.planner}, HEYGEM_ADAPT={settings.adapt})")
    get_run_logger().info("%s: %s", video.name, fitted.reason)
    with _scratch(settings) as tmp:
        run.store.put_file(run.key, adapt.save(Path(tmp) / "adapt.npz", fitted))
    return run.key


def _adaptation(store, adapt_key: str | None):
    """The adaptation ``adapt_mouth`` stored under ``adapt_key`` (its record says when none is
    used: a planner that adapts to nobody, or HEYGEM_ADAPT=off), or ``pipeline.FIND`` without a
    key: then ``drive`` works it out."""
    from heygem_core.soundmouth import adapt

    if adapt_key is None:
        return pipeline.FIND
    return adapt.load(store.local_path(adapt_key))


# -- lip-sync (the engine's decision; GPU-bound for neural engines) -------------------------
LIPSYNC = Stage(
    "lipsync",
    ".npz",
    lambda p: {
        "video": p["video"].sha256,
        "track": p["track_key"],
        "audio": p["audio"].sha256,
        "transcript": p["transcript"].sha256 if p.get("transcript") else None,
        "language": p["language"],
        "adaptation": p.get("adapt_key"),
    },
)


@task(
    name="lipsync",
    task_run_name="lipsync {label}",
    tags=["gpu"],
    cache_key_fn=LIPSYNC.cache_key_fn,
    persist_result=True,
    **RETRIES,
)
@stage(LIPSYNC)
def lipsync(
    run: StageRun,
    video: Asset,
    track_key: str,
    audio: Asset,
    transcript: Asset | None,
    language: str,
    label: str,
    overrides: Overrides = None,
    adapt_key: str | None = None,
) -> str:
    """The mouth motion of one row, planned from the new audio as given (it does not wait
    for the normalised audio, which only the mux needs), with the lecturer's adaptation
    (``adapt_mouth``'s key; without one it is worked out here)."""
    settings, store = run.settings, run.store
    with _named(store, video) as src:
        info = media.probe_video(src)
    track = read_track(store.local_path(track_key))
    unsuitable = quality.source_warning(track)
    if unsuitable:
        get_run_logger().warning("%s: %s", label, unsuitable)
    text = None
    if transcript:
        with _named(store, transcript) as src:
            text = pipeline.read_transcript(src)
    adaptation = _adaptation(store, adapt_key)
    try:
        with _named(store, audio) as src:
            motion = pipeline.drive(
                info, track, src, transcript=text, language=language, settings=settings, adaptation=adaptation
            )
    except TranscriptMismatch as err:  # said about the user's transcript file (only a transcript mismatches)
        raise err.about(transcript.name if transcript else audio.name) from None
    get_run_logger().info(
        "%s: %d frames planned by the %s planner%s",
        label,
        motion.n_frames,
        settings.planner,
        " with the transcript" if text else "",
    )
    with _scratch(settings) as tmp:
        store.put_file(run.key, motion.save(Path(tmp) / "motion.npz"))
    return run.key


@task(name="lipsync_remote", task_run_name="lipsync on gpu pool {label}")
@stage(LIPSYNC)
def lipsync_remote(
    run: StageRun,
    video: Asset,
    track_key: str,
    audio: Asset,
    transcript: Asset | None,
    language: str,
    label: str,
    overrides: Overrides = None,
    adapt_key: str | None = None,
) -> str:
    """``lipsync`` run as the ``gpu-lipsync`` deployment on a GPU worker, every wait bounded
    (tasks/remote.py: a row lost with its worker is started once more, else fails in words).
    No ``gpu`` tag here: holding a slot while the sub-flow waits for one would deadlock at a
    limit of 1."""
    settings, store, key = run.settings, run.store, run.key
    worker = run_on_gpu_pool(
        settings.lipsync_deployment,
        dict(
            video=asdict(video),
            track_key=track_key,
            audio=asdict(audio),
            transcript=asdict(transcript) if transcript else None,
            language=language,
            label=label,
            overrides=overrides,
            adapt_key=adapt_key,
        ),
        label,
        Limits.of(settings),
        say=get_run_logger().warning,
    )
    if not store.exists(key):
        raise ProcessingError(
            f"{label}: gpu worker {worker or '?'} did not write {key} to {store.describe()}; "
            "do both pools use the same store settings?"
        )
    return key


# -- blend ---------------------------------------------------------------------------------
BLEND = Stage(
    "blend", ".mp4", lambda p: {"video": p["video"].sha256, "track": p["track_key"], "motion": p["motion_key"]}
)


@task(name="blend", task_run_name="blend {label}", cache_key_fn=BLEND.cache_key_fn, persist_result=True, **RETRIES)
@stage(BLEND)
def blend(run: StageRun, video: Asset, track_key: str, motion_key: str, label: str, overrides: Overrides = None) -> str:
    store = run.store
    with _named(store, video) as src:
        info = media.probe_video(src)
    track = read_track(store.local_path(track_key))
    motion = Motion.load(store.local_path(motion_key))
    with _scratch(run.settings) as tmp:
        out = pipeline.render(info, track, motion, Path(tmp) / "video.mp4", run.settings)
        store.put_file(run.key, out, "video/mp4")
    return run.key


# -- mux -----------------------------------------------------------------------------------
MUX = Stage("mux", ".mp4", lambda p: {"video": p["silent_key"], "audio": p["audio_key"]})


@task(name="mux", task_run_name="mux {label}", cache_key_fn=MUX.cache_key_fn, persist_result=True, **RETRIES)
@stage(MUX)
def mux(run: StageRun, silent_key: str, audio_key: str, label: str, overrides: Overrides = None) -> str:
    with _scratch(run.settings) as tmp:
        out = media.mux(
            run.store.local_path(silent_key),
            run.store.local_path(audio_key),
            Path(tmp) / "out.mp4",
            audio_bitrate=run.settings.audio_bitrate,
        )
        run.store.put_file(run.key, out, "video/mp4")
    return run.key


# -- QA ------------------------------------------------------------------------------------
QA = Stage(
    "qa", ".json", lambda p: {"output": p["output_key"], "audio": p["audio_key"], "source_track": p.get("track_key")}
)


@task(name="qa", task_run_name="qa {label}", cache_key_fn=QA.cache_key_fn, persist_result=True, **RETRIES)
@stage(QA, reuse=lambda store, key: QaResult.from_dict(json.loads(store.get_bytes(key))))
def qa(
    run: StageRun,
    output_key: str,
    audio_key: str,
    label: str,
    overrides: Overrides = None,
    track_key: str | None = None,
) -> QaResult:
    """Sync and coverage figures of a finished video, and two pictures a person can check at
    a glance: mouth crops over time and mouth opening against the audio. With the source's
    track, a source whose mouth barely opens flags the output too."""
    settings, store, key = run.settings, run.store, run.key
    stem = key[: -len(".json")]
    source = read_track(store.local_path(track_key)) if track_key else None
    with _scratch(settings) as tmp:
        figures, contact, plot = report.output_qa(
            store.local_path(output_key),
            store.local_path(audio_key),
            Path(tmp),
            settings,
            title=label,
            source_track=source,
        )
        pictures = {"contact_sheet": f"{stem}.contact.png", "opening_plot": f"{stem}.plot.png"}
        store.put_file(pictures["contact_sheet"], contact, "image/png")
        store.put_file(pictures["opening_plot"], plot, "image/png")
    result = QaResult(figures.as_dict(), pictures)
    store.put_bytes(key, json.dumps(result.as_dict()).encode(), "application/json")
    if figures.flagged:
        get_run_logger().warning("%s flagged by QA: %s", label, "; ".join(figures.reasons))
    return result


def engine_version(overrides: Overrides = None) -> str:
    settings = settings_for(overrides)
    return get_engine(settings.engine, settings).version
