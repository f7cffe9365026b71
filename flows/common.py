"""What the three flows share: turn a list of jobs (rows) into finished videos, QA, a zip and
a report, with each row's failure confined to that row.

The DAG, per run: ingest every distinct input once → track each distinct video once →
normalise each distinct audio once → per row: lipsync → blend → mux → qa → publish; then one
package. Each step is submitted once the steps it needs have completed (``flows.schedule``),
with their futures, so independent rows run side by side, the dashboard draws the
dependencies, and no task thread waits for another task.

What a run tells while it goes (``flows.runs``): each task run's stage and the rows it serves
are published as the ``row-tasks`` artifact, and rows that fail at once as the ``row-failures``
artifact; the summary this returns (and the manifest) is the final word.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from prefect import get_run_logger
from prefect.context import TagsContext
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import get_run_context

from heygem_core.gc import hold
from heygem_core.intake import Row, SourceRef
from heygem_core.package import OutputEntry
from tasks.publish import package, publish
from tasks.runtime import retry_delays, settings_for, store_for
from tasks.stages import (
    adapt_mouth,
    blend,
    engine_version,
    ingest,
    lipsync,
    lipsync_remote,
    mux,
    normalize_audio,
    qa,
    track_faces,
)

from . import runs as run_ids
from .fleet import gpu_lanes, gpu_pool_ready
from .schedule import Scheduler, Step


@dataclass
class RowRun:
    row: Row
    label: str
    chain: list = field(default_factory=list)  # its steps whose failure fails the row, in order
    qa: Step | None = None
    publish: Step | None = None
    failure: str | None = None  # the first failed step's message, once the row has ended

    def ends(self) -> tuple[Step, Step]:
        """The row's QA and publish steps; only a row whose inputs failed at intake has none."""
        if self.qa is None or self.publish is None:
            raise RuntimeError(f"{self.label} has no steps: its inputs failed at intake")
        return self.qa, self.publish


def row_label(row: Row) -> str:
    return f"{row.lecturer}/{row.language}"


@contextmanager
def without_caller_tags():
    """Task runs submitted inside carry their tasks' own tags only, not the caller's (e.g. the
    web app's per-job tag; see ``_Tasks``)."""
    with TagsContext(current_tags=set()):
        yield


def _publish_table(key: str, table: list[dict], description: str) -> None:
    """A version of the table artifact ``key``: a courtesy to watchers (the summary says it all),
    so a failure to publish is logged, not raised."""
    try:
        create_table_artifact(table=table, key=key, description=description)
    except Exception as err:  # noqa: BLE001
        get_run_logger().debug("could not publish %s: %s", key, err)


class _Tasks:
    """Submits the run's tasks and publishes each one's stage and the rows it serves
    (``flows.runs.TASKS_ARTIFACT``, one version per ``flush``).

    The caller's tags (the web app's job tag) are kept off the task runs, and no tag is added:
    a tagged task run costs a concurrency-slot round trip, and Prefect keeps a service per
    distinct tag set for the life of the process (flows.runs)."""

    def __init__(self, run_id: str, settings):
        self.run_id = run_id
        self.delays = retry_delays(settings)  # the run's own waits (its overrides included)
        self.new: list[dict] = []
        self._tasks: dict = {}  # each task with the run's waits, made once per run

    def with_delays(self, task):
        if not task.retries:
            return task
        if task not in self._tasks:
            self._tasks[task] = task.with_options(retry_delay_seconds=self.delays)
        return self._tasks[task]

    def submit(self, task, stage: str, rows, *args):
        with without_caller_tags():
            fut = self.with_delays(task).submit(*args)
        self.new.append(run_ids.task_record(fut.task_run_id, stage, rows))
        return fut

    def submit_step(self, step: Step):
        return self.submit(step.task, step.stage, step.rows, *step.args())

    def flush(self) -> None:
        if self.new:
            table, self.new = self.new, []
            _publish_table(run_ids.TASKS_ARTIFACT, table, f"{self.run_id}: each task run's stage and rows")


