"""What the web app does, without the web page: stage uploads, check them, run the Prefect
flows, follow their progress, and read past runs back from the artifact store.

Every job runs one of the three flows (``flows.single.single``, ``flows.batch.batch``,
``flows.course_matrix.course_matrix``) in a worker thread of this process, exactly as the
``heygem`` command does, so it appears in the Prefect dashboard and writes the same
``runs/<run-id>/`` folder (videos, manifest, report, zip). Progress is read from the Prefect
API: the flow run is found by a tag unique to the job, its task runs (``lipsync katie/de``,
``publish katie_de.mp4``…) are matched to the job's items by the names the tasks give
themselves.

Prefect (and ``flows``) is imported only inside functions: the app calls
``flows.server.ensure_server()`` first, so ``PREFECT_API_URL`` is set before Prefect reads it.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from heygem_core.config import Settings
from heygem_core.errors import HeygemError, InputError, SheetError
from heygem_core.intake import (AUDIO_EXTENSIONS, TRANSCRIPT_EXTENSIONS, VIDEO_EXTENSIONS, Problem, Row,
                                read_sheet, validate_rows)
from heygem_core.media import sha256_file
from heygem_core.store import ArtifactStore, open_store, validate_key

log = logging.getLogger("heygem.webapp")

SHEET_EXTENSIONS = (".csv", ".xlsx")
UPLOAD_PREFIX = "uploads"
RUNS_PREFIX = "runs"

# Task name -> what a person is told is happening, in pipeline order.
STAGES: dict[str, str] = {
    "validate_jobs": "checking the files",
    "validate_sheet": "checking the sheet",
    "ingest": "reading the file",
    "track_faces": "finding the face",
    "normalize_audio": "preparing the audio",
    "lipsync": "planning the mouth movements",
    "blend": "drawing the new mouth",
    "mux": "adding the new audio",
    "qa": "checking the result",
    "publish": "saving the video",
    "package": "packing the zip",
}
ITEM_STAGES = ("ingest", "track_faces", "lipsync", "blend", "mux", "qa", "publish")
FIRST_USE_NOTICE = ("First job since the app started: the face and speech models are loading, "
                    "so this one takes a little longer.")


def formats_text(max_upload_mb: float) -> str:
    def names(exts) -> str:
        return ", ".join(e.lstrip(".").upper() for e in sorted(exts))
    return (f"**Videos:** {names(VIDEO_EXTENSIONS)} · **Audio:** {names(AUDIO_EXTENSIONS - VIDEO_EXTENSIONS)} "
            f"(or a video, whose sound is used) · **Each file up to {max_upload_mb:g} MB.**")


# ----------------------------------------------------------------------------- context


@dataclass
class WebContext:
    """What every handler needs: settings, the store, the Prefect API URL, a scratch folder."""

    settings: Settings
    store: ArtifactStore
    api_url: str
    scratch: Path
    concurrency: int = 1
    max_upload_bytes: int = 500 << 20
    slots: threading.BoundedSemaphore = field(init=False)
    models_warm: bool = False

    def __post_init__(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        # Gradio's queue already runs at most ``concurrency`` jobs; the semaphore also holds
        # when a browser leaves mid-job (Gradio frees its slot, the flow keeps running).
        self.slots = threading.BoundedSemaphore(self.concurrency)

    @classmethod
    def create(cls, api_url: str, concurrency: int = 1, max_upload_bytes: int = 500 << 20) -> "WebContext":
        settings = Settings.from_env()
        return cls(settings=settings, store=open_store(settings), api_url=api_url,
                   scratch=Path(settings.cache_dir) / "web", concurrency=concurrency,
                   max_upload_bytes=max_upload_bytes)

    def dashboard_link(self, flow_run_id: str) -> str:
        ui = os.environ.get("PREFECT_UI_URL", "").rstrip("/")
        if ui:
            return f"{ui}/runs/flow-run/{flow_run_id}"
        from flows.server import dashboard_url

        return dashboard_url(self.api_url, flow_run_id)


# ----------------------------------------------------------------------------- uploads


def _safe_name(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", Path(name).name).strip().lstrip(".") or "file"
    stem, suffix = os.path.splitext(name)
    while len(name.encode("utf-8")) > 150 and stem:
        stem = stem[:-1]
        name = stem + suffix
    return name


def check_upload(path: str | os.PathLike | None, what: str, allowed, ctx: WebContext) -> Path:
    """The uploaded file, or ``InputError`` with a message a person can act on."""
    if not path:
        raise InputError(f"please add {what}")
    p = Path(path)
    if p.suffix.lower() not in allowed:
        kinds = ", ".join(e.lstrip(".").upper() for e in sorted(allowed))
        raise InputError(f"“{p.name}” is not {what} heygem can read. Accepted: {kinds}")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"“{p.name}” is empty (0 bytes)")
    if size > ctx.max_upload_bytes:
        raise InputError(f"“{p.name}” is {size / 2**20:.1f} MB; the limit is "
                         f"{ctx.max_upload_bytes / 2**20:g} MB per file (HEYGEM_UI_MAX_UPLOAD_MB)")
    return p


BROWSER_VIDEO_CODECS = {"h264", "vp8", "vp9", "av1"}


def describe_upload(path: str | os.PathLike | None, kind: str, ctx: WebContext) -> tuple[bool, str]:
    """Right after an upload: can heygem use this file, and what is it? (ok, one line for a person)

    Probing takes a fraction of a second; it catches a truncated file or an audio file given
    as the video before anyone presses Generate."""
    from heygem_core import media

    if not path:
        return True, ""
    allowed = VIDEO_EXTENSIONS if kind == "video" else AUDIO_EXTENSIONS
    p = Path(path)
    try:
        check_upload(p, "a video" if kind == "video" else "an audio file", allowed, ctx)
        if kind == "video":
            info = media.probe_video(p)
            line = f"{info.width}×{info.height}, {float(info.fps):g} fps, {info.duration:.1f} s"
            if info.codec not in BROWSER_VIDEO_CODECS or info.pix_fmt not in ("yuv420p", "yuvj420p"):
                line += (f". The browser cannot preview this format ({info.codec}), "
                         "but heygem can use it.")
            return True, line
        info = media.probe_audio(p)
        return True, f"{info.duration:.1f} s of audio: the result will be this long."
    except HeygemError as err:
        msg = str(err)
        where = getattr(err, "path", None)
        if where is not None:
            msg = msg.replace(str(where), p.name)
        return False, msg


def stage_upload(path: Path, ctx: WebContext) -> str:
    """Put an uploaded file in the artifact store; return its ``store:`` reference.

    Keys are ``uploads/<date>/<sha256[:16]>/<file name>``: the flows see the user's file name
    (so outputs are named after it) and the date lets old uploads be cleaned up by prefix."""
    sha = sha256_file(path)
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    key = f"{UPLOAD_PREFIX}/{day}/{sha[:16]}/{_safe_name(path.name)}"
    if not ctx.store.exists(key):
        ctx.store.put_file(key, path)
    return f"store:{key}"


def stage_transcript(text: str | None, ctx: WebContext) -> str | None:
    """What the audio says, typed into the page, stored as a UTF-8 ``script.txt``."""
    text = (text or "").strip()
    if not text:
        return None
    folder = Path(tempfile.mkdtemp(prefix="script-", dir=ctx.scratch))
    try:
        path = folder / "script.txt"
        path.write_text(text + "\n", encoding="utf-8")
        return stage_upload(path, ctx)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- checks


def check_jobs(records: list[dict], ctx: WebContext) -> list[Row]:
    """The same rules the single/batch flows apply (``validate_rows``), before anything runs."""
    numbered = list(enumerate(records, start=1))
    rows, problems = validate_rows(numbered, base_dir=Path.cwd(),
                                   input_roots=ctx.settings.input_roots or (Path("/"),),
                                   store_exists=ctx.store.exists)
    if problems:
        raise SheetError("your files", problems)
    return rows


@dataclass
class SheetCheck:
    sheet: Path  # the private copy that was checked (and that the flow will read)
    folder: Path  # private folder holding the sheet and the files uploaded with it
    roots: list[Path]
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    error: str = ""  # the sheet itself could not be used

    @property
    def ok(self) -> bool:
        return not self.problems and not self.error and bool(self.rows)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def check_sheet(sheet_upload: str | os.PathLike, media_uploads: list, ctx: WebContext) -> SheetCheck:
    """Copy the uploaded sheet (and any files uploaded with it) into a private folder and check
    every row. Files the sheet names may be ``store:`` keys, files uploaded beside it
    (by their names), or paths under HEYGEM_INPUT_ROOTS."""
    folder = Path(tempfile.mkdtemp(prefix="sheet-", dir=ctx.scratch))
    src = Path(sheet_upload)
    sheet = folder / _safe_name(src.name)
    roots = [folder, *ctx.settings.input_roots]
    check = SheetCheck(sheet=sheet, folder=folder, roots=roots)
    try:
        if src.suffix.lower() not in SHEET_EXTENSIONS:
            raise InputError(f"“{src.name}” is not a course sheet: use .xlsx (Excel Workbook) or .csv (CSV UTF-8)")
        shutil.copyfile(src, sheet)
        for up in media_uploads or []:
            p = check_upload(up, "a file", VIDEO_EXTENSIONS | AUDIO_EXTENSIONS | TRANSCRIPT_EXTENSIONS, ctx)
            _link_or_copy(p, folder / _safe_name(p.name))
        check.rows = read_sheet(sheet, input_roots=tuple(roots), store_exists=ctx.store.exists,
                                max_rows=ctx.settings.max_sheet_rows)
    except SheetError as err:
        check.problems = list(err.problems)
    except HeygemError as err:
        check.error = _plain(str(err), folder)
    return check


def _plain(message: str, folder: Path) -> str:
    """Messages name the user's file, not our private copy of it."""
    return message.replace(str(folder) + os.sep, "").replace(str(folder), "")


