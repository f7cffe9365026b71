"""What the web app does, without the web page: stage uploads, check them, run the Prefect
flows and follow their progress.

Every job runs one of the three flows (``flows.single.single``, ``flows.batch.batch``,
``flows.course_matrix.course_matrix``) in a worker thread of this process, exactly as the
``heygem`` command does, so it appears in the Prefect dashboard and writes the same
``runs/<run-id>/`` folder (videos, manifest, report, zip). The flow run is found by a tag unique
to the job; what its items are doing is read from its task runs' tags and states
(``webapp.progress``). Past runs are ``flows.runs``' (History and ``heygem runs`` share it).

Prefect (and the flows themselves) is imported only inside functions: the app calls
``flows.server.ensure_server()`` first, so ``PREFECT_API_URL`` is set before Prefect reads it.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flows import runs
from heygem_core.config import Settings
from heygem_core.errors import HeygemError, InputError, SheetError
from heygem_core.intake import (
    AUDIO_EXTENSIONS,
    TRANSCRIPT_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Problem,
    Row,
    read_sheet,
    validate_rows,
)
from heygem_core.media import sha256_file
from heygem_core.store import ArtifactStore, open_store
from heygem_core.transcripts import MAX_BYTES as MAX_TRANSCRIPT_BYTES

from .line import WAITING_HANDLERS, JobLine, Place, Ticket
from .progress import Item, Snapshot, poll

log = logging.getLogger("heygem.webapp")

SHEET_EXTENSIONS = (".csv", ".xlsx")
UPLOAD_PREFIX = "uploads"
FIRST_USE_NOTICE = (
    "First job since the app started: the face and speech models are loading, so this one takes a little longer."
)


def formats_text(max_upload_mb: float) -> str:
    def names(exts) -> str:
        return ", ".join(e.lstrip(".").upper() for e in sorted(exts))

    return (
        f"**Videos:** {names(VIDEO_EXTENSIONS)} · **Audio:** {names(AUDIO_EXTENSIONS - VIDEO_EXTENSIONS)} "
        f"(or a video, whose sound is used) · **Each file up to {max_upload_mb:g} MB.**"
    )


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
    waiting: int = WAITING_HANDLERS  # waiting jobs told their place in words (webapp.line)
    line: JobLine = field(init=False)
    models_warm: bool = False

    def __post_init__(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        # The one limit on jobs at once: it also holds when a browser leaves mid-job (Gradio
        # frees its handler, the flow keeps running).
        self.line = JobLine(self.concurrency)

    @classmethod
    def create(
        cls, api_url: str, concurrency: int = 1, max_upload_bytes: int = 500 << 20, waiting: int = WAITING_HANDLERS
    ) -> WebContext:
        settings = Settings.from_env()
        return cls(
            settings=settings,
            store=open_store(settings),
            api_url=api_url,
            scratch=Path(settings.cache_dir) / "web",
            concurrency=concurrency,
            max_upload_bytes=max_upload_bytes,
            waiting=waiting,
        )

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
        raise InputError(
            f"“{p.name}” is {size / 2**20:.1f} MB; the limit is "
            f"{ctx.max_upload_bytes / 2**20:g} MB per file (HEYGEM_UI_MAX_UPLOAD_MB)"
        )
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
                line += f". The browser cannot preview this format ({info.codec}), but heygem can use it."
            return True, line
        sound = media.probe_audio(p)
        return True, f"{sound.duration:.1f} s of audio: the result will be this long."
    except HeygemError as err:
        if err.path is not None and err.path.name == p.name:  # told about the upload, by its name
            err = err.about(p.name)
        return False, err.headline + (f"; {err.hint}" if err.hint else "")


def check_media(path: str | os.PathLike | None, kind: str, ctx: WebContext) -> Path:
    """``check_upload`` and the probe ``describe_upload`` makes: a file the page refused on
    upload is refused on Generate too, before any flow run starts."""
    if not path:
        raise InputError(f"please add {'a video' if kind == 'video' else 'an audio file'}")
    ok, line = describe_upload(path, kind, ctx)
    if not ok:
        raise InputError(line)
    return Path(path)


def stage_upload(path: Path, ctx: WebContext) -> str:
    """Put an uploaded file in the artifact store; return its ``store:`` reference.

    Keys are ``uploads/<date>/<sha256[:16]>/<file name>``: the flows see the user's file name
    (so outputs are named after it) and the date lets old uploads be cleaned up by prefix."""
    sha = sha256_file(path)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    key = f"{UPLOAD_PREFIX}/{day}/{sha[:16]}/{_safe_name(path.name)}"
    if not ctx.store.exists(key):
        ctx.store.put_file(key, path)
    return f"store:{key}"


def stage_transcript(text: str | None, ctx: WebContext) -> str | None:
    """What the audio says, typed into the page, stored as a UTF-8 ``script.txt``."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text.encode("utf-8")) > MAX_TRANSCRIPT_BYTES:  # before it is written anywhere
        raise InputError(
            f"the transcript is longer than {MAX_TRANSCRIPT_BYTES // 1024} KB "
            "(a one-hour lecture is about 60 KB): is it the right text?"
        )
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
    rows, problems = validate_rows(
        numbered,
        base_dir=Path.cwd(),
        input_roots=ctx.settings.input_roots or (Path("/"),),
        store_exists=ctx.store.exists,
    )
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
        check.rows = read_sheet(
            sheet, input_roots=tuple(roots), store_exists=ctx.store.exists, max_rows=ctx.settings.max_sheet_rows
        )
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


