"""A running job as the page shows it, worked out from structured data only.

* Which stage each item is at: the job's task runs in the Prefect API, their stage and the
  rows each serves from the flow's ``row-tasks`` artifact (``flows.runs``; validation by its
  ``stage:validate`` tag), and their state *types* (running, completed, failed…); an item is
  its row's number, never a task run's name.
* Why an item failed, while the job runs: the flow's ``row-failures`` artifact (each row's
  own message, published as the row fails); when it ends: the flow's summary (``rows``).

Prefect is imported only inside functions (the app points ``PREFECT_API_URL`` at a server first).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from flows import runs
from heygem_core.intake import Row

from .line import Place

log = logging.getLogger("heygem.webapp")

# What a person is told is happening, per stage (flows.runs.STAGES).
STAGE_WORDS: dict[str, str] = {
    "validate": "checking the files",
    "ingest": "reading the file",
    "track_faces": "finding the face",
    "adapt_mouth": "learning the lecturer's mouth",
    "normalize_audio": "preparing the audio",
    "lipsync": "planning the mouth movements",
    "blend": "drawing the new mouth",
    "mux": "adding the new audio",
    "qa": "checking the result",
    "publish": "saving the video",
    "package": "packing the zip",
}
# A row's own stages, in order (the audio is the run's: shared, and said as the run's stage).
ITEM_STAGES = ("ingest", "track_faces", "adapt_mouth", "lipsync", "blend", "mux", "qa", "publish")
RUN_STAGES = {
    "validate": "Checking the files…",
    "normalize_audio": "Preparing the audio…",
    "package": "Packing the zip…",
}


@dataclass
class Item:
    """One output the job makes."""

    number: int  # its place on the page (1…n)
    row: int | None  # the row number the flow gives it (None: refused before the flow ran)
    title: str  # what the page calls it: the video's name, or "lecturer (language)" for a sheet row
    output: str
    status: str = "waiting"  # waiting | working | done | failed
    stage: str = ""  # in words
    message: str = ""
    fraction: float = 0.0
    key: str | None = None  # store key of the finished video
    stage_key: str = ""  # the stage behind ``stage`` (flows.runs.STAGES)


def items_for(rows: list[Row], by_row: bool = False) -> list[Item]:
    return [
        Item(
            number=i,
            row=row.number,
            output=row.output,
            title=f"{row.lecturer} ({row.language})" if by_row else row.video.name,
        )
        for i, row in enumerate(rows, start=1)
    ]


def refused_item(number: int, name: str, why: str, row: int | None = None) -> Item:
    """An upload the page refused: failed before anything ran (``row``: its row in the run's
    report, where the run lists it)."""
    return Item(
        number=number, row=row, title=name, output=name, status="failed", stage="failed", message=why, fraction=1.0
    )


@dataclass
class Snapshot:
    """What the page shows while a job runs."""

    flow_run_id: str | None
    items: list[Item]
    global_stage: str = ""  # a stage that is not one item's (checking, audio, zip)
    waiting_for_slot: bool = False
    place: Place | None = None  # while waiting: jobs running, and jobs waiting ahead of this one
    # the flow's task map as read so far: read again only when a task run is not in it yet
    task_map: dict[str, tuple[str, set[int]]] = field(default_factory=dict)

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
        out = [f"{it.number}/{n}: {it.title} — {it.stage}" for it in self.items if it.status == "working"]
        if not out and self.global_stage:
            out.append(self.global_stage)
        return out


# ----------------------------------------------------------------------------- reading the API


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def find_flow_run(tag: str) -> str | None:
    """The id of the flow run tagged ``tag`` (the job's own tag), once it exists."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with _client() as client:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
    return str(found[0].id) if found else None


def read_task_runs(flow_run_id: str, page: int = 200, most: int = 4000) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    out, offset = [], 0
    with _client() as client:
        while True:
            got = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=page,
                offset=offset,
            )
            out.extend(got)
            if len(got) < page or offset >= most:
                return out
            offset += page


def _artifact_versions(flow_run_id: str, key: str, page: int = 200):
    """The data of every version of the flow run's artifact ``key``, newest first."""
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    flt = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), key=ArtifactFilterKey(any_=[key]))
    offset = 0
    with _client() as client:
        while True:
            got = client.read_artifacts(artifact_filter=flt, sort=ArtifactSort.ID_DESC, limit=page, offset=offset)
            for art in got:
                yield art.data
            if len(got) < page:
                return
            offset += page


def read_failures(flow_run_id: str) -> dict[int, str]:
    """Row number -> its failure message, from every version of the flow's failures artifact."""
    out: dict[int, str] = {}
    for data in _artifact_versions(flow_run_id, runs.FAILURES_ARTIFACT):
        out.update(failures_from(data))
    return out


def read_task_map(flow_run_id: str) -> dict[str, tuple[str, set[int]]]:
    """Task run id -> (its stage, the rows it serves), from every version of the flow's task map."""
    out: dict[str, tuple[str, set[int]]] = {}
    for data in _artifact_versions(flow_run_id, runs.TASKS_ARTIFACT):
        out.update(runs.task_map(data))
    return out


