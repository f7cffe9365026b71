"""Runs: how a run is named, what its task runs carry, and the runs kept in the artifact store.

One module for the flows (which name a run and tag its task runs), the web app (progress,
History) and the command line (``heygem runs list|show|clean``). It reads and deletes the
store's run folders (``runs/<run-id>/``: videos, QA pictures, manifest, report, log, zip) and
imports no Prefect, so ``heygem runs`` starts no server.

* A run id is ``<kind>-<UTC start, YYYYmmdd-HHMMSS>-<first 8 hex digits of the flow run id>``;
  a course's kind is ``course-<sheet file name>``, spaces and accents and all.
* The stage of each task run of a run (one of ``STAGES``) and the rows it serves (a video
  tracked once for three rows serves three) are published by the flow as versions of the table
  artifact ``TASKS_ARTIFACT`` (``{"task_run", "stage", "rows"}``), so progress is read from the
  flow's own records and the runs' states, never from task-run names. Only the validation task,
  which runs before there is a map, says its stage by a tag (``stage:validate``). Neither is a
  tag on every task run on purpose: a task run with any tag asks the server for concurrency
  slots (the fixture course took 98 s instead of 72 s with a stage tag on each), and Prefect
  keeps a slot service with a client of its own for every distinct set of tags for the life
  of the process (per-row or per-job tags grew the web app by ~10 MiB a job).
* Rows that fail while the run goes on are published as versions of the table artifact
  ``FAILURES_ARTIFACT`` (each version: the rows that failed since the last one, as
  ``{"row", "output", "message"}``); the run's summary and manifest are the final word.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from heygem_core.errors import InputError
from heygem_core.gc import held_runs
from heygem_core.store import validate_key

RUNS_PREFIX = "runs"
STAGE_TAG = "stage:"
# In pipeline order; "validate", "normalize_audio" and "package" are the run's, the others a row's.
STAGES = (
    "validate",
    "ingest",
    "track_faces",
    "adapt_mouth",
    "normalize_audio",
    "lipsync",
    "blend",
    "mux",
    "qa",
    "publish",
    "package",
)
FAILURES_ARTIFACT = "row-failures"
TASKS_ARTIFACT = "row-tasks"

_TIME_FORMAT = "%Y%m%d-%H%M%S"
_ID = re.compile(r"^(?P<kind>.+)-(?P<time>\d{8}-\d{6})-(?P<flow>[0-9a-f]{8})$")


# ----------------------------------------------------------------------------- run ids


def new_run_id(kind: str, flow_run_id: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{kind}-{now.astimezone(timezone.utc):{_TIME_FORMAT}}-{str(flow_run_id)[:8]}"


@dataclass(frozen=True)
class RunId:
    kind: str  # "single", "batch", "course-<sheet>"
    started: datetime  # UTC
    flow_run: str  # the flow run id's first 8 hex digits


def parse_run_id(run_id: str) -> RunId | None:
    """The parts of a run id made by ``new_run_id``; None for anything else."""
    m = _ID.match(run_id)
    if not m:
        return None
    try:
        started = datetime.strptime(m["time"], _TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return RunId(kind=m["kind"], started=started, flow_run=m["flow"])


def check_run_id(run_id: str) -> str:
    """A run id is one segment of a valid store key (whatever a sheet was called); never a path
    (no ``/``, ``..`` or backslash)."""
    try:
        if not run_id or "/" in run_id:
            raise InputError("empty or a path")
        validate_key(f"{RUNS_PREFIX}/{run_id}/manifest.json")
    except InputError:
        raise InputError(f"not a run: {run_id!r}") from None
    return run_id


def run_prefix(run_id: str) -> str:
    return f"{RUNS_PREFIX}/{run_id}"


# ----------------------------------------------------------------------------- task-run tags


def stage_tag(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    return f"{STAGE_TAG}{stage}"


def stage_of(tags: Iterable[str]) -> str | None:
    return next((t[len(STAGE_TAG) :] for t in tags if t.startswith(STAGE_TAG)), None)


def task_record(task_run_id, stage: str, rows: Iterable[int | None]) -> dict:
    """One line of ``TASKS_ARTIFACT``: a task run, its stage and the rows it serves."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    return {"task_run": str(task_run_id), "stage": stage, "rows": sorted({int(n) for n in rows if n is not None})}


