"""The Prefect side of the ``heygem`` command: ``run`` (a course sheet), ``batch`` and ``server``.

Imported only for those commands, so that ``heygem lipsync`` never pays for importing Prefect;
Prefect itself is imported only after ``flows.server.ensure_server`` has pointed
``PREFECT_API_URL`` at a real server.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

from flows.registry import FLOWS, flow
from flows.server import dashboard_url, ensure_server
from heygem_core.config import Settings
from heygem_core.errors import HeygemError, InputError
from heygem_core.plugins import UnknownPlugin

from .codes import EXIT_FAILURE, EXIT_INPUT, EXIT_OK


def _check_sheet(sheet: str, input_roots: list[Path], settings: Settings, skip_invalid: bool = False) -> None:
    """Validate before starting anything, so a bad sheet costs no server and no run. With
    ``skip_invalid`` the rows that will be left out are said, one line each."""
    from heygem_core.intake import check_sheet_ref
    from heygem_core.store import open_store

    store = open_store(settings)
    _, skipped = check_sheet_ref(
        store,
        sheet,
        input_roots=tuple(input_roots) or settings.input_roots,
        max_rows=settings.max_sheet_rows,
        skip_invalid=skip_invalid,
        check_keys=store.remote,
    )
    for s in skipped:
        print(f"heygem: row {s.row} ({s.output}) will not be run: {s.message}", file=sys.stderr)


def run_command(args) -> int:
    """``heygem run SHEET``: a sheet file here, or ``store:KEY`` (one put in the artifact store
    with ``heygem store put``), as a deployment takes it."""
    from heygem_core.intake import is_stored

    settings = Settings.from_env()
    roots = [Path(r).resolve() for r in (args.input_root or [])]
    sheet = args.sheet if is_stored(args.sheet) else str(Path(args.sheet).expanduser().resolve())
    _check_sheet(sheet, roots, settings, args.skip_invalid)
    api_url = ensure_server()
    _quiet_console(args.verbose)
    course_matrix = flow("course_matrix")
    state = course_matrix(
        sheet, [str(r) for r in roots] or None, _overrides(args), args.skip_invalid, return_state=True
    )
    return _finish(state, api_url, args.output)


def batch_command(args) -> int:
    api_url = ensure_server()
    _quiet_console(args.verbose)
    batch = flow("batch")
    state = batch(
        str(args.audio.resolve()),
        [str(v.resolve()) for v in args.videos],
        args.language,
        str(args.transcript.resolve()) if args.transcript else None,
        None,
        _overrides(args),
        return_state=True,
    )
    return _finish(state, api_url, args.output)


class _RunProblems(logging.Filter):
    """Keeps a flow's warnings and errors (task failures with their tracebacks) off the
    terminal: they go to the dashboard and the run's run.log, and the summary printed at the
    end says each failure once, in plain words. ``-v`` shows them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno >= logging.WARNING and record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))
        )


def _quiet_console(verbose: bool) -> None:
    if verbose:
        return
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import PrefectConsoleHandler

    setup_logging()  # now, so that its console handler exists to be filtered (Prefect keeps it)
    for handler in logging.getLogger().handlers + logging.getLogger("prefect").handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(_RunProblems())