def problem_rows(problems: list[Problem], folder: Path | None = None) -> list[list[str]]:
    out = []
    for p in problems:
        msg = _plain(p.message, folder) if folder else p.message
        out.append(["" if p.row is None else str(p.row), p.column or "", msg])
    return out


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ----------------------------------------------------------------------------- running


@dataclass
class Item:
    """One output the job makes, and the names its task runs carry."""

    number: int
    video_name: str
    title: str  # what the page calls it: the video's name, or "lecturer (language)" for a sheet row
    label: str  # "<lecturer>/<language>", as flows.common.row_label
    output: str
    status: str = "waiting"  # waiting | working | done | failed
    stage: str = ""
    message: str = ""
    fraction: float = 0.0
    key: str | None = None  # store key of the finished video
    stage_key: str = ""  # the task name behind ``stage``

    def task_names(self) -> dict[str, str]:
        return {f"ingest {self.video_name}": "ingest", f"track faces {self.video_name}": "track_faces",
                f"lipsync {self.label}": "lipsync", f"lipsync on gpu pool {self.label}": "lipsync",
                f"blend {self.label}": "blend",
                f"mux {self.label}": "mux", f"qa {self.label}": "qa", f"publish {self.output}": "publish"}


def items_for(rows: list[Row], by_row: bool = False) -> list[Item]:
    return [Item(number=i, video_name=row.video.name, label=f"{row.lecturer}/{row.language}", output=row.output,
                 title=f"{row.lecturer} ({row.language})" if by_row else row.video.name)
            for i, row in enumerate(rows, start=1)]


