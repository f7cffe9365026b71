"""One job end to end: new audio + recorded video -> re-voiced video.

Stages (each also usable alone by the Prefect tasks): normalise audio, track the face (cached),
plan mouth shapes from the audio, generate lower-face patches, composite them onto the
source frames while streaming, mux the normalised audio.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator


import numpy as np

from . import audio as audio_mod
from . import media, planners, sequence
from .blend import composite_i420
from .config import Settings
from .engines import EngineJob, Motion, get_engine
from .outputs import check_output
from .files import sweep_parts
from .scratch import scratch_dir
from .transcripts import check_transcript, read_transcript  # noqa: F401 - read_transcript: callers find it here
from .plan import MouthPlan
from .quality import OutputReader, source_warning
from .track import describe_lost, track_video
from .track.model import FaceTrack

if TYPE_CHECKING:  # imported when QA runs: it loads OpenCV's drawing and matplotlib
    from .report import QAFigures

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class LipsyncResult:
    output: Path
    width: int
    height: int
    fps: float
    n_frames: int
    duration: float
    engine: str
    aligner: str
    frames_without_face: int
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # said through ``warn`` as they were found
    qa: QAFigures | None = None  # when asked for


def analyse_audio(
    audio: str | Path | media.AudioStreamInfo,
    fps: float,
    transcript: str | None,
    language: str,
    settings: Settings,
    adaptation=None,
) -> tuple[MouthPlan | None, int, audio_mod.Audio]:
    """The mouth plan for the whole new audio (as given: a path or its probe), the number of
    output frames, and the audio as analysed. It does not wait for the normalised file: the
    planners hear the audio at a fixed loudness (audio.analysis_audio) and the plan's
    loudness is relative. Phones are kept in ``settings.cache_dir`` and read back for the
    same audio."""
    clip = audio_mod.analysis_audio(audio)
    check_transcript(transcript, clip.duration, language)  # before the aligner: its memory grows with the text
    n_out = max(1, int(round(clip.duration * fps)))
    loud = audio_mod.loudness_envelope(clip, fps, n_out)
    return planners.plan(clip, loud, fps, transcript, language, settings, adaptation), n_out, clip


def prepare_audio(audio: str | Path | media.AudioStreamInfo, out_wav: Path, settings: Settings) -> Path:
    """Stage 1: any audio (or a video's audio track) → loudness-normalised 48 kHz WAV. Takes
    the path or its probe (each ffprobe costs ~0.1 s of a short job)."""
    info = _probed(audio, media.AudioStreamInfo, media.probe_audio)
    return audio_mod.normalize_loudness(info, out_wav, settings.target_lufs)


# ``drive``'s adaptation argument when the caller has none at hand: it is worked out (or read
# from the cache) for the source.
FIND = object()


def drive(
    info: media.VideoInfo,
    track: FaceTrack,
    audio: str | Path | media.AudioStreamInfo,
    *,
    transcript: str | None,
    language: str,
    settings: Settings,
    adaptation=FIND,
) -> Motion:
    """Stage 3 (the lip-sync proper): phonetic plan of the new audio (as given, not
    normalised), then the engine's decision for every output frame. The learned mouth is
    adapted to the source's lecturer (``adaptation``: soundmouth.adapt.Adaptation, None for the
    general model, or FIND to work it out here, kept in the cache: once per source)."""
    if adaptation is FIND:
        adaptation = planners.adaptation(info.path, track, settings)
    plan, n_out, clip = analyse_audio(audio, float(info.fps), transcript, language, settings, adaptation)
    return decide(info, track, plan, n_out, settings, clip)


def decide(
    info: media.VideoInfo,
    track: FaceTrack,
    plan: MouthPlan | None,
    n_out: int,
    settings: Settings,
    sound: audio_mod.Audio | None = None,
) -> Motion:
    """The engine's decision for every output frame. Output frames follow the source in
    order, ping-ponged (or looped) when the audio is longer and cut when it is shorter."""
    n_src = min(track.n_frames, info.n_frames)
    base_index = sequence.frame_indices(n_src, n_out, settings.extend_mode)
    job = EngineJob(source=info, track=track, base_index=base_index, plan=plan, settings=settings, sound=sound)
    return get_engine(settings.engine, settings).drive(job)


@dataclass
class Heard:
    """The new audio planned (the audio half of stage 3)."""

    plan: MouthPlan | None  # None for an engine that reads the sound itself
    n_out: int
    seconds: float
    sound: audio_mod.Audio  # the audio as the planner heard it (16 kHz mono)


def listen(
    sound: media.AudioStreamInfo,
    fps: float,
    transcript: str | None,
    language: str,
    settings: Settings,
    go_on: Callable[[], bool] = lambda: True,
) -> Heard | None:
    """Plan the mouth from the new audio, once ``go_on()`` returns True; skipped (None) when
    it returns False."""
    if not go_on():
        return None
    t = time.perf_counter()
    plan, n_out, clip = analyse_audio(sound, fps, transcript, language, settings)
    return Heard(plan, n_out, time.perf_counter() - t, clip)


def _normalised(sound: media.AudioStreamInfo, out_wav: Path, settings: Settings) -> tuple[Path, float]:
    t = time.perf_counter()
    return prepare_audio(sound, out_wav, settings), time.perf_counter() - t


def render(
    info: media.VideoInfo,
    track: FaceTrack,
    motion: Motion,
    out_video: Path,
    settings: Settings,
    progress: Progress | None = None,
    audio: Path | None = None,
    watch: Callable[[int, np.ndarray], None] | None = None,
) -> Path:
    """Stage 4 (blend): stream the source frames in output order, composite each frame's
    patch, encode the video (silent, or with ``audio`` muxed in the same pass). Only the lower
    face changes; every other pixel reaches the encoder exactly as decoded. ``watch(t, frame)``
    sees each composed frame (I420) once it is handed to the encoder."""
    report = progress or (lambda stage, done, total: None)
    engine = get_engine(settings.engine, settings)
    base_index = motion.base_index
    n_out = motion.n_frames
    job = EngineJob(source=info, track=track, base_index=base_index, plan=None, settings=settings)

    def composed() -> Iterator:
        frames = sequence.read_frame_sequence(info, base_index, i420=True)
        patches = engine.patches(job, motion)
        try:
            for t_out, (frame, patch) in enumerate(zip(frames, patches)):
                if patch is not None:
                    composite_i420(frame, track.landmarks[base_index[t_out]], patch)
                yield frame
        finally:
            frames.close()  # stops the decoder if the writer gave up

    with media.FrameWriter(
        out_video,
        info.out_width,
        info.out_height,
        info.fps,
        crf=settings.crf,
        preset=settings.x264_preset,
        audio=audio,
        audio_bitrate=settings.audio_bitrate,
    ) as writer:
        # Compositing runs one thread ahead of the encoder pipe: OpenCV and the pipe writes
        # release the GIL, so the two overlap on the second core.
        for t_out, frame in enumerate(run_ahead(composed(), depth=4)):
            writer.write(frame)
            if watch is not None:  # while the encoder works on the frame in its own process
                watch(t_out, frame)
            if t_out % 10 == 0:
                report("render", t_out, n_out)
    report("render", n_out, n_out)
    return out_video


_END = object()


def run_ahead(items: Iterator, depth: int = 4) -> Iterator:
    """``items``, produced by a worker thread up to ``depth`` ahead of the consumer. An error
    in the worker is raised here; closing this generator stops the worker and closes
    ``items`` in the worker's own thread."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, _END))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            put((err, None))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="heygem-render", daemon=True)
    worker.start()
    try:
        while True:
            err, item = q.get()
            if err is not None:
                raise err
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