def flow_command(args) -> int:
    """``heygem flow NAME -p KEY=VALUE …``: any flow of the registry, by name."""
    if args.list or not args.name:
        print("flows: " + ", ".join(FLOWS.names()))
        return EXIT_OK if args.list else EXIT_INPUT
    if args.name not in FLOWS:  # one line naming the known ones, before any server
        raise UnknownPlugin(f"unknown flow '{args.name}'; choose one of: {', '.join(FLOWS.names())}")
    api_url = ensure_server()  # before Prefect is imported with the flow's module
    fn = flow(args.name)
    params = _params(args.param, fn)
    _quiet_console(args.verbose)
    state = fn(**params, return_state=True)
    from flows.outcome import summary_of

    if summary_of(state) is not None:  # a flow that makes videos: the same report as run/batch
        return _finish(state, api_url, args.output)
    link = dashboard_url(api_url, str(state.state_details.flow_run_id))
    if not state.is_completed():
        err = state.result(raise_on_failure=False, _sync=True)
        print(
            f"heygem: error: {err if isinstance(err, BaseException) else state.message or state.name}", file=sys.stderr
        )
        print(f"dashboard: {link}", file=sys.stderr)
        return EXIT_INPUT if isinstance(err, InputError) else EXIT_FAILURE
    result = state.result(_sync=True)
    print(f"flow {args.name}: {state.name}" + (f": {json.dumps(result, default=str)}" if result is not None else ""))
    print(f"dashboard: {link}")
    return EXIT_OK


def _params(pairs: list[str], fn) -> dict:
    """``KEY=VALUE`` pairs as the flow's parameters (JSON where the value is JSON); an unknown
    key is refused naming the flow's parameters, before any server is started."""
    import inspect

    known = inspect.signature(fn.fn).parameters
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--param {pair!r}: write it as KEY=VALUE")
        if key not in known:
            raise InputError(f"--param {key}: flow {fn.name} has no parameter '{key}' (it has: {', '.join(known)})")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def server_command(args) -> int:
    api_url = ensure_server(args.port)
    print(f"Prefect dashboard: {api_url[:-4]}")
    return EXIT_OK


def _overrides(args) -> dict | None:
    out = {
        k: v
        for k, v in (("crf", getattr(args, "crf", None)), ("engine", getattr(args, "engine", None)))
        if v is not None
    }
    return out or None


def _finish(state, api_url: str, output: Path | None) -> int:
    flow_run_id = str(state.state_details.flow_run_id)
    link = dashboard_url(api_url, flow_run_id)
    from flows.outcome import summary_of

    summary = summary_of(state)  # a run with failed rows is Failed, and still carries its summary
    if summary is None:
        err = state.result(raise_on_failure=False, _sync=True)
        if isinstance(err, BaseException) and not isinstance(err, HeygemError):  # a bug: show it whole
            traceback.print_exception(err)
        message = str(err) if isinstance(err, BaseException) else (state.message or state.name)
        print(f"heygem: error: {message}", file=sys.stderr)
        print(f"dashboard: {link}", file=sys.stderr)
        return EXIT_INPUT if isinstance(err, InputError) else EXIT_FAILURE
    local = _download(summary, output) if output else None
    print(
        f"run {summary['run_id']}: {summary['done']} done, {summary['failed']} failed, "
        f"{summary['flagged']} flagged by QA"
    )
    for f in summary["failures"]:
        where = f"row {f['row']}" if f.get("row") is not None else f["output"]
        print(f"  failed: {where} ({f['output']}): {f['message']}")
    for f in summary.get("flags", []):
        print(f"  flagged: {f['output']}: {f['reasons']}")
    print(f"dashboard: {link}")
    print(f"store:     {summary['store']}, prefix {summary['run_prefix']}/")
    if local:
        print(f"outputs:   {local['videos']}")
        print(f"zip:       {local['zip']}")
        print(f"report:    {local['report']}")
    else:
        print(f"zip:       {summary['zip_url']}")
    return EXIT_FAILURE if summary["failed"] else EXIT_OK


def _download(summary: dict, output: Path) -> dict:
    from tasks.runtime import settings_for, store_for

    store = store_for(settings_for(None))
    videos = output / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for key in summary["outputs"]:
        store.get_file(key, videos / key.rsplit("/", 1)[-1])
    zip_path = store.get_file(summary["zip"], output / f"{summary['run_id']}.zip")
    report = store.get_file(summary["report.csv"], output / "report.csv")
    (output / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return {"videos": videos, "zip": zip_path, "report": report}