@dataclass
class Snapshot:
    """What the page shows while a job runs."""

    flow_run_id: str | None
    items: list[Item]
    global_stage: str = ""  # a stage that is not one item's (checking, audio, zip)
    waiting_for_slot: bool = False

    @property
    def fraction(self) -> float:
        if not self.items:
            return 0.0
        return sum(1.0 if it.status in ("done", "failed") else it.fraction for it in self.items) / len(self.items)

    @property
    def finished(self) -> int:
        return sum(it.status in ("done", "failed") for it in self.items)

    def lines(self) -> list[str]:
        n = len(self.items)
        out = []
        for it in self.items:
            if it.status == "working":
                out.append(f"{it.number}/{n}: {it.title} — {it.stage}")
        if not out and self.global_stage:
            out.append(self.global_stage)
        return out


class FlowJob:
    """A flow called in a worker thread (at most ``ctx.concurrency`` at once), tagged so that
    its flow run can be found in the Prefect API while it runs."""

    def __init__(self, ctx: WebContext, flow_name: str, kwargs: dict[str, Any]):
        self.ctx = ctx
        self.flow_name = flow_name
        self.kwargs = kwargs
        self.tag = f"web-{uuid.uuid4().hex[:12]}"
        self.state = None
        self.error: BaseException | None = None
        self.started = threading.Event()  # got a slot
        self.done = threading.Event()
        self.flow_run_id: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"heygem-{self.tag}", daemon=True)

    def start(self) -> "FlowJob":
        self.thread.start()
        return self

    def _flow(self):
        if self.flow_name == "single":
            from flows.single import single as fn
        elif self.flow_name == "batch":
            from flows.batch import batch as fn
        elif self.flow_name == "course_matrix":
            from flows.course_matrix import course_matrix as fn
        else:  # pragma: no cover - programming error
            raise ValueError(self.flow_name)
        return fn

    def _run(self) -> None:
        try:
            with self.ctx.slots:
                self.started.set()
                from prefect import tags

                with tags("web", self.tag):
                    self.state = self._flow()(**self.kwargs, return_state=True)
                if self.state is not None and self.state.state_details.flow_run_id:
                    self.flow_run_id = str(self.state.state_details.flow_run_id)
        except BaseException as err:  # reported on the page, never re-raised in a thread
            log.exception("web job %s failed to run", self.tag)
            self.error = err
        finally:
            release_memory()
            self.started.set()
            self.done.set()

    # -- results ---------------------------------------------------------------------------

    def summary(self) -> dict:
        """The flow's summary, or ``HeygemError`` with the message to show."""
        if self.error is not None:
            raise _as_heygem(self.error)
        state = self.state
        if state is None:
            raise HeygemError("the job ended without a result")
        if not state.is_completed():
            err = state.result(raise_on_failure=False, _sync=True)
            if isinstance(err, BaseException):
                raise _as_heygem(err)
            raise HeygemError(state.message or f"the run ended as {state.name}")
        return state.result(_sync=True)