def task_map(data) -> dict[str, tuple[str, set[int]]]:
    """One version of ``TASKS_ARTIFACT`` (a table: JSON text or a list) as task run id ->
    (stage, rows); lines that are not such records are left out."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return {}
    out: dict[str, tuple[str, set[int]]] = {}
    for rec in data if isinstance(data, list) else ():
        if (
            isinstance(rec, dict)
            and isinstance(rec.get("task_run"), str)
            and rec.get("stage") in STAGES
            and isinstance(rec.get("rows"), list)
        ):
            out[rec["task_run"]] = (rec["stage"], {n for n in rec["rows"] if isinstance(n, int)})
    return out


# ----------------------------------------------------------------------------- runs in the store


@dataclass
class RunInfo:
    run_id: str
    kind: str  # as in the run id: "single", "batch", "course-<sheet>"
    created: datetime  # when it finished (the manifest's time), else when it started (the id's)
    done: int
    failed: int
    flagged: int
    size: int  # bytes under runs/<run-id>/
    keys: list[str]  # every object of the run
    videos: list[str]  # store keys of the finished videos
    zip: str | None
    manifest: dict | None  # None while the run is still going (or if it never finished)
    running: bool = False  # a flow holds the store for it now

    @property
    def entries(self) -> list[dict]:
        return list((self.manifest or {}).get("entries") or [])

    @property
    def flow_run_id(self) -> str | None:
        return (self.manifest or {}).get("flow_run_id")

    def key(self, name: str) -> str | None:
        """The store key of ``manifest.json``, ``report.csv``, ``run.log`` if the run has it."""
        key = f"{run_prefix(self.run_id)}/{name}"
        return key if key in self.keys else None


def _created(run_id: str, manifest: dict | None, newest: float) -> datetime:
    text = (manifest or {}).get("created")
    if text:
        try:
            when = datetime.fromisoformat(text)
            return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    parsed = parse_run_id(run_id)
    if parsed:
        return parsed.started
    return datetime.fromtimestamp(newest, timezone.utc)


def running_runs(store, now: datetime | None = None) -> set[str]:
    """Run ids whose flow holds the store now (``heygem_core.gc.hold``; a hold older than
    ``HOLD_MAX_S`` is a dead run's)."""
    return set(held_runs(store, (now or datetime.now(timezone.utc)).timestamp())[0])


def _info(store, run_id: str, objs: list, running: set[str]) -> RunInfo:
    keys = sorted(o.key for o in objs)
    prefix = run_prefix(run_id)
    manifest = None
    if f"{prefix}/manifest.json" in keys:
        try:
            manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
        except Exception:  # noqa: BLE001 - unreadable or gone: the run is listed without it
            manifest = None
    videos = [k for k in keys if k.startswith(f"{prefix}/videos/")]
    counts = (manifest or {}).get("counts") or {}
    zip_key = f"{prefix}/{run_id}.zip"
    parsed = parse_run_id(run_id)
    kind = (manifest or {}).get("kind") or (parsed.kind if parsed else run_id)
    return RunInfo(
        run_id=run_id,
        kind=kind,
        created=_created(run_id, manifest, max(o.modified for o in objs)),
        done=int(counts.get("done", len(videos))),
        failed=int(counts.get("failed", 0)),
        flagged=int(counts.get("flagged", 0)),
        size=sum(o.size for o in objs),
        keys=keys,
        videos=videos,
        zip=zip_key if zip_key in keys else None,
        manifest=manifest,
        running=run_id in running,
    )


def list_runs(store, now: datetime | None = None) -> list[RunInfo]:
    """Every run in the store, newest first."""
    groups: dict[str, list] = {}
    for obj in store.list(f"{RUNS_PREFIX}/"):
        parts = obj.key.split("/")
        if len(parts) >= 3:
            groups.setdefault(parts[1], []).append(obj)
    running = running_runs(store, now) if groups else set()
    runs = [_info(store, run_id, objs, running) for run_id, objs in groups.items()]
    runs.sort(key=lambda r: (r.created, r.run_id), reverse=True)
    return runs


def get_run(store, run_id: str) -> RunInfo:
    """One run, or ``InputError`` naming it."""
    check_run_id(run_id)
    objs = list(store.list(f"{run_prefix(run_id)}/"))
    if not objs:
        raise InputError(f"no run {run_id!r} in {store.describe()} ('heygem runs list' lists them)")
    return _info(store, run_id, objs, running_runs(store))


def delete_run(store, run_id: str) -> int:
    """Delete a run's folder whole; returns how many objects went."""
    check_run_id(run_id)
    return store.delete_prefix(f"{run_prefix(run_id)}/")


@dataclass
class Cleaned:
    dry_run: bool
    removed: list[RunInfo] = field(default_factory=list)  # (or would be, with dry_run)
    running: list[RunInfo] = field(default_factory=list)  # old enough, but kept: their flow still runs
    kept: int = 0  # runs left as they were

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removed)


def clean(store, older_than: float, *, now: datetime | None = None, dry_run: bool = False) -> Cleaned:
    """Delete the runs older than ``older_than`` seconds (by ``RunInfo.created``), whole; never
    one whose flow still runs."""
    if older_than is None or not older_than >= 0:
        raise InputError("the age must be 0 or more")
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(seconds=older_than)
    out = Cleaned(dry_run=dry_run)
    for run in list_runs(store, now):
        if run.created >= cutoff:
            out.kept += 1
        elif run.running:
            out.running.append(run)
            out.kept += 1
        else:
            if not dry_run:
                delete_run(store, run.run_id)
            out.removed.append(run)
    return out


def human_size(n: int | float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
