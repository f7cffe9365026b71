"""Every wait on the gpu pool ends (tasks/remote.py), against a real Prefect API: a queue no
worker serves fails the row naming the pool, and a run a worker claimed but never started is
cancelled for real and started once more. (A real worker killed mid-row:
tests/deployments/test_distributed.py.)"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from heygem_core.errors import ProcessingError
from tasks.remote import Limits, run_on_gpu_pool

FAST = dict(poll_s=0.3)


@pytest.fixture
def gpu_deployment(prefect_api, monkeypatch):
    """A deployment of lipsync_row on a pool of its own that no worker polls."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from flows.lipsync_row import lipsync_row

    for name, value in prefect_api.items():
        monkeypatch.setenv(name, value)
    pool = f"gpu-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = client.create_flow(lipsync_row)
        client.create_deployment(
            flow_id=flow_id, name=pool, work_pool_name=pool, entrypoint="flows/lipsync_row.py:lipsync_row"
        )
    return f"lipsync_row/{pool}", pool


def _runs(deployment: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment.split("/")[1]])),
            sort=FlowRunSort.START_TIME_ASC,
            limit=20,
        )


@pytest.mark.slow
def test_a_queue_no_worker_serves_fails_the_row_in_words(gpu_deployment):
    deployment, pool = gpu_deployment
    t0 = time.monotonic()
    with pytest.raises(ProcessingError) as err:
        run_on_gpu_pool(deployment, {}, "Katie/de", Limits(queue_s=2, start_s=60, run_s=60, **FAST))
    waited = time.monotonic() - t0
    message = str(err.value)
    assert "Katie/de" in message and "no gpu worker took" in message and pool in message
    assert "none is online" in message and "start_worker.sh gpu" in message
    assert waited < 15, waited
    [run] = _runs(deployment)  # not started again (no worker would take it either) ...
    assert run.state.type.value == "CANCELLED"  # ... and cancelled, not left queued


@pytest.mark.slow
def test_a_claimed_run_that_never_starts_is_cancelled_and_started_once_more(gpu_deployment):
    """A worker takes the run (Pending, as a process worker does) and dies before starting
    it: the run is cancelled, started again; the second is claimed and lost the same way, and
    the row fails saying both."""
    from prefect.client.orchestration import get_client
    from prefect.states import Pending

    deployment, _ = gpu_deployment
    stop = threading.Event()

    def dying_worker():  # claims every queued run of the deployment, never starts one
        with get_client(sync_client=True) as client:
            while not stop.is_set():
                for run in _runs(deployment):
                    if run.state.type.value == "SCHEDULED":
                        client.set_flow_run_state(run.id, Pending())
                stop.wait(0.3)

    claimer = threading.Thread(target=dying_worker, daemon=True)
    claimer.start()
    said = []
    try:
        with pytest.raises(ProcessingError) as err:
            run_on_gpu_pool(
                deployment, {}, "Katie/de", Limits(queue_s=60, start_s=2, run_s=60, **FAST), say=said.append
            )
    finally:
        stop.set()
        claimer.join()
    message = str(err.value)
    assert message.count("did not start it within 2 s") == 2 and "started again" in message, message
    assert said and "starting it again" in said[0]
    runs = _runs(deployment)
    assert len(runs) == 2 and all(r.state.type.value == "CANCELLED" for r in runs), [r.state for r in runs]