class _Failures:
    """Rows that failed, published as they are found (``flows.runs.FAILURES_ARTIFACT``: each
    version holds the rows found since the last one), so a watcher need not wait for the end."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.said: set = set()

    def add(self, found: list[dict]) -> None:
        new = [f for f in found if f["row"] not in self.said]
        if not new:
            return
        self.said.update(f["row"] for f in new)
        _publish_table(run_ids.FAILURES_ARTIFACT, new, f"{self.run_id}: rows that failed since the previous version")


def produce(rows: list[Row], *, kind: str, overrides: dict | None = None, skipped: Sequence[dict] = ()) -> dict:
    """Run every row; returns the run summary (also stored as manifest/report/zip). ``skipped``
    rows (left out for their problems) are reported as failed with those problems."""
    logger = get_run_logger()
    settings = settings_for(overrides)
    store = store_for(settings)
    flow_run = get_run_context().flow_run
    run_id = run_ids.new_run_id(kind, str(flow_run.id))
    run_prefix = run_ids.run_prefix(run_id)
    started = time.perf_counter()
    # Held while it runs: `heygem gc` keeps what this run uses from now on.
    with hold(store, run_id):
        with _log_capture(str(flow_run.id)) as log_file:
            logger.info(
                "run %s: %d output(s)%s, store: %s",
                run_id,
                len(rows),
                f", {len(skipped)} left out" if skipped else "",
                store.describe(),
            )
            progress = create_progress_artifact(progress=0.0, description=f"{run_id}: videos finished")

            failures = _Failures(run_id)
            jobs = _Tasks(run_id, settings)
            failures.add(
                [{"row": s["row"], "output": s["output"], "message": f"not run: {s['message']}"} for s in skipped]
            )
            assets, ingest_errors = _ingest_all(rows, overrides, jobs)
            failures.add(
                [
                    {"row": row.number, "output": row.output, "message": message}
                    for row in rows
                    if (message := _ingest_failure(row, ingest_errors)) is not None
                ]
            )
            remote = gpu_pool_ready(settings, logger.warning)
            runs = _row_runs(rows, assets, ingest_errors, overrides, run_prefix, remote)
            _run_rows(runs, settings, jobs, _RowEnds(runs, failures, progress))

            entries = [_entry(rr, ingest_errors, overrides, logger) for rr in runs]
            entries += [_skipped(s, logger) for s in skipped]
            entries.sort(key=lambda e: e.row if e.row is not None else 0)
            done = sum(e.status == "done" for e in entries)
            failed = len(entries) - done
            flagged = sum(bool(e.qa and e.qa.get("flagged")) for e in entries)
            logger.info(
                "run %s: %d done, %d failed, %d flagged by QA, %.0f s",
                run_id,
                done,
                failed,
                flagged,
                time.perf_counter() - started,
            )
            extra = {
                "kind": kind,
                "flow_run_id": str(flow_run.id),
                "store": store.describe(),
                "seconds": round(time.perf_counter() - started, 1),
            }
            log_text = log_file.read_text(encoding="utf-8", errors="replace")
        packed = jobs.submit(package, "package", (), run_id, run_prefix, entries, extra, log_text, overrides)
        jobs.flush()
        keys = packed.result()
    summary = {
        "run_id": run_id,
        "run_prefix": run_prefix,
        "store": store.describe(),
        "flow_run_id": str(flow_run.id),
        "done": done,
        "failed": failed,
        "flagged": flagged,
        "outputs": [e.output_key for e in entries if e.status == "done"],
        "failures": [
            {"row": e.row, "output": e.output_name, "message": e.message} for e in entries if e.status != "done"
        ],
        "flags": [
            {"row": e.row, "output": e.output_name, "reasons": e.message}
            for e in entries
            if e.status == "done" and e.qa and e.qa.get("flagged")
        ],
        # one per row, in row order: what a caller matches its rows against
        "rows": [
            {
                "row": e.row,
                "output": e.output_name,
                "status": e.status,
                "key": e.output_key,
                "message": e.message,
                "flagged": bool(e.qa and e.qa.get("flagged")),
            }
            for e in entries
        ],
        **keys,
    }
    _artifacts(summary, entries, store)
    return summary


class _RowEnds:
    """Says each row's end as it comes: its failure at once (``row-failures``) and the run's
    progress."""

    def __init__(self, runs: list[RowRun], failures: _Failures, progress):
        self.by_last = {id(rr.publish): rr for rr in runs if rr.publish is not None}
        self.failures, self.progress, self.finished = failures, progress, 0

    def __call__(self, step: Step) -> None:
        rr = self.by_last.get(id(step))
        if rr is None:  # not a row's last step
            return
        rr.failure = _row_failure(rr)
        if rr.failure is not None:
            self.failures.add([{"row": rr.row.number, "output": rr.row.output, "message": rr.failure}])
        self.finished += 1
        update_progress_artifact(self.progress, progress=100.0 * self.finished / max(len(self.by_last), 1))


def _run_rows(runs: list[RowRun], settings, jobs: _Tasks, row_ends: _RowEnds) -> None:
    """Every row's steps, each submitted once its inputs are ready (flows.schedule): the run's
    own work HEYGEM_WORKERS at once, lip-syncs on the gpu pool as many as the fleet has GPUs."""
    limits = {"cpu": settings.workers, "gpu": gpu_lanes(settings)}
    scheduler = Scheduler(jobs.submit_step, limits, ended=row_ends, submitted=jobs.flush)
    for step in _unique_steps(runs):
        scheduler.add(step)
    scheduler.run()


def _served(rows: list[Row], assets: dict, what: str) -> dict[str, list[int]]:
    """The rows each distinct ingested video (or audio) serves, by its content hash."""
    out: dict[str, list[int]] = {}
    for row in rows:
        asset = assets.get(getattr(row, what))
        if asset is not None:
            out.setdefault(asset.sha256, []).append(row.number)
    return out


def _ingest_all(rows: list[Row], overrides, jobs: _Tasks) -> tuple[dict, dict]:
    served: dict[SourceRef, list[int]] = {}
    for row in rows:
        for ref in (row.video, row.audio, row.transcript):
            if ref is not None:
                served.setdefault(ref, []).append(row.number)
    refs: dict[SourceRef, Any] = {
        ref: jobs.submit(ingest, "ingest", numbers, ref.kind, ref.value, ref.name, overrides)
        for ref, numbers in served.items()
    }
    jobs.flush()
    assets, errors = {}, {}
    for ref, fut in refs.items():
        fut.wait()
        if fut.state.is_completed():
            assets[ref] = fut.result()
        else:
            errors[ref] = _message(fut.state)
    return assets, errors


def _skipped(s: dict, logger) -> OutputEntry:
    logger.warning("row %s (%s) skipped: %s", s["row"], s["output"], s["message"])
    return OutputEntry(
        row=s["row"],
        lecturer=s["lecturer"],
        language=s["language"],
        title="",
        output_name=s["output"],
        output_key=None,
        sha256=None,
        duration=None,
        engine=None,
        status="failed",
        message=f"not run: {s['message']}",
    )


def _ingest_failure(row: Row, ingest_errors: dict) -> str | None:
    return next((ingest_errors[r] for r in (row.video, row.audio, row.transcript) if r in ingest_errors), None)


def _row_runs(
    rows: list[Row], assets: dict, ingest_errors: dict, overrides, run_prefix: str, remote: bool
) -> list[RowRun]:
    """Every row's steps: each distinct video tracked (and the mouth adapted to it) once, each
    distinct audio normalised once, then per row lipsync -> blend -> mux -> qa -> publish."""
    by_video, by_audio = _served(rows, assets, "video"), _served(rows, assets, "audio")
    videos: dict[str, tuple[Step, Step]] = {}
    audios: dict[str, Step] = {}
    runs = []
    for row in rows:
        rr = RowRun(row=row, label=row_label(row))
        runs.append(rr)
        if _ingest_failure(row, ingest_errors) is not None:
            continue
        v, a = assets[row.video], assets[row.audio]
        t = assets[row.transcript] if row.transcript else None
        if v.sha256 not in videos:
            served = tuple(by_video[v.sha256])
            track = Step("track_faces", track_faces, served, lambda v=v: (v, overrides))
            # the learned mouth adapted to this lecturer: once per source, for every language
            adapt = Step(
                "adapt_mouth", adapt_mouth, served, lambda v=v, tr=track: (v, tr.future, overrides), needs=(track,)
            )
            videos[v.sha256] = (track, adapt)
        if a.sha256 not in audios:
            audios[a.sha256] = Step(
                "normalize_audio", normalize_audio, tuple(by_audio[a.sha256]), lambda a=a: (a, overrides)
            )
        track, adapt = videos[v.sha256]
        _chain(rr, v, a, t, track, adapt, audios[a.sha256], overrides, run_prefix, remote)
    return runs


def _chain(
    rr: RowRun, v, a, t, track: Step, adapt: Step, audio: Step, overrides, run_prefix: str, remote: bool
) -> None:
    one, label = (rr.row.number,), rr.label
    lip = Step(
        "lipsync",
        lipsync_remote if remote else lipsync,
        one,  # beside the normalising
        lambda: (v, track.future, a, t, rr.row.language, label, overrides, adapt.future),
        needs=(track, adapt),
        pool="gpu" if remote else "cpu",
    )
    blended = Step("blend", blend, one, lambda: (v, track.future, lip.future, label, overrides), needs=(track, lip))
    muxed = Step("mux", mux, one, lambda: (blended.future, audio.future, label, overrides), needs=(blended, audio))
    checked = rr.qa = Step(
        "qa", qa, one, lambda: (muxed.future, audio.future, label, overrides, track.future), needs=(muxed, audio, track)
    )
    # published with QA's figures when QA ran; a row whose QA could not run is still made
    rr.publish = Step(
        "publish",
        publish,
        one,
        lambda: (muxed.future, checked.future if checked.completed else None, run_prefix, rr.row.output, overrides),
        needs=(muxed,),
        after=(checked,),
    )
    rr.chain = [track, adapt, audio, lip, blended, muxed]


def _unique_steps(runs: list[RowRun]) -> list[Step]:
    """Every step once, inputs before the steps that need them."""
    seen, out = set(), []
    for rr in runs:
        for step in rr.chain + ([rr.qa, rr.publish] if rr.publish else []):
            if id(step) not in seen:
                seen.add(id(step))
                out.append(step)
    return out


def _row_failure(rr: RowRun) -> str | None:
    """The message of the first of the row's steps that failed (None: it was made and stored)."""
    for step in rr.chain:
        if step.ended and not step.completed and not step.skipped:
            return _message(step.future.state)
    _, published = rr.ends()
    if published.skipped:  # an input failed without a step of its own saying so
        return "not made: an earlier stage did not complete"
    if not published.completed:
        return f"finished, but could not be stored: {_message(published.future.state)}"
    return None