_malloc_trim = None


def release_memory() -> bool:
    """Hand the memory a finished job freed back to the operating system (glibc's
    ``malloc_trim``; False where there is none, e.g. macOS or musl).

    Each job runs in new threads (its ``FlowJob`` thread, the flow's task runner), and glibc
    gives new threads their own malloc arenas (up to 8 per core). What a job frees (frames,
    the face models QA loads) stays in those arenas, so without this the app's resident
    memory grew by about 70 MB per job until every arena was full: unbounded in practice on a
    many-core server (tests/hardening/test_web_load.py)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim
            _malloc_trim.argtypes, _malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):
            _malloc_trim = False
    if not _malloc_trim:
        return False
    try:
        _malloc_trim(0)
    except Exception:  # never let housekeeping fail a job
        return False
    return True


def _as_heygem(err: BaseException) -> HeygemError:
    if isinstance(err, HeygemError):
        return err
    return HeygemError(f"something went wrong on our side ({type(err).__name__}: {err}); "
                       "the run's log in the Prefect dashboard has the details")


def follow(job: FlowJob, items: list[Item], every: float = 1.0) -> Iterator[Snapshot]:
    """Snapshots of the job's progress until its flow run ends (then one last one)."""
    snap = Snapshot(flow_run_id=None, items=items)
    last = None
    while not job.done.wait(every if job.started.is_set() else 0.3):
        snap.waiting_for_slot = not job.started.is_set()
        if snap.waiting_for_slot:
            key = ("wait",)
        else:
            try:
                _poll(job, snap)
            except Exception as err:  # the API hiccuped: keep the last picture
                log.debug("progress poll failed: %s", err)
            key = (snap.flow_run_id, snap.global_stage,
                   tuple((it.status, it.stage, round(it.fraction, 2)) for it in snap.items))
        if key != last:
            last = key
            yield snap
    snap.waiting_for_slot = False
    if job.flow_run_id:
        snap.flow_run_id = job.flow_run_id
    try:
        _poll(job, snap)
    except Exception:
        pass
    yield snap


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _poll(job: FlowJob, snap: Snapshot) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    with _client() as client:
        if snap.flow_run_id is None:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[job.tag])),
                                         sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1)
            if not runs:
                return
            snap.flow_run_id = str(runs[0].id)
            job.flow_run_id = job.flow_run_id or snap.flow_run_id
        task_runs, offset = [], 0
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[snap.flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=offset)
            task_runs.extend(page)
            if len(page) < 200 or offset >= 4000:
                break
            offset += 200
    _apply(task_runs, snap)


