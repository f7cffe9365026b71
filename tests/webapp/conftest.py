"""The web app as a user meets it: ``heygem ui`` started as a subprocess on 127.0.0.1 against a
real Prefect server (``prefect_test_harness``) and a local artifact store in a temp folder,
driven by Debian's Chromium through Playwright (no browser is ever downloaded).

Set ``HEYGEM_WEB_SCREENS=docs/screens`` to keep the screenshots the tests take.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.paths import FIXTURES, REPO
from tests.s3server import free_port
from tests.procs import stop_group

CHROMIUM = Path("/usr/bin/chromium")
UPLOAD_LIMIT_MB = 5  # every fixture is smaller; the oversized-upload test sends 6 MB


class WebApp:
    def __init__(self, url: str, root: Path, log: Path, proc: subprocess.Popen):
        self.url, self.root, self.log, self.proc = url, root, log, proc
        self.store = root / "store"

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]


@pytest.fixture(scope="session")
def web_app(tmp_path_factory, prefect_api):
    root = tmp_path_factory.mktemp("webapp")
    (root / "inputs").mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_", "GRADIO_"))}
    env.update(prefect_api)
    env.update(
        {
            "HEYGEM_STORE": "local",
            "HEYGEM_ARTIFACT_DIR": str(root / "store"),
            "HEYGEM_CACHE_DIR": str(root / "cache"),
            "HEYGEM_INPUT_ROOTS": os.pathsep.join([str(FIXTURES), str(root / "inputs")]),
            "HEYGEM_UI_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
            "HEYGEM_UI_CONCURRENCY": "1",
            "GRADIO_TEMP_DIR": str(root / "gradio"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",
        }
    )
    log = root / "ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "ui", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    app = WebApp(f"http://127.0.0.1:{port}/", root, log, proc)
    try:
        end = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"heygem ui exited with {proc.returncode}:\n{app.log_tail()}")
            try:
                with urllib.request.urlopen(app.url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                pytest.fail(f"heygem ui did not answer within 120 s:\n{app.log_tail()}")
            time.sleep(0.5)
        yield app
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, web_app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.goto(web_app.url)
    pg.wait_for_selector("#single-go")
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(f"--- heygem ui log ---\n{web_app.log_tail()}")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Full-page PNG in the test's folder, and in HEYGEM_WEB_SCREENS when that is set."""
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    keep = os.environ.get("HEYGEM_WEB_SCREENS")
    if keep:
        dest = Path(keep)
        if not dest.is_absolute():
            dest = REPO / dest
        dest.mkdir(parents=True, exist_ok=True)
        (dest / out.name).write_bytes(out.read_bytes())
    return out
