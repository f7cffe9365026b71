"""The fleet as an operator runs it, every part real: a Prefect server process (SQLite), moto's S3
server, deployments/setup.sh with two GPU slots, one cpu and two gpu workers started by
deployments/start_worker.sh as processes of their own, inputs put with ``heygem store put``.

1. A 2 × 2 course: every row's lip-sync runs as a ``lipsync_row`` flow run on the gpu pool,
   two at once (read from the API's timeline).
2. Another course, and a gpu machine lost mid-row (its worker and every process under it
   killed): the row's sub-flow is cancelled, started again and done by the other gpu worker,
   the other rows finish, and the course ends Completed. The time from the kill to the row's
   verdict is printed.

Slow (minutes: each flow run is a new process). Every process is stopped after.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import short_batch_inputs
from tests.procs import stop_group
from tests.s3server import S3Server, free_port
from tests.paths import LANGUAGE_AUDIO, REPO

SETUP = REPO / "deployments" / "setup.sh"
START_WORKER = REPO / "deployments" / "start_worker.sh"
FAST_WORKERS = {"PREFECT_WORKER_HEARTBEAT_SECONDS": "5", "PREFECT_WORKER_QUERY_SECONDS": "2",
                "PREFECT_WORKER_PREFETCH_SECONDS": "2"}


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
    def __init__(self, home: Path):
        self.home, self.procs = home, {}
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.s3 = S3Server()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_", "PREFECT_"))}
        self.env = {**base, "PREFECT_API_URL": self.api, "PREFECT_HOME": str(home / "prefect"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HEYGEM_STORE": "s3",
                    "MINIO_BUCKET": "fleet", "MINIO_ACCESS_KEY": "testing", "MINIO_SECRET_KEY": "testing-secret"}

    def start(self) -> "Fleet":
        self.s3.start()
        self.env["MINIO_ENDPOINT"] = self.s3.endpoint
        server_env = {**self.env, "PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS": "3"}
        self._spawn("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(self.port)], server_env)
        end = time.monotonic() + 120
        while not _healthy(self.api):
            assert time.monotonic() < end, (self.home / "server.log").read_text()[-3000:]
            time.sleep(0.5)
        done = subprocess.run(["bash", str(SETUP)], env={**self.env, "HEYGEM_GPU_SLOTS": "2"}, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return self

    def _spawn(self, name: str, cmd: list[str], env: dict) -> None:
        log = open(self.home / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def worker(self, pool: str, name: str, **extra: str) -> None:
        env = {**self.env, **FAST_WORKERS, "HEYGEM_WORKER_NAME": name,
               "HEYGEM_CACHE_DIR": str(self.home / f"cache-{name}"), **extra}
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
        done = subprocess.run([sys.executable, "-m", "cli", *args], env=self.env, cwd=REPO, capture_output=True,
                              text=True, timeout=300)
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


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, media_factory):
    home = tmp_path_factory.mktemp("fleet")
    fleet = Fleet(home).start()
    try:
        # the parent flows read their gpu waits from the cpu worker's environment
        fleet.worker("cpu", "cpu-1", HEYGEM_GPU_START_S="20", HEYGEM_GPU_RUN_S="240", HEYGEM_GPU_QUEUE_S="240")
        fleet.worker("gpu", "gpu-a")
        fleet.worker("gpu", "gpu-b")
        clip, audio, _ = short_batch_inputs(media_factory, home)
        other = media_factory.ffmpeg("chaplin_2s.mp4", "-i", str(REPO.parent / "shared" / "fixtures" / "video" /
                                                                 "chaplin_7s.mp4"), "-t", "2", "-an",
                                     "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
        en = media_factory.ffmpeg("en_2s.wav", "-i", str(LANGUAGE_AUDIO["en"]), "-t", "2")
        fr = media_factory.ffmpeg("fr_2s.wav", "-i", str(LANGUAGE_AUDIO["fr"]), "-t", "2")
        fleet.heygem("store", "put", str(clip), str(other), str(audio), str(en), str(fr), "--prefix", "media/")
        fleet.names = {"katie": clip.name, "chaplin": other.name, "de": audio.name, "en": en.name, "fr": fr.name}
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: fleet.api}):
            _wait_online(fleet, {"cpu-1", "gpu-a", "gpu-b"})
            yield fleet
    finally:
        fleet.stop()


def _wait_online(fleet: Fleet, names: set[str], within: float = 120) -> None:
    end = time.monotonic() + within
    with _client(fleet) as client:
        while True:
            online = {w.name for pool in ("cpu", "gpu")
                      for w in client.read_workers_for_work_pool(pool, limit=50, offset=0)
                      if str(getattr(w.status, "value", w.status)).upper() == "ONLINE"}
            if names <= online:
                return
            assert time.monotonic() < end, f"workers online: {online}"
            time.sleep(1)


def _course(fleet: Fleet, name: str, rows: list[tuple[str, str]]) -> str:
    sheet = fleet.home / f"{name}.csv"
    lines = ["lecturer,video,language,audio"] + [
        f"{who.capitalize()},store:media/{fleet.names[who]},{lang},store:media/{fleet.names[lang]}" for who, lang in rows]
    sheet.write_text("\n".join(lines) + "\n")
    fleet.heygem("store", "put", str(sheet), "--prefix", "sheets/")
    return f"store:sheets/{sheet.name}"


def _client(fleet: Fleet):
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)  # on fleet.api (the fixture's settings)


def _start(fleet: Fleet, sheet: str):
    with _client(fleet) as client:
        deployment = client.read_deployment_by_name("course_matrix/course-matrix")
        return client.create_flow_run_from_deployment(deployment.id, parameters={"sheet": sheet})


def _lipsync_runs(client, parent_id) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="lipsync ")),
                                 sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=100)
    return [r for r in runs if r.created >= parent_id.created]


def _wait_final(fleet: Fleet, run, within: float = 600):
    end = time.monotonic() + within
    with _client(fleet) as client:
        while True:
            now = client.read_flow_run(run.id)
            if now.state.is_final():
                return now
            assert time.monotonic() < end, f"the course is still {now.state.name} after {within} s"
            time.sleep(2)


def _worker_of(client, flow_run_id) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    for line in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                 limit=50, offset=0):
        if line.message.startswith("Worker '") and "' submitting" in line.message:
            return line.message.split("'")[1]
    return ""


def _most_at_once(runs) -> int:
    edges = sorted([(r.start_time, 1) for r in runs] + [(r.end_time, -1) for r in runs])
    most = now = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


@pytest.mark.slow
def test_two_gpu_workers_lip_sync_two_rows_at_once(fleet):
    t0 = time.monotonic()
    run = _start(fleet, _course(fleet, "two_by_two", [("katie", "de"), ("katie", "en"),
                                                       ("chaplin", "de"), ("chaplin", "en")]))
    final = _wait_final(fleet, run)
    wall = time.monotonic() - t0
    assert final.state.type.value == "COMPLETED", (final.state, (fleet.home / "cpu-1.log").read_text()[-3000:])
    with _client(fleet) as client:
        runs = [r for r in _lipsync_runs(client, final) if r.parent_task_run_id is not None]
        workers = {_worker_of(client, r.id) for r in runs}
    assert len(runs) == 4 and all(r.state.type.value == "COMPLETED" for r in runs)
    assert workers == {"gpu-a", "gpu-b"}, workers
    most = _most_at_once(runs)
    print(f"\n2 x 2 course through the pools: {wall:.0f} s wall; lip-syncs on the gpu pool at once: {most}; "
          f"per row on the gpu pool: " + ", ".join(f"{(r.end_time - r.start_time).total_seconds():.1f} s" for r in runs))
    assert most == 2


@pytest.mark.slow
def test_a_gpu_machine_lost_mid_row_is_retried_on_the_other(fleet):
    """Runs after the test above (it needs both gpu workers)."""
    run = _start(fleet, _course(fleet, "lost_machine", [("katie", "fr"), ("chaplin", "fr")]))
    lost = None
    with _client(fleet) as client:
        end = time.monotonic() + 300
        while lost is None:  # the first lip-sync a gpu worker takes, caught while it starts or runs
            for r in _lipsync_runs(client, run):
                worker = _worker_of(client, r.id)
                if r.state.type.value in ("PENDING", "RUNNING") and worker:
                    fleet.lose_machine(worker)
                    killed_at, lost = time.monotonic(), (r, worker)
                    break
            assert time.monotonic() < end, "no gpu worker took a row"
            time.sleep(0.5)
        lost_run, lost_worker = lost
        while True:  # the lost row's verdict: its sub-flow cancelled for real
            state = client.read_flow_run(lost_run.id).state
            if state.type.value == "CANCELLED":
                verdict_s = time.monotonic() - killed_at
                break
            assert time.monotonic() - killed_at < 240, f"the lost row is still {state.name}"
            time.sleep(1)
    final = _wait_final(fleet, run)
    print(f"\ngpu machine {lost_worker} lost while its row was {lost_run.state.name}: the row's verdict "
          f"{verdict_s:.0f} s after the kill ({state.message})")
    assert lost_worker in state.message and "offline" in state.message, state.message
    assert final.state.type.value == "COMPLETED", final.state
    [other] = {"gpu-a", "gpu-b"} - {lost_worker}
    with _client(fleet) as client:
        done = [r for r in _lipsync_runs(client, run) if r.state.type.value == "COMPLETED"]
        assert sorted(r.name for r in done) == ["lipsync Chaplin/fr", "lipsync Katie/fr"]
        again = [r for r in done if r.name == lost_run.name]
        assert [_worker_of(client, r.id) for r in again] == [other]