def _state_kind(tr) -> str:
    st = tr.state
    if st is None:
        return "pending"
    t = st.type.value if hasattr(st.type, "value") else str(st.type)
    if t == "COMPLETED":
        return "completed"
    if t == "RUNNING":
        return "running"
    if t in ("FAILED", "CRASHED", "CANCELLED"):
        return "failed"
    return "pending"  # SCHEDULED (incl. AwaitingRetry), PENDING, PAUSED


_EXC_PREFIX = re.compile(r"^Task run encountered an exception(?: [A-Za-z_][\w.]*)?:\s*")


def _failure_text(tr) -> str:
    """A failed task's own message, without Prefect's wording around it."""
    msg = (tr.state.message or "") if tr.state else ""
    return _EXC_PREFIX.sub("", msg).strip()


def _apply(task_runs: list, snap: Snapshot) -> None:
    by_name: dict[str, list] = {}
    for tr in task_runs:
        by_name.setdefault(tr.name, []).append(tr)
    order = {s: i for i, s in enumerate(ITEM_STAGES)}
    for it in snap.items:
        if it.status in ("done", "failed"):
            continue
        kinds: dict[str, set] = {}
        for name, stage in it.task_names().items():
            for tr in by_name.get(name, ()):
                kinds.setdefault(_state_kind(tr), set()).add(stage)
        completed, running = kinds.get("completed", set()), kinds.get("running", set())
        if "publish" in completed:
            it.status, it.stage, it.stage_key, it.fraction = "done", "done", "publish", 1.0
        elif kinds.get("failed"):
            it.status, it.stage = "failed", "failed"
            it.message = next((_failure_text(tr) for name in it.task_names() for tr in by_name.get(name, ())
                               if _state_kind(tr) == "failed"), "") or it.message
        elif running or completed:
            if running:
                current = max(running, key=order.__getitem__)
            else:  # between two tasks: name the next one
                current = ITEM_STAGES[min(max(order[s] for s in completed) + 1, len(ITEM_STAGES) - 1)]
            it.status, it.stage, it.stage_key = "working", STAGES[current], current
            if current == "publish" and not running and len(snap.items) > 1:  # saved when all are checked
                it.stage = "ready, saved when the others are finished"
            it.fraction = min(0.95, len(completed) / len(ITEM_STAGES))
    running_global = [tr.name.split(" ", 1)[0] for tr in task_runs if _state_kind(tr) == "running"
                      and tr.name.split(" ", 1)[0] in ("validate", "normalize", "package")]
    if running_global:
        snap.global_stage = {"validate": "Checking the files…", "normalize": "Preparing the audio…",
                             "package": "Packing the zip…"}[running_global[-1]]
    elif snap.items and all(it.status in ("done", "failed") for it in snap.items):
        snap.global_stage = "Packing the zip…"
    elif not task_runs:
        snap.global_stage = "Starting…"
    else:
        snap.global_stage = ""


