"""The Prefect server heygem uses: the one ``PREFECT_API_URL`` names, or a local one on SQLite
that this module starts (or reuses). Used by the command line and the web app before they
import Prefect, so that Prefect reads ``PREFECT_API_URL`` pointing at a real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from heygem_core.config import Settings
from heygem_core.errors import HeygemError


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
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_API_URL": api_url}
        print(f"starting a local Prefect server on 127.0.0.1:{port} (log: {log_path})", file=sys.stderr)
        with open(log_path, "ab") as log:
            subprocess.Popen(
                [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        end = time.monotonic() + wait
        while not _healthy(api_url):
            if time.monotonic() > end:
                raise HeygemError(f"the local Prefect server did not start within {wait:.0f} s; see {log_path}")
            time.sleep(0.5)
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return api_url


def dashboard_url(api_url: str, flow_run_id: str) -> str:
    base = api_url[: -len("/api")] if api_url.rstrip("/").endswith("/api") else api_url
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"