def _entry(rr: RowRun, ingest_errors: dict, overrides, logger) -> OutputEntry:
    row = rr.row
    base: dict[str, Any] = dict(
        row=row.number, lecturer=row.lecturer, language=row.language, title=row.title, output_name=row.output
    )
    message = _ingest_failure(row, ingest_errors) or rr.failure
    if message is not None:
        logger.error("%s (%s) failed: %s", rr.label, row.output, message)
        return OutputEntry(
            **base, output_key=None, sha256=None, duration=None, engine=None, status="failed", message=message
        )
    checked, published = rr.ends()
    qa_result, note = None, ""
    if checked.completed:
        qa_result = checked.future.result()
    else:
        note = f"QA could not run: {_message(checked.future.state)}"
        logger.warning("%s: %s", rr.label, note)
    pub = published.future.result()
    figures = qa_result.figures if qa_result is not None else None
    if qa_result is not None and qa_result.flagged:
        note = "; ".join(qa_result.reasons) or note
    return OutputEntry(
        **base,
        output_key=pub.key,
        sha256=pub.sha256,
        duration=figures.get("duration") if figures else None,
        engine=engine_version(overrides),
        status="done",
        message=note,
        qa=figures,
        pictures=pub.pictures,
    )


def _message(state) -> str:
    """The plain message of a failed task: the exception's own words, never a traceback."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception as err:  # the run's result could not be read back
        return state.message or f"{type(err).__name__}: {err}"
    if isinstance(exc, BaseException):
        return str(exc) or type(exc).__name__
    return state.message or state.name


class _RunFormatter(logging.Formatter):
    """Names the task or flow run a line came from, as the dashboard does."""

    def format(self, record: logging.LogRecord) -> str:
        task_name = getattr(record, "task_run_name", None)
        flow_name = getattr(record, "flow_run_name", None)
        record.who = f"task '{task_name}'" if task_name else f"flow '{flow_name}'" if flow_name else record.name
        return super().format(record)


class _log_capture:
    """Copy this run's log lines (flow, tasks and heygem_core) into a file for the package."""

    def __init__(self, flow_run_id: str):
        self.flow_run_id = flow_run_id
        self._tmp = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="heygem-run-", delete=False)
        self.path = Path(self._tmp.name)
        self._tmp.close()
        self.handler = logging.FileHandler(self.path, encoding="utf-8")
        self.handler.setFormatter(_RunFormatter("%(asctime)s %(levelname)-7s %(who)s: %(message)s"))
        self.handler.addFilter(self._mine)
        self.loggers = [logging.getLogger("prefect"), logging.getLogger("heygem_core")]

    def _mine(self, record: logging.LogRecord) -> bool:
        rid = getattr(record, "flow_run_id", None)
        return rid is None or str(rid) == self.flow_run_id

    def __enter__(self) -> Path:
        for lg in self.loggers:
            lg.addHandler(self.handler)
        return self.path

    def __exit__(self, *exc) -> None:
        for lg in self.loggers:
            lg.removeHandler(self.handler)
        self.handler.close()
        self.path.unlink(missing_ok=True)


