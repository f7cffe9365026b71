"""How many GPUs the fleet has, as the Prefect server knows it: the concurrency limit on the
task tag ``gpu`` (``HEYGEM_GPU_SLOTS=N deployments/setup.sh``). A run sends that many rows to
the gpu work pool at once, so a course uses every GPU it has and no more waits there than
can run."""

from __future__ import annotations

import logging

from heygem_core.config import Settings
from tasks.remote import workers_online

GPU_TAG = "gpu"  # the tag of tasks.stages.lipsync and adapt_mouth; deployments/setup.sh sets its limit
log = logging.getLogger(__name__)


def gpu_slots(settings: Settings) -> int | None:
    """Lip-syncs a run keeps on the gpu pool at once; None when lip-sync runs in the calling
    flow run (it then shares the run's task threads) or the server sets no limit."""
    if not settings.lipsync_deployment:
        return None
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            limit = client.read_concurrency_limit_by_tag(GPU_TAG)
    except Exception as err:  # noqa: BLE001 - no limit on the server (404) or no answer: uncapped
        log.debug("no concurrency limit on tag %r: %s", GPU_TAG, err)
        return None
    return max(1, int(limit.concurrency_limit))


def gpu_pool_ready(settings: Settings, say) -> bool:
    """Whether this run sends lip-sync to the gpu pool: a lip-sync deployment is set and its
    pool has a worker online. With none online the run lip-syncs itself, and says so (``say``),
    rather than leave its rows queued for a worker that may never come."""
    if not settings.lipsync_deployment:
        return False
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            pool = client.read_deployment_by_name(settings.lipsync_deployment).work_pool_name
            online = workers_online(client, pool)
    except Exception as err:  # noqa: BLE001
        say(
            f"lip-sync runs in this flow run: deployment {settings.lipsync_deployment} "
            f"(HEYGEM_LIPSYNC_DEPLOYMENT) cannot be used: {err}"
        )
        return False
    if not any(online.values()):
        say(
            f"lip-sync runs in this flow run: no worker of pool '{pool}' is online "
            "(start one with deployments/start_worker.sh gpu)"
        )
        return False
    return True


def gpu_lanes(settings: Settings) -> int:
    """Rows a run keeps waiting on the gpu pool at once: the fleet's GPU slots, or MAX_REMOTE
    when the server sets no limit; 0 when lip-sync runs in the calling flow run."""
    if not settings.lipsync_deployment:
        return 0
    return gpu_slots(settings) or MAX_REMOTE


def task_threads(settings: Settings) -> int:
    """Threads a flow run needs: its task threads, plus one per row waiting on the gpu pool
    (a waiting row must never hold a thread another row's work needs)."""
    return settings.workers + gpu_lanes(settings)


# Lip-syncs waiting on the gpu pool at once when the server sets no limit on the tag.
MAX_REMOTE = 16