class FlowJob:
    """A flow called in a worker thread once its ``ticket``'s turn comes in ``ctx.line`` (at
    most ``ctx.concurrency`` at once), tagged so that its flow run can be found in the Prefect
    API while it runs. The job owns the ticket from ``start``: it leaves the line when it ends."""

    def __init__(self, ctx: WebContext, flow_name: str, kwargs: dict[str, Any], ticket: Ticket | None = None):
        self.ctx = ctx
        self.ticket = ticket if ticket is not None else ctx.line.join()
        self.abandoned = threading.Event()  # its page went away before its turn: never run it
        self.flow_name = flow_name
        self.kwargs = kwargs
        self.tag = f"web-{uuid.uuid4().hex[:12]}"
        self.state = None
        self.error: BaseException | None = None
        self.started = threading.Event()  # got a slot
        self.done = threading.Event()
        self.flow_run_id: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"heygem-{self.tag}", daemon=True)

    def start(self) -> FlowJob:
        self.thread.start()
        return self

    def _flow(self):
        from flows.registry import flow

        return flow(self.flow_name)

    def abandon(self) -> None:
        """Drop the job if it has not started (its page is gone); a running job runs on."""
        self.abandoned.set()

    def place(self) -> Place:
        return self.ctx.line.place(self.ticket)

    def _run(self) -> None:
        try:
            while not self.ctx.line.wait_turn(self.ticket, timeout=0.5):
                if self.abandoned.is_set():
                    log.info("web job %s left the line before its turn", self.tag)
                    return
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
            self.ctx.line.leave(self.ticket)
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
        from flows.outcome import summary_of

        summary = summary_of(state)  # a run with failed rows ends Failed and still has one
        if summary is not None:
            return summary
        if not state.is_completed():
            err = state.result(raise_on_failure=False, _sync=True)
            if isinstance(err, BaseException):
                raise _as_heygem(err)
            raise HeygemError(_ended(state))
        return state.result(_sync=True)


_malloc_trim: Any = None  # glibc's function once looked up, False where there is none


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


def _ended(state) -> str:
    """Why a flow run without an exception of its own did not complete, from its state's type."""
    kind = getattr(state.type, "value", str(state.type)).lower()
    if kind == "cancelled":
        return "the run was cancelled (in the Prefect dashboard or by a worker)"
    if kind == "crashed":
        return "the run crashed: its process or worker stopped; the run's log in the Prefect dashboard has the details"
    return f"the run ended {kind}; the run's log in the Prefect dashboard has the details"


def _as_heygem(err: BaseException) -> HeygemError:
    if isinstance(err, HeygemError):
        return err
    return HeygemError(
        f"something went wrong on our side ({type(err).__name__}: {err}); "
        "the run's log in the Prefect dashboard has the details"
    )


def follow(job: FlowJob, items: list[Item], every: float = 1.0) -> Iterator[Snapshot]:
    """Snapshots of the job's progress until its flow run ends (then one last one)."""
    snap = Snapshot(flow_run_id=None, items=items)
    last: tuple | None = None
    while not job.done.wait(every if job.started.is_set() else 0.3):
        snap.waiting_for_slot = not job.started.is_set()
        if snap.waiting_for_slot:
            snap.place = job.place()
            key: tuple = ("wait", snap.place)
        else:
            try:
                _poll(job, snap)
            except Exception as err:  # the API hiccuped: keep the last picture
                log.debug("progress poll failed: %s", err)
            key = (
                snap.flow_run_id,
                snap.global_stage,
                tuple((it.status, it.stage, it.message, round(it.fraction, 2)) for it in snap.items),
            )
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


def _poll(job: FlowJob, snap: Snapshot) -> None:
    poll(job.tag, snap)
    job.flow_run_id = job.flow_run_id or snap.flow_run_id


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
        done = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-ss",
                seek,
                "-i",
                str(video),
                "-frames:v",
                "1",
                "-vf",
                f"scale={width}:-2",
                str(out),
            ],
            capture_output=True,
            timeout=60,
        )
        if done.returncode == 0 and out.exists() and out.stat().st_size > 0:
            return out
    return None


# ----------------------------------------------------------------------------- space


def disk_usage(ctx: WebContext) -> dict[str, int]:
    """Bytes per top-level area of the store: runs (results), uploads, sources, cache."""
    usage: dict[str, int] = {}
    for obj in ctx.store.list(""):
        top = obj.key.split("/", 1)[0]
        usage[top] = usage.get(top, 0) + obj.size
    return usage


def cleanup(ctx: WebContext, days: float, now: datetime | None = None) -> tuple[int, int]:
    """History's clean-up: the runs older than ``days`` (``flows.runs.clean``: never a running
    one) and the uploads of days before that; returns (runs deleted, bytes freed)."""
    if days is None or days < 0:
        raise InputError("the number of days must be 0 or more")
    now = now or datetime.now(UTC)
    cleaned = runs.clean(ctx.store, days * 86400, now=now)
    freed = cleaned.freed
    cutoff = now - timedelta(days=days)
    day_dirs: dict[str, int] = {}
    for obj in ctx.store.list(f"{UPLOAD_PREFIX}/"):
        day = obj.key.split("/")[1]
        day_dirs[day] = day_dirs.get(day, 0) + obj.size
    for day, size in day_dirs.items():
        try:
            when = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
        except ValueError:
            continue
        if when < cutoff:
            ctx.store.delete_prefix(f"{UPLOAD_PREFIX}/{day}/")
            freed += size
    return len(cleaned.removed), freed
