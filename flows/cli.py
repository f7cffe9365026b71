"""The Prefect side of the ``heygem`` command: ``run`` (a course sheet), ``batch`` and ``server``.

Kept apart from ``heygem_core.cli`` so that ``heygem lipsync`` never pays for importing
Prefect. Prefect is imported only after ``PREFECT_API_URL`` points at a real server: the one
given in the environment, or a local one on SQLite that this module starts (or reuses).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

from heygem_core.config import Settings
from heygem_core.errors import HeygemError, InputError



def _healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as resp:
            return resp.status == 200
    except Exception:
        return False


def _server_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "heygem"


def ensure_server(port: int | None = None, wait: float = 90.0) -> str:
    """The API URL of a running Prefect server: ``PREFECT_API_URL`` if set, else a local
    server on 127.0.0.1 (started in the background on its SQLite database if not running;
    it keeps running so the dashboard stays available after the command ends)."""
    given = os.environ.get("PREFECT_API_URL")
    if given:
        if not _healthy(given, timeout=5):
            raise HeygemError(f"the Prefect server at {given} (PREFECT_API_URL) does not answer")
        return given
    port = port or Settings.from_env().prefect_port
    api_url = f"http://127.0.0.1:{port}/api"
    if not _healthy(api_url):
        home = _server_home()
        home.mkdir(parents=True, exist_ok=True)
        log_path = home / "prefect-server.log"
        prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_UI_API_URL": api_url}
        print(f"starting a local Prefect server on 127.0.0.1:{port} (log: {log_path})", file=sys.stderr)
        with open(log_path, "ab") as log:
            subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        end = time.monotonic() + wait
        while not _healthy(api_url):
            if time.monotonic() > end:
                raise HeygemError(f"the local Prefect server did not start within {wait:.0f} s; see {log_path}")
            time.sleep(0.5)
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return api_url


def dashboard_url(api_url: str, flow_run_id: str) -> str:
    base = api_url[:-len("/api")] if api_url.rstrip("/").endswith("/api") else api_url
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"


def _check_sheet(sheet: Path, input_roots: list[Path], settings: Settings, skip_invalid: bool = False) -> None:
    """Validate before starting anything, so a bad sheet costs no server and no run. With
    ``skip_invalid`` the rows that will be left out are said, one line each."""
    from heygem_core.intake import check_sheet
    from heygem_core.store import open_store

    store_exists = open_store(settings).exists if settings.store == "s3" else None
    _, skipped = check_sheet(sheet, input_roots=tuple(input_roots) or settings.input_roots,
                             store_exists=store_exists, max_rows=settings.max_sheet_rows,
                             skip_invalid=skip_invalid)
    for s in skipped:
        print(f"heygem: row {s.row} ({s.output}) will not be run: {s.message}", file=sys.stderr)


def run_command(args) -> int:
    settings = Settings.from_env()
    roots = [Path(r).resolve() for r in (args.input_root or [])]
    _check_sheet(args.sheet, roots, settings, args.skip_invalid)
    api_url = ensure_server()
    _quiet_console(args.verbose)
    from flows.course_matrix import course_matrix

    state = course_matrix(str(args.sheet.resolve()), [str(r) for r in roots] or None, _overrides(args),
                          args.skip_invalid, return_state=True)
    return _finish(state, api_url, args.output)


def batch_command(args) -> int:
    api_url = ensure_server()
    _quiet_console(args.verbose)
    from flows.batch import batch

    state = batch(str(args.audio.resolve()), [str(v.resolve()) for v in args.videos], args.language,
                  str(args.transcript.resolve()) if args.transcript else None, None, _overrides(args),
                  return_state=True)
    return _finish(state, api_url, args.output)


class _RunProblems(logging.Filter):
    """Keeps a flow's warnings and errors (task failures with their tracebacks) off the
    terminal: they go to the dashboard and the run's run.log, and the summary printed at the
    end says each failure once, in plain words. ``-v`` shows them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.WARNING and record.name.startswith(("prefect.flow_runs",
                                                                                  "prefect.task_runs")))


def _quiet_console(verbose: bool) -> None:
    if verbose:
        return
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import PrefectConsoleHandler

    setup_logging()  # now, so that its console handler exists to be filtered (Prefect keeps it)
    for handler in logging.getLogger().handlers + logging.getLogger("prefect").handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(_RunProblems())


def server_command(args) -> int:
    api_url = ensure_server(args.port)
    print(f"Prefect dashboard: {api_url[:-4]}")
    return 0


def _overrides(args) -> dict | None:
    out = {k: v for k, v in (("crf", getattr(args, "crf", None)), ("engine", getattr(args, "engine", None)))
           if v is not None}
    return out or None


def _finish(state, api_url: str, output: Path | None) -> int:
    flow_run_id = str(state.state_details.flow_run_id)
    link = dashboard_url(api_url, flow_run_id)
    if not state.is_completed():
        err = state.result(raise_on_failure=False)
        if isinstance(err, BaseException) and not isinstance(err, HeygemError):  # a bug: show it whole
            traceback.print_exception(err)
        message = str(err) if isinstance(err, BaseException) else (state.message or state.name)
        print(f"heygem: error: {message}", file=sys.stderr)
        print(f"dashboard: {link}", file=sys.stderr)
        return 2 if isinstance(err, InputError) else 1
    summary = state.result()
    local = _download(summary, output) if output else None
    print(f"run {summary['run_id']}: {summary['done']} done, {summary['failed']} failed, "
          f"{summary['flagged']} flagged by QA")
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
    return 1 if summary["failed"] else 0


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
