"""``heygem runs list | show RUN | clean --older-than AGE [--dry-run]``: the runs kept in the
artifact store (``runs/<run-id>/``), read through ``flows.runs`` as the web app's History reads
them. No Prefect: nothing here needs a server."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from heygem_core.config import Settings

from .codes import EXIT_OK


def add_parser(sub) -> None:
    rs = sub.add_parser(
        "runs",
        help="list, show or clean up the runs kept in the artifact store",
        description="The runs kept in the artifact store (HEYGEM_STORE: the local folder or "
        "S3/MinIO), one folder each: runs/<run-id>/ with its videos, QA pictures, manifest, "
        "report, log and zip. The web app's History shows the same runs.",
    )
    what = rs.add_subparsers(dest="runs_command", required=True, metavar="{list,show,clean}")
    what.add_parser("list", help="every run, newest first: when, kind, counts, size")
    show = what.add_parser("show", help="one run: each row's output and outcome, and where its files are")
    show.add_argument("run", help="a run id, as 'heygem runs list' prints it")
    clean = what.add_parser(
        "clean",
        help="delete runs older than an age (never a run still going)",
        description="Delete whole runs (runs/<run-id>/) that finished longer ago than "
        "--older-than. A run whose flow is still going is kept. Cached stage outputs are "
        "'heygem gc''s.",
    )
    clean.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m (a bare number: days)")
    clean.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    rs.set_defaults(verbose=False)


def _when(created: datetime) -> str:
    return f"{created.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def _counts(run) -> str:
    parts = [f"{run.done} done", f"{run.failed} failed"]
    if run.flagged:
        parts.append(f"{run.flagged} flagged by QA")
    return ", ".join(parts)


def _line(run, width: int) -> str:
    from flows.runs import human_size

    state = "running, started" if run.running else ("finished" if run.manifest else "started")
    return f"{run.run_id:<{width}}  {run.kind:<10} {state} {_when(run.created)}  {_counts(run)}  {human_size(run.size)}"


def runs_command(args: argparse.Namespace, settings: Settings) -> int:
    from heygem_core.store import open_store

    store = open_store(settings)
    return {"list": _list, "show": _show, "clean": _clean}[args.runs_command](args, store)


def _list(args, store) -> int:
    from flows.runs import human_size, list_runs

    found = list_runs(store)
    if not found:
        print(f"no runs in {store.describe()}")
        return EXIT_OK
    width = max(len(r.run_id) for r in found)
    print(
        f"{len(found)} run{'s' if len(found) != 1 else ''} in {store.describe()} "
        f"({human_size(sum(r.size for r in found))}), newest first:"
    )
    for run in found:
        print(_line(run, width))
    return EXIT_OK


def _show(args, store) -> int:
    from flows.runs import get_run, human_size, run_prefix

    run = get_run(store, args.run)  # InputError (exit 2) naming it when there is none
    state = "running, started" if run.running else ("finished" if run.manifest else "started, never finished")
    print(f"run {run.run_id}: {run.kind}, {state} {_when(run.created)}; {_counts(run)}; {human_size(run.size)}")
    for e in run.entries:
        where = f"row {e['row']}" if e.get("row") is not None else "-"
        status = e.get("status", "")
        qa = e.get("qa") or {}
        figures = []
        if "sync" in qa:
            figures.append(f"sync {qa['sync']:.2f}")
        if "coverage" in qa:
            figures.append(f"face in {qa['coverage']:.0%} of frames")
        line = f"  {where} {e.get('output_name', '')}: {status}"
        if figures:
            line += f" ({', '.join(figures)})"
        if status != "done":
            line += f": {e.get('message') or 'failed'}"
        elif qa.get("flagged"):
            line += f"; FLAGGED: {e.get('message', '')}"
        print(line)
    if not run.entries:
        for key in run.videos:
            print(f"  {key.rsplit('/', 1)[-1]}")
    if run.flow_run_id:
        print(f"flow run: {run.flow_run_id}")
    print(f"store:    {store.describe()}, prefix {run_prefix(run.run_id)}/ ({len(run.keys)} files)")
    for label, found in (("zip", run.zip), ("report", run.key("report.csv")), ("log", run.key("run.log"))):
        if found:
            print(f"{label + ':':<9} {found}")
    return EXIT_OK


def _clean(args, store) -> int:
    from heygem_core.gc import parse_age

    from flows.runs import clean, human_size

    older = parse_age(args.older_than)
    report = clean(store, older, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    width = max((len(r.run_id) for r in report.removed + report.running), default=0)
    for run in report.removed:
        print(f"{verb} {_line(run, width)}")
    for run in report.running:
        print(f"kept {_line(run, width)} (its flow is still going)")
    n = len(report.removed)
    print(
        f"heygem runs clean ({store.describe()}): {verb} {n} run{'s' if n != 1 else ''} older than "
        f"{args.older_than} ({human_size(report.freed)}); kept {report.kept}"
    )
    return EXIT_OK
