"""What the three flows share: turn a list of jobs (rows) into finished videos, QA, a zip and
a report, with each row's failure confined to that row.

The DAG, per run: ingest every distinct input once → track each distinct video once →
normalise each distinct audio once → per row: lipsync → blend → mux → qa → publish; then one
package. Dependencies are passed as futures, so independent rows run side by side.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import (create_link_artifact, create_markdown_artifact,
                               create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.context import get_run_context
from prefect.futures import as_completed

from heygem_core.gc import hold
from heygem_core.intake import Row, SourceRef
from heygem_core.package import OutputEntry
from tasks.publish import package, publish
from tasks.runtime import settings_for, store_for
from tasks.stages import (blend, engine_version, ingest, lipsync, lipsync_remote, mux, normalize_audio, qa,
                          track_faces)


@dataclass
class RowRun:
    row: Row
    label: str
    futures: list = field(default_factory=list)  # in dependency order
    mux: Any = None
    qa: Any = None


def row_label(row: Row) -> str:
    return f"{row.lecturer}/{row.language}"


def produce(rows: list[Row], *, kind: str, overrides: dict | None = None, skipped: list[dict] = ()) -> dict:
    """Run every row; returns the run summary (also stored as manifest/report/zip). ``skipped``
    rows (left out for their problems) are reported as failed with those problems."""
    logger = get_run_logger()
    settings = settings_for(overrides)
    store = store_for(settings)
    flow_run = get_run_context().flow_run
    run_id = f"{kind}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{str(flow_run.id)[:8]}"
    run_prefix = f"runs/{run_id}"
    started = time.perf_counter()
    # Held while it runs: `heygem gc` keeps what this run uses from now on.
    with hold(store, run_id):
        with _log_capture(str(flow_run.id)) as log_file:
            logger.info("run %s: %d output(s)%s, store: %s", run_id, len(rows),
                        f", {len(skipped)} left out" if skipped else "", store.describe())
            progress = create_progress_artifact(progress=0.0, description=f"{run_id}: videos finished")

            assets, ingest_errors = _ingest_all(rows, overrides)
            tracks = {}
            audios = {}
            for row in rows:
                v, a = assets.get(row.video), assets.get(row.audio)
                if v is not None and v.sha256 not in tracks:
                    tracks[v.sha256] = track_faces.submit(v, overrides)
                if a is not None and a.sha256 not in audios:
                    audios[a.sha256] = normalize_audio.submit(a, overrides)

            runs: list[RowRun] = []
            for row in rows:
                rr = RowRun(row=row, label=row_label(row))
                runs.append(rr)
                refs = [row.video, row.audio] + ([row.transcript] if row.transcript else [])
                if any(ref in ingest_errors for ref in refs):
                    continue
                v, a = assets[row.video], assets[row.audio]
                t = assets[row.transcript] if row.transcript else None
                track_f, audio_f = tracks[v.sha256], audios[a.sha256]
                lip = lipsync_remote if settings.lipsync_deployment else lipsync
                lip_f = lip.submit(v, track_f, a, t, row.language, rr.label, overrides)  # beside the normalising
                blend_f = blend.submit(v, track_f, lip_f, rr.label, overrides)
                rr.mux = mux.submit(blend_f, audio_f, rr.label, overrides)
                rr.qa = qa.submit(rr.mux, audio_f, rr.label, overrides, track_f)
                rr.futures = [track_f, audio_f, lip_f, blend_f, rr.mux]

            finals = [rr.qa for rr in runs if rr.qa is not None]
            for n, fut in enumerate(as_completed(finals), start=1):
                fut.wait()
                update_progress_artifact(progress, progress=100.0 * n / max(len(finals), 1))

            entries = [_entry(rr, ingest_errors, run_prefix, overrides, logger) for rr in runs]
            entries += [_skipped(s, logger) for s in skipped]
            entries.sort(key=lambda e: e.row if e.row is not None else 0)
            done = sum(e.status == "done" for e in entries)
            failed = len(entries) - done
            flagged = sum(bool(e.qa and e.qa.get("flagged")) for e in entries)
            logger.info("run %s: %d done, %d failed, %d flagged by QA, %.0f s", run_id, done, failed,
                        flagged, time.perf_counter() - started)
            extra = {"kind": kind, "flow_run_id": str(flow_run.id), "store": store.describe(),
                     "seconds": round(time.perf_counter() - started, 1)}
            log_text = log_file.read_text(encoding="utf-8", errors="replace")
        keys = package.submit(run_id, run_prefix, entries, extra, log_text, overrides).result()
    summary = {
        "run_id": run_id, "run_prefix": run_prefix, "store": store.describe(),
        "flow_run_id": str(flow_run.id),
        "done": done, "failed": failed, "flagged": flagged,
        "outputs": [e.output_key for e in entries if e.status == "done"],
        "failures": [{"row": e.row, "output": e.output_name, "message": e.message}
                     for e in entries if e.status != "done"],
        "flags": [{"row": e.row, "output": e.output_name, "reasons": e.message}
                  for e in entries if e.status == "done" and e.qa and e.qa.get("flagged")],
        **keys,
    }
    _artifacts(summary, entries, store)
    return summary


def _ingest_all(rows: list[Row], overrides) -> tuple[dict, dict]:
    refs: dict[SourceRef, Any] = {}
    for row in rows:
        for ref in (row.video, row.audio, row.transcript):
            if ref is not None and ref not in refs:
                refs[ref] = ingest.submit(ref.kind, ref.value, ref.name, overrides)
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
    return OutputEntry(row=s["row"], lecturer=s["lecturer"], language=s["language"], title="",
                       output_name=s["output"], output_key=None, sha256=None, duration=None, engine=None,
                       status="failed", message=f"not run: {s['message']}")


def _entry(rr: RowRun, ingest_errors: dict, run_prefix: str, overrides, logger) -> OutputEntry:
    row = rr.row
    base = dict(row=row.number, lecturer=row.lecturer, language=row.language, title=row.title,
                output_name=row.output)
    message = next((ingest_errors[r] for r in (row.video, row.audio, row.transcript) if r in ingest_errors), None)
    if message is None:
        for fut in rr.futures:
            fut.wait()
            if not fut.state.is_completed():
                message = _message(fut.state)
                break
    if message is not None:
        logger.error("%s (%s) failed: %s", rr.label, row.output, message)
        return OutputEntry(**base, output_key=None, sha256=None, duration=None, engine=None,
                           status="failed", message=message)
    qa_result, note = None, ""
    rr.qa.wait()
    if rr.qa.state.is_completed():
        qa_result = rr.qa.result()
    else:
        note = f"QA could not run: {_message(rr.qa.state)}"
        logger.warning("%s: %s", rr.label, note)
    published = publish.submit(rr.mux.result(), qa_result, run_prefix, row.output, overrides)
    published.wait()
    if not published.state.is_completed():
        message = f"finished, but could not be stored: {_message(published.state)}"
        logger.error("%s: %s", rr.label, message)
        return OutputEntry(**base, output_key=None, sha256=None, duration=None, engine=None,
                           status="failed", message=message)
    pub = published.result()
    figures = (qa_result or {}).get("figures")
    if figures and figures.get("flagged"):
        note = "; ".join(figures.get("reasons", ())) or note
    return OutputEntry(**base, output_key=pub["key"], sha256=pub["sha256"],
                       duration=figures.get("duration") if figures else None,
                       engine=engine_version(overrides), status="done", message=note,
                       qa=figures, pictures=pub["pictures"])


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
        rows.append({
            "row": e.row if e.row is not None else "", "lecturer": e.lecturer, "language": e.language,
            "output": e.output_name, "status": e.status,
            "sync": f"{qa_fig['sync']:.2f}" if "sync" in qa_fig else "",
            "face coverage": f"{qa_fig['coverage']:.0%}" if "coverage" in qa_fig else "",
            "QA": ("FLAGGED" if qa_fig.get("flagged") else "ok") if qa_fig else "",
            "note": e.message,
        })
    create_table_artifact(table=rows, key="outputs", description=f"Outputs of {summary['run_id']}")
    lines = [f"# {summary['run_id']}",
             f"**{summary['done']} done**, **{summary['failed']} failed**, {summary['flagged']} flagged by QA.",
             "", f"Store: {summary['store']}", f"Zip: `{summary['zip']}`", ""]
    if summary["failures"]:
        lines += ["## Failed", ""] + [f"- row {f['row']}: `{f['output']}`: {f['message']}" for f in summary["failures"]]
    flagged = [e for e in entries if e.qa and e.qa.get("flagged")]
    if flagged:
        lines += ["", "## Flagged by QA", ""] + [f"- `{e.output_name}`: {e.message}" for e in flagged]
    pictures = [(e, kind, key) for e in entries for kind, key in e.pictures.items()]
    if pictures and store.links:
        lines += ["", "## Pictures", ""] + [f"![{e.output_name} {kind}]({store.url(key)})" for e, kind, key in pictures]
    create_markdown_artifact(markdown="\n".join(lines), key="summary", description="Run summary")
    create_link_artifact(link=summary["zip_url"], link_text=f"{summary['run_id']}.zip", key="zip",
                         description="All outputs, manifest, report and log")