def finish_items(items: list[Item], summary: dict) -> None:
    """Final statuses from the flow's summary (the authority), matched by output name."""
    done = {k.rsplit("/", 1)[-1]: k for k in summary.get("outputs", [])}
    failures = {f.get("output"): f.get("message", "") for f in summary.get("failures", [])}
    flags = {f.get("output"): f.get("reasons", "") for f in summary.get("flags", [])}
    for it in items:
        if it.output in done:
            # a flagged output (QA, or a source whose mouth barely opens) says why beside it
            note = f"flagged: {flags[it.output]}" if flags.get(it.output) else ""
            it.status, it.stage, it.key, it.fraction, it.message = "done", "done", done[it.output], 1.0, note
        elif it.output in failures:
            it.status, it.stage, it.message = "failed", "failed", failures[it.output] or "failed"


# ----------------------------------------------------------------------------- results


def result_file(ctx: WebContext, key: str) -> Path:
    """A readable local file for a store key, named like the key (what the browser downloads)."""
    local = ctx.store.local_path(key)
    name = key.rsplit("/", 1)[-1]
    if local.name == name:
        return local
    dst = ctx.scratch / "files" / (ctx.store.stat(key).sha256[:16] or uuid.uuid4().hex) / name
    if not dst.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{name}.{uuid.uuid4().hex}")
        _link_or_copy(local, tmp)
        os.replace(tmp, dst)
    return dst


def thumbnail(ctx: WebContext, video: Path, width: int = 320) -> Path | None:
    """A JPEG frame from one second into ``video`` (None if ffmpeg cannot make one)."""
    try:
        st = video.stat()
    except OSError:
        return None
    ident = hashlib.sha256(f"{video}|{st.st_size}|{st.st_mtime_ns}|{width}".encode()).hexdigest()[:16]
    out = ctx.scratch / "thumbs" / ident / f"{video.stem}.jpg"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    for seek in ("1", "0"):
        done = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", seek,
                               "-i", str(video), "-frames:v", "1", "-vf", f"scale={width}:-2", str(out)],
                              capture_output=True, timeout=60)
        if done.returncode == 0 and out.exists() and out.stat().st_size > 0:
            return out
    return None


# ----------------------------------------------------------------------------- history


_RUN_TIME = re.compile(r"(\d{8}-\d{6})-[0-9a-f]{8}$")


@dataclass
class RunInfo:
    run_id: str
    created: datetime | None
    kind: str
    done: int
    failed: int
    size: int
    videos: list[str]  # store keys
    zip: str | None
    manifest: dict | None

    @property
    def title(self) -> str:
        when = self.created.astimezone().strftime("%Y-%m-%d %H:%M") if self.created else "unknown time"
        return f"{when} · {self.kind} · {self.done} video{'s' if self.done != 1 else ''}"


def _kind(run_id: str, manifest: dict | None) -> str:
    kind = (manifest or {}).get("kind")
    if not kind:
        m = _RUN_TIME.search(run_id)
        kind = run_id[:m.start()].rstrip("-") if m else run_id.split("-", 1)[0]
    if kind == "single":
        return "one video"
    if kind == "batch":
        return "many videos"
    if kind.startswith("course-"):
        return f"course “{kind[len('course-'):]}”"
    return kind


