"""Helpers for the hardening tests that drive the real web app (``heygem ui``) over HTTP.

``running_web_app`` starts ``python -m cli ui`` as a subprocess on 127.0.0.1 (a
free port) against the session's real Prefect test server, as ``tests/webapp/conftest.py``
does, but with settings chosen by the caller (concurrency, upload limit, login, store).
``RssSampler`` reads a process's resident memory from ``/proc`` in a background thread.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tests.paths import FIXTURES, REPO
from tests.s3server import free_port
from tests.procs import stop_group


@dataclass
class RunningApp:
    url: str
    root: Path
    log: Path
    proc: subprocess.Popen
    env: dict

    @property
    def store(self) -> Path:
        return self.root / "store"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def log_tail(self, n: int = 4000) -> str:
        return self.log_text()[-n:]

    def answers(self, path: str = "", timeout: float = 5) -> bool:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status == 200
        except OSError:
            return False


@contextlib.contextmanager
def running_web_app(
    root: Path,
    prefect_api: dict,
    *,
    concurrency: int = 1,
    upload_mb: float = 5,
    extra_env: dict | None = None,
    startup_timeout: float = 120,
) -> Iterator[RunningApp]:
    """``heygem ui`` on 127.0.0.1:<free port> with a local store under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "inputs").mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_", "GRADIO_"))}
    env.update(prefect_api)
    env.update(
        {
            "HEYGEM_STORE": "local",
            "HEYGEM_ARTIFACT_DIR": str(root / "store"),
            "HEYGEM_CACHE_DIR": str(root / "cache"),
            "HEYGEM_INPUT_ROOTS": os.pathsep.join([str(FIXTURES), str(root / "inputs")]),
            "HEYGEM_UI_MAX_UPLOAD_MB": f"{upload_mb:g}",
            "HEYGEM_UI_CONCURRENCY": str(concurrency),
            "GRADIO_TEMP_DIR": str(root / "gradio"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",
        }
    )
    env.update(extra_env or {})
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
    app = RunningApp(f"http://127.0.0.1:{port}/", root, log, proc, env)
    try:
        end = time.monotonic() + startup_timeout
        while not app.answers(timeout=2):
            if proc.poll() is not None:
                raise RuntimeError(f"heygem ui exited with {proc.returncode}:\n{app.log_tail()}")
            if time.monotonic() > end:
                raise RuntimeError(f"heygem ui did not answer within {startup_timeout:.0f} s:\n{app.log_tail()}")
            time.sleep(0.5)
        yield app
    finally:
        stop_group(proc)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS`` in ``/proc/<pid>/status``), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


@dataclass
class RssSampler:
    """Samples ``rss_bytes(pid)`` every ``every`` seconds until stopped: (monotonic time, bytes)."""

    pid: int
    every: float = 0.2
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_bytes(self.pid)))
            self._stop.wait(self.every)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append((time.monotonic(), rss_bytes(self.pid)))

    @property
    def peak(self) -> int:
        return max((b for _, b in self.samples), default=0)

    def peak_between(self, start: float, end: float) -> int:
        return max((b for t, b in self.samples if start <= t <= end), default=0)

    def low_between(self, start: float, end: float) -> int:
        return min((b for t, b in self.samples if start <= t <= end), default=0)


# ----------------------------------------------------------------------------- small real media


def small_clip(media_factory) -> Path:
    """1.6 s of ``katie_8s.mp4`` at 256x256 (H.264): a job on it takes seconds, not minutes."""
    from tests.paths import VIDEOS

    return media_factory.ffmpeg(
        "hardening_clip_256.mp4",
        "-ss",
        "1",
        "-t",
        "1.6",
        "-i",
        str(VIDEOS["katie_8s"]),
        "-vf",
        "scale=256:256",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
    )


def short_audio(media_factory, i: int, seconds: float = 1.0) -> Path:
    """The ``i``-th different ``seconds``-long cut of the 60 s English lecture (16 kHz mono)."""
    from tests.paths import LECTURE_60S

    return media_factory.ffmpeg(
        f"hardening_audio_{i:02d}_{seconds:g}s.wav",
        "-ss",
        f"{2 + 1.25 * i:.2f}",
        "-t",
        f"{seconds:g}",
        "-i",
        str(LECTURE_60S),
        "-ac",
        "1",
        "-ar",
        "16000",
    )