def failures_from(data) -> dict[int, str]:
    """One version of the failures artifact (a table: JSON text or a list) as row -> message."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return {}
    out = {}
    for rec in data if isinstance(data, list) else ():
        if isinstance(rec, dict) and isinstance(rec.get("row"), int):
            out[rec["row"]] = str(rec.get("message") or "")
    return out


def poll(tag: str, snap: Snapshot) -> None:
    """Bring ``snap`` up to date from the Prefect API."""
    if snap.flow_run_id is None:
        snap.flow_run_id = find_flow_run(tag)
        if snap.flow_run_id is None:
            return
    task_runs = read_task_runs(snap.flow_run_id)
    failed_rows = any(state_kind(tr) == "failed" for tr in task_runs)
    if any(str(tr.id) not in snap.task_map and runs.stage_of(tr.tags or ()) is None for tr in task_runs):
        snap.task_map.update(read_task_map(snap.flow_run_id))
    apply(task_runs, snap, read_failures(snap.flow_run_id) if failed_rows else {}, snap.task_map)


# ----------------------------------------------------------------------------- working it out


def state_kind(tr) -> str:
    """pending | running | completed | failed, from the state's type (never its name or message)."""
    from prefect.client.schemas.objects import StateType

    st = tr.state
    if st is None:
        return "pending"
    t = StateType(st.type) if not isinstance(st.type, StateType) else st.type
    if t is StateType.COMPLETED:
        return "completed"
    if t is StateType.RUNNING:
        return "running"
    if t in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
        return "failed"
    return "pending"  # SCHEDULED (incl. awaiting a retry), PENDING (incl. not ready), PAUSED, CANCELLING


def apply(
    task_runs: list,
    snap: Snapshot,
    failures: dict[int, str] | None = None,
    task_map: dict[str, tuple[str, set[int]]] | None = None,
) -> None:
    """Each unfinished item's status and stage from its row's task runs (stage tags, the rows
    each serves from ``task_map``: task run id -> (stage, rows), and state types); a failed item's
    message from ``failures`` (row -> the flow's own words)."""
    failures, task_map = failures or {}, task_map or {}
    per_row: dict[int, dict[str, set[str]]] = {}  # row -> kind -> stages
    running_run_stages = []
    for tr in task_runs:
        stage, rows = task_map.get(str(tr.id), (runs.stage_of(tr.tags or ()), set()))
        if stage is None:
            continue
        kind = state_kind(tr)
        for row in rows:
            per_row.setdefault(row, {}).setdefault(kind, set()).add(stage)
        if kind == "running" and stage in RUN_STAGES:
            running_run_stages.append(stage)
    order = {s: i for i, s in enumerate(ITEM_STAGES)}
    for it in snap.items:
        if it.status == "failed" and it.row is not None and not it.message:
            it.message = failures.get(it.row, "")  # its words may come a poll after its state
        if it.status in ("done", "failed") or it.row is None:
            continue
        kinds = per_row.get(it.row, {})
        completed = kinds.get("completed", set()) & set(ITEM_STAGES)
        running = kinds.get("running", set()) & set(ITEM_STAGES)
        if "publish" in completed:
            it.status, it.stage, it.stage_key, it.fraction = "done", "done", "publish", 1.0
        elif kinds.get("failed"):
            it.status, it.stage = "failed", "failed"
            it.stage_key = min(kinds["failed"], key=lambda s: order.get(s, -1))
            it.message = failures.get(it.row) or it.message
        elif running or completed:
            if running:
                current = max(running, key=order.__getitem__)
            else:  # between two tasks: name the next one
                current = ITEM_STAGES[min(max(order[s] for s in completed) + 1, len(ITEM_STAGES) - 1)]
            it.status, it.stage, it.stage_key = "working", STAGE_WORDS[current], current
            if current == "publish" and not running and len(snap.items) > 1:  # saved when all are checked
                it.stage = "ready, saved when the others are finished"
            it.fraction = min(0.95, len(completed) / len(ITEM_STAGES))
    if running_run_stages:
        snap.global_stage = RUN_STAGES[running_run_stages[-1]]
    elif snap.items and all(it.status in ("done", "failed") for it in snap.items):
        snap.global_stage = RUN_STAGES["package"]
    elif not task_runs:
        snap.global_stage = "Starting…"
    else:
        snap.global_stage = ""


def finish_items(items: list[Item], summary: dict) -> None:
    """Final statuses from the flow's summary (the authority): its ``rows``, by row number."""
    by_row = {r.get("row"): r for r in summary.get("rows", []) if r.get("row") is not None}
    for it in items:
        rec = by_row.get(it.row) if it.row is not None else None
        if rec is None:
            continue
        if rec.get("status") == "done":
            # a flagged output (QA, or a source whose mouth barely opens) says why beside it
            note = f"flagged: {rec['message']}" if rec.get("flagged") and rec.get("message") else ""
            it.status, it.stage, it.key, it.fraction, it.message = "done", "done", rec.get("key"), 1.0, note
        else:
            it.status, it.stage, it.message = "failed", "failed", rec.get("message") or "failed"