def lipsync(
    video: str | Path | media.VideoInfo,
    audio: str | Path | media.AudioStreamInfo,
    output: str | Path,
    *,
    transcript: str | None = None,
    language: str = "en",
    settings: Settings,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    qa: bool = False,
) -> LipsyncResult:
    """The whole job in one process: the same stages the Prefect tasks run one by one.
    ``video`` and ``audio`` are paths, or their probes when the caller has them already.
    ``warn(message)`` hears, as soon as it is known, that the source cannot show speech (also
    in the result's notes); with ``qa`` the result carries the output's QA figures."""
    t0 = time.perf_counter()
    output = check_output(
        output, [x.path if isinstance(x, (media.VideoInfo, media.AudioStreamInfo)) else Path(x) for x in (video, audio)]
    )
    planners.warm(settings, transcript)  # models load beside the probes and normalisation
    report = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}

    # The pool closes (waiting for its thread) before the temp folder is removed.
    output.parent.mkdir(parents=True, exist_ok=True)
    sweep_parts(output)  # what a killed run left while writing this output
    # scratch (the normalised audio) in the cache folder, never beside the user's output
    with scratch_dir(settings, "job") as tmp, ThreadPoolExecutor(2, thread_name_prefix="heygem-audio") as pool:
        tmp = Path(tmp)
        sounding = pool.submit(_probed, audio, media.AudioStreamInfo, media.probe_audio)
        # Beside the audio's probe; a video probed before is read from the cache.
        info = _probed(video, media.VideoInfo, lambda p: media.probe_video(p, settings.cache_dir))
        sound = sounding.result()  # bad audio fails before any long work
        notes = list(getattr(info, "notes", ()))
        engine = get_engine(settings.engine, settings)
        # The phonetic plan waits for the first face (at once from a cached track): for a
        # video without a face it would be long work for nothing, and would hold back the error.
        face = _Gate()
        report("audio", 0, 1)
        # The audio is normalised (for the output) and planned (from the audio as given)
        # at once, beside the tracking, which mostly waits on the frame decoder or reads the
        # cache. Bad audio still stops the job at once: the tracker's progress callback
        # raises its error.
        normalising = pool.submit(_normalised, sound, tmp / "audio.wav", settings)
        hearing = pool.submit(listen, sound, float(info.fps), transcript, language, settings, face.wait)

        t = time.perf_counter()
        track = _track_while_listening(info, settings, (normalising, hearing), face, report)
        timings["track"] = time.perf_counter() - t
        if track.lost.any():
            notes.append(describe_lost(track))
        unsuitable = source_warning(track)
        if unsuitable is not None and warn is not None:
            warn(unsuitable)

        t = time.perf_counter()
        report("lipsync", 0, 1)
        wav, timings["normalise"] = normalising.result()  # its error first: it names what is wrong
        heard = hearing.result()
        assert heard is not None  # its gate opened: the track found a face
        timings["analyse"] = heard.seconds
        t_adapt = time.perf_counter()
        adaptation = planners.adaptation(info.path, track, settings)
        if adaptation is not None:
            if adaptation.worth_a_note:
                notes.append(adaptation.reason)
            if adaptation.used:  # the plan heard before the track was whole, now the lecturer's
                loud = audio_mod.loudness_envelope(heard.sound, float(info.fps), heard.n_out)
                heard.plan = planners.plan(
                    heard.sound, loud, float(info.fps), transcript, language, settings, adaptation
                )
        timings["adapt"] = time.perf_counter() - t_adapt
        motion = decide(info, track, heard.plan, heard.n_out, settings, heard.sound)
        timings["lipsync"] = time.perf_counter() - t

        t = time.perf_counter()
        # The audio is muxed while encoding: no second pass over the finished video.
        # the output's mouth is read as it is rendered, not decoded again afterwards
        reader = OutputReader(track, motion.base_index) if qa else None
        render(info, track, motion, output, settings, report, audio=wav, watch=reader)
        timings["render"] = time.perf_counter() - t
    figures = None
    if reader is not None:
        from .report import job_qa

        t = time.perf_counter()
        figures = job_qa(
            reader.series(float(info.fps)), track, motion.base_index, heard.sound, settings, source=unsuitable
        )
        timings["qa"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    log.info("%s: %s", output, ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    result = result_for(info, track, motion, output, engine.version, transcript, notes, timings)
    result.warnings = [unsuitable] if unsuitable else []
    result.qa = figures
    return result


def _probed(media_file, kind: type, probe: Callable):
    return media_file if isinstance(media_file, kind) else probe(media_file)


class _Gate:
    """Holds a thread in ``wait()`` until ``open()``; ``wait()`` then says whether to go on."""

    def __init__(self) -> None:
        self._opened = threading.Event()
        self._go = True

    def open(self, go: bool = True) -> None:
        self._go = self._go and go
        self._opened.set()

    def wait(self) -> bool:
        self._opened.wait()
        return self._go


def _track_while_listening(
    info: media.VideoInfo, settings: Settings, audio_work: tuple[Future, ...], face: _Gate, report: Progress
) -> FaceTrack:
    """Track the video (before the lip-sync: a video without a face fails fast) while the
    audio threads work on ``audio_work``. An error there stops the tracking at once; ``face``
    opens at the first face, or closed for good when the tracking fails first."""
    tick = _counter(report, "track", info.n_frames)

    def progress(k: int = 1) -> None:
        for work in audio_work:
            failed = work.exception() if work.done() else None
            if failed is not None:
                raise failed
        tick(k)

    try:
        report("track", 0, info.n_frames)
        track = track_video(info, settings, progress=progress, on_face=face.open)
    except BaseException:
        face.open(go=False)  # the planning, if not begun yet, is skipped
        raise
    face.open()  # a track from the cache has announced no face
    return track


def result_for(
    info: media.VideoInfo,
    track: FaceTrack,
    motion: Motion,
    output: Path,
    engine: str,
    transcript: str | None,
    notes: list[str],
    timings: dict[str, float] | None = None,
) -> LipsyncResult:
    fps = float(info.fps)
    return LipsyncResult(
        output=output,
        width=info.out_width,
        height=info.out_height,
        fps=fps,
        n_frames=motion.n_frames,
        duration=motion.n_frames / fps,
        engine=engine,
        aligner="scripted" if transcript else "blind",
        frames_without_face=int(track.lost[motion.base_index].sum()),
        notes=notes,
        timings=timings or {},
    )


def _counter(report: Progress, stage: str, total: int):
    state = {"n": 0}

    def tick(k: int = 1) -> None:
        state["n"] += k
        if state["n"] % 10 == 0 or state["n"] == total:
            report(stage, state["n"], total)

    return tick
