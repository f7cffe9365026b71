"""A whole heygem fleet on this machine, every part real, for tests and benchmarks: a Prefect
server process (SQLite), moto's S3 server, deployments/setup.sh, and workers started by
deployments/start_worker.sh as processes of their own (``Fleet.worker``), which
``Fleet.lose_machine`` can kill with everything under them. Servers listen on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tasks.remote import workers_online
from tests.paths import REPO
from tests.procs import stop_group
from tests.s3server import S3Server, free_port

SETUP = REPO / "deployments" / "setup.sh"
START_WORKER = REPO / "deployments" / "start_worker.sh"
FAST_WORKERS = {
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_WORKER_PREFETCH_SECONDS": "2",
}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001
        return False


def _descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (from /proc): a worker's flow runs and their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Fleet:
    def __init__(self, home: Path, gpu_slots: int = 2):
        self.gpu_slots = gpu_slots
        self.home, self.procs = home, {}
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.s3 = S3Server()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_", "PREFECT_"))}
        self.env = {
            **base,
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "HEYGEM_STORE": "s3",
            "MINIO_BUCKET": "fleet",
            "MINIO_ACCESS_KEY": "testing",
            "MINIO_SECRET_KEY": "testing-secret",
        }

    def start(self) -> "Fleet":
        self.s3.start()
        self.env["MINIO_ENDPOINT"] = self.s3.endpoint
        server_env = {**self.env, "PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS": "3"}
        self._spawn(
            "server",
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            server_env,
        )
        end = time.monotonic() + 120
        while not _healthy(self.api):
            assert time.monotonic() < end, (self.home / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        done = subprocess.run(
            ["bash", str(SETUP)],
            env={**self.env, "HEYGEM_GPU_SLOTS": str(self.gpu_slots)},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return self

    def _spawn(self, name: str, cmd: list[str], env: dict) -> None:
        log = open(self.home / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            cmd,
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def worker(self, pool: str, name: str, **extra: str) -> None:
        env = {
            **self.env,
            **FAST_WORKERS,
            "HEYGEM_WORKER_NAME": name,
            "HEYGEM_CACHE_DIR": str(self.home / f"cache-{name}"),
            **extra,
        }
        self._spawn(name, ["bash", str(START_WORKER), pool], env)

    def lose_machine(self, name: str) -> None:
        """SIGKILL a worker and every process under it, as a machine that loses power."""
        proc = self.procs[name]
        for pid in [proc.pid, *_descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)

    def heygem(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                for pid in _descendants(proc.pid):
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                stop_group(proc, grace=15)
        self.s3.stop()


def wait_online(fleet: Fleet, names: set[str], within: float = 120) -> None:
    end = time.monotonic() + within
    with api_client(fleet) as client:
        while True:
            online = {name for pool in ("cpu", "gpu") for name, up in workers_online(client, pool).items() if up}
            if names <= online:
                return
            assert time.monotonic() < end, f"workers online: {online}"
            time.sleep(1)


def api_client(fleet: Fleet):
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)  # on fleet.api: within temporary_settings(PREFECT_API_URL=fleet.api)


def start_course(fleet: Fleet, sheet: str):
    with api_client(fleet) as client:
        deployment = client.read_deployment_by_name("course_matrix/course-matrix")
        return client.create_flow_run_from_deployment(deployment.id, parameters={"sheet": sheet})


def wait_final(fleet: Fleet, run, within: float = 600):
    end = time.monotonic() + within
    with api_client(fleet) as client:
        while True:
            now = client.read_flow_run(run.id)
            if now.state.is_final():
                return now
            assert time.monotonic() < end, f"the course is still {now.state.name} after {within} s"
            time.sleep(2)


def most_at_once(spans) -> int:
    """Most of ``spans`` ((start, end, ...) each) open at the same moment."""
    edges = sorted([(span[0], 1) for span in spans] + [(span[1], -1) for span in spans])
    most = now = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most
