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

import subprocess
import time

import pytest

from tasks.remote import worker_of as _worker_of
from tests.conftest import short_batch_inputs
from tests.fleet import (
    START_WORKER,
    Fleet,
    most_at_once,
    api_client as _client,
    start_course as _start,
    wait_final as _wait_final,
    wait_online as _wait_online,
)
from tests.paths import LANGUAGE_AUDIO, REPO


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
        other = media_factory.ffmpeg(
            "chaplin_2s.mp4",
            "-i",
            str(REPO.parent / "shared" / "fixtures" / "video" / "chaplin_7s.mp4"),
            "-t",
            "2",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        )
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


def _course(fleet: Fleet, name: str, rows: list[tuple[str, str]]) -> str:
    sheet = fleet.home / f"{name}.csv"
    lines = ["lecturer,video,language,audio"] + [
        f"{who.capitalize()},store:media/{fleet.names[who]},{lang},store:media/{fleet.names[lang]}"
        for who, lang in rows
    ]
    sheet.write_text("\n".join(lines) + "\n")
    fleet.heygem("store", "put", str(sheet), "--prefix", "sheets/")
    return f"store:sheets/{sheet.name}"


def _lipsync_runs(client, parent_id) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="lipsync ")),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        limit=100,
    )
    return [r for r in runs if r.created >= parent_id.created]


def _busy(client, run) -> tuple:
    """From the moment a gpu worker took the run (Pending) to its end: the worker is busy
    with that row (starting its process, then lip-syncing)."""
    states = client.read_flow_run_states(run.id)
    taken = min(st.timestamp for st in states if st.type.value == "PENDING")
    return taken, run.end_time


@pytest.mark.slow
def test_two_gpu_workers_lip_sync_two_rows_at_once(fleet):
    t0 = time.monotonic()
    run = _start(
        fleet, _course(fleet, "two_by_two", [("katie", "de"), ("katie", "en"), ("chaplin", "de"), ("chaplin", "en")])
    )
    final = _wait_final(fleet, run)
    wall = time.monotonic() - t0
    assert final.state.type.value == "COMPLETED", (final.state, (fleet.home / "cpu-1.log").read_text()[-3000:])
    with _client(fleet) as client:
        runs = [r for r in _lipsync_runs(client, final) if r.parent_task_run_id is not None]
        workers = {_worker_of(client, r.id) for r in runs}
        spans = [_busy(client, r) for r in runs]
    assert len(runs) == 4 and all(r.state.type.value == "COMPLETED" for r in runs)
    assert workers == {"gpu-a", "gpu-b"}, workers
    most = most_at_once(spans)
    print(
        f"\n2 x 2 course through the pools: {wall:.0f} s wall; rows on the gpu pool at once: {most}; per row "
        "taken -> done: "
        + ", ".join(f"{(b - a).total_seconds():.1f} s" for a, b in spans)
        + "; lip-sync itself: "
        + ", ".join(f"{(r.end_time - r.start_time).total_seconds():.1f} s" for r in runs)
    )
    assert most == 2


@pytest.mark.slow
def test_a_worker_under_a_name_already_online_is_refused(fleet):
    """(Before the loss below: it needs gpu-b online.) And a gpu worker without a GPU says so."""
    env = {**fleet.env, "HEYGEM_WORKER_NAME": "gpu-b", "HEYGEM_CACHE_DIR": str(fleet.home / "cache-dup")}
    done = subprocess.run(
        ["bash", str(START_WORKER), "gpu"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "'gpu-b' is already online in pool 'gpu'" in done.stderr, done.stderr
    assert "no GPU found" in (fleet.home / "gpu-a.log").read_text()


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
    print(
        f"\ngpu machine {lost_worker} lost while its row was {lost_run.state.name}: the row's verdict "
        f"{verdict_s:.0f} s after the kill ({state.message})"
    )
    assert lost_worker in state.message and "offline" in state.message, state.message
    assert final.state.type.value == "COMPLETED", final.state
    [other] = {"gpu-a", "gpu-b"} - {lost_worker}
    with _client(fleet) as client:
        done = [r for r in _lipsync_runs(client, run) if r.state.type.value == "COMPLETED"]
        assert sorted(r.name for r in done) == ["lipsync Chaplin/fr", "lipsync Katie/fr"]
        again = [r for r in done if r.name == lost_run.name]
        assert [_worker_of(client, r.id) for r in again] == [other]