def _artifacts(summary: dict, entries: list[OutputEntry], store) -> None:
    """What the dashboard shows for a run: a table of outputs, a summary, a link to the zip."""
    rows = []
    for e in entries:
        qa_fig = e.qa or {}
        rows.append(
            {
                "row": e.row if e.row is not None else "",
                "lecturer": e.lecturer,
                "language": e.language,
                "output": e.output_name,
                "status": e.status,
                "sync": f"{qa_fig['sync']:.2f}" if "sync" in qa_fig else "",
                "face coverage": f"{qa_fig['coverage']:.0%}" if "coverage" in qa_fig else "",
                "QA": ("FLAGGED" if qa_fig.get("flagged") else "ok") if qa_fig else "",
                "note": e.message,
            }
        )
    create_table_artifact(table=rows, key="outputs", description=f"Outputs of {summary['run_id']}")
    lines = [
        f"# {summary['run_id']}",
        f"**{summary['done']} done**, **{summary['failed']} failed**, {summary['flagged']} flagged by QA.",
        "",
        f"Store: {summary['store']}",
        f"Zip: `{summary['zip']}`",
        "",
    ]
    if summary["failures"]:
        lines += ["## Failed", ""] + [f"- row {f['row']}: `{f['output']}`: {f['message']}" for f in summary["failures"]]
    flagged = [e for e in entries if e.qa and e.qa.get("flagged")]
    if flagged:
        lines += ["", "## Flagged by QA", ""] + [f"- `{e.output_name}`: {e.message}" for e in flagged]
    pictures = [(e, kind, key) for e in entries for kind, key in e.pictures.items()]
    if pictures and store.links:
        lines += ["", "## Pictures", ""] + [f"![{e.output_name} {kind}]({store.url(key)})" for e, kind, key in pictures]
    create_markdown_artifact(markdown="\n".join(lines), key="summary", description="Run summary")
    create_link_artifact(
        link=summary["zip_url"],
        link_text=f"{summary['run_id']}.zip",
        key="zip",
        description="All outputs, manifest, report and log",
    )