def _created(run_id: str, manifest: dict | None) -> datetime | None:
    text = (manifest or {}).get("created")
    if text:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    m = _RUN_TIME.search(run_id)
    if m:
        return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    return None


def list_runs(ctx: WebContext) -> list[RunInfo]:
    """Past runs in the store, newest first."""
    groups: dict[str, list] = {}
    for obj in ctx.store.list(f"{RUNS_PREFIX}/"):
        parts = obj.key.split("/")
        if len(parts) >= 3:
            groups.setdefault(parts[1], []).append(obj)
    runs = []
    for run_id, objs in groups.items():
        keys = {o.key for o in objs}
        manifest = None
        mkey = f"{RUNS_PREFIX}/{run_id}/manifest.json"
        if mkey in keys:
            try:
                manifest = json.loads(ctx.store.get_bytes(mkey))
            except Exception:
                manifest = None
        videos = sorted(k for k in keys if k.startswith(f"{RUNS_PREFIX}/{run_id}/videos/"))
        counts = (manifest or {}).get("counts") or {}
        zip_key = f"{RUNS_PREFIX}/{run_id}/{run_id}.zip"
        runs.append(RunInfo(run_id=run_id, created=_created(run_id, manifest), kind=_kind(run_id, manifest),
                            done=int(counts.get("done", len(videos))), failed=int(counts.get("failed", 0)),
                            size=sum(o.size for o in objs), videos=videos,
                            zip=zip_key if zip_key in keys else None, manifest=manifest))
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    runs.sort(key=lambda r: r.created or far_past, reverse=True)
    return runs


def disk_usage(ctx: WebContext) -> dict[str, int]:
    """Bytes per top-level area of the store: runs (results), uploads, sources, cache."""
    usage: dict[str, int] = {}
    for obj in ctx.store.list(""):
        top = obj.key.split("/", 1)[0]
        usage[top] = usage.get(top, 0) + obj.size
    return usage


def human_size(n: int | float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _check_run_id(run_id: str) -> str:
    """A run id as the flows make them: ``<kind>-<time>-<id>``, where a course's kind is its
    sheet's file name, spaces, accents and all (``course-Spring 2026 (Zoë)-…``). Anything that
    is one segment of a valid store key; never a path (no ``/``, ``..`` or backslash)."""
    try:
        if not run_id or "/" in run_id:
            raise InputError("empty or a path")
        validate_key(f"{RUNS_PREFIX}/{run_id}/manifest.json")
    except InputError:
        raise InputError(f"not a run: {run_id!r}") from None
    return run_id


def delete_run(ctx: WebContext, run_id: str) -> int:
    _check_run_id(run_id)
    return ctx.store.delete_prefix(f"{RUNS_PREFIX}/{run_id}/")


def cleanup(ctx: WebContext, days: float, now: datetime | None = None) -> tuple[int, int]:
    """Delete runs (and uploads) older than ``days``; returns (runs deleted, bytes freed)."""
    if days is None or days < 0:
        raise InputError("the number of days must be 0 or more")
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days)
    runs, freed = 0, 0
    for run in list_runs(ctx):
        if run.created is not None and run.created < cutoff:
            delete_run(ctx, run.run_id)
            runs += 1
            freed += run.size
    day_dirs: dict[str, int] = {}
    for obj in ctx.store.list(f"{UPLOAD_PREFIX}/"):
        day = obj.key.split("/")[1]
        day_dirs[day] = day_dirs.get(day, 0) + obj.size
    for day, size in day_dirs.items():
        try:
            when = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1)
        except ValueError:
            continue
        if when < cutoff:
            ctx.store.delete_prefix(f"{UPLOAD_PREFIX}/{day}/")
            freed += size
    return runs, freed
