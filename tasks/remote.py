"""A row's lip-sync on the gpu work pool, with every wait bounded.

``run_deployment(timeout=None)`` waited for ever: a gpu worker killed after claiming a row left
its sub-flow Pending ("Submitting") for good, the course Running and silent (issue 26). Here
the caller polls the sub-flow's state and gives each phase a limit:

* **queued** (Scheduled, no worker took it): ``HEYGEM_GPU_QUEUE_S``; then the row fails,
  naming the pool's workers and whether any is online.
* **claimed** (Pending: a worker took it and is starting it): ``HEYGEM_GPU_START_S``, or
  less when the worker that claimed it goes offline (it stopped sending heartbeats).
* **running**: ``HEYGEM_GPU_RUN_S``; and a run whose worker has gone offline for
  ``HEYGEM_GPU_START_S`` is taken as lost with it (a worker killed alone leaves its flow run's
  process running, and that run ends by itself well before then).

A sub-flow lost with its worker is cancelled for real (its state forced to Cancelled, so no
worker or dashboard waits on it) and started once more, for any other worker to take; a
second loss, or a queue no worker serves, fails the row with one plain line. A sub-flow that
fails on its own (a bad input, an error in lip-sync) is not started again: its own task
already retried transient faults.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from heygem_core.config import Settings
from heygem_core.errors import ProcessingError

log = logging.getLogger(__name__)

POLL_S = 2.0
SUBMITTING = "Worker '"  # a process worker's first line in a flow run's log: "Worker 'NAME' submitting flow run ..."


@dataclass(frozen=True)
class Limits:
    queue_s: float
    start_s: float
    run_s: float
    poll_s: float = POLL_S

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(queue_s=settings.gpu_queue_s, start_s=settings.gpu_start_s, run_s=settings.gpu_run_s)


@dataclass(frozen=True)
class Attempt:
    flow_run_id: str
    ok: bool
    lost: bool  # lost with its worker: worth starting once more
    reason: str  # why it did not complete, in words (empty when ok)
    worker: str  # the worker that took it ("" if none did)


def run_on_gpu_pool(
    deployment: str, parameters: dict, label: str, limits: Limits, say: Callable[[str], None] = log.info
) -> str:
    """Run ``deployment`` (``flow/deployment``) for one row and wait, within ``limits``, for it
    to complete; returns the worker that did it. Raises ProcessingError with the reason
    otherwise."""
    first = _attempt(deployment, parameters, label, limits)
    if first.ok:
        return first.worker
    if not first.lost:
        raise ProcessingError(first.reason)
    say(f"{first.reason}; starting it again for another gpu worker")
    second = _attempt(deployment, parameters, label, limits)
    if second.ok:
        say(f"{label}: lip-synced on gpu worker {second.worker or '?'} after: {first.reason}")
        return second.worker
    raise ProcessingError(f"{first.reason}; started again: {second.reason}")


def _attempt(deployment: str, parameters: dict, label: str, limits: Limits) -> Attempt:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    run = run_deployment(deployment, parameters=parameters, timeout=0)  # linked to this task as a sub-flow
    rid = str(run.id)
    with get_client(sync_client=True) as client:
        pool = client.read_deployment(run.deployment_id).work_pool_name or "?"
        watch = _Watch(client, rid, pool)
        while True:
            fr = client.read_flow_run(run.id)
            state, now = fr.state, time.monotonic()
            kind = state.type.value if state is not None else "SCHEDULED"
            watch.phase(kind, now)
            if kind == "COMPLETED":
                return Attempt(rid, True, False, "", watch.worker())
            if kind in ("FAILED", "CRASHED", "CANCELLED", "CANCELLING"):
                worker = watch.worker()
                where = f" on gpu worker {worker}" if worker else ""
                message = (state.message or state.name).strip()
                lost = kind == "CRASHED"  # its process died under it: another worker may do better
                return Attempt(rid, False, lost, f"{label}: lip-sync{where} ended {state.name}: {message}", worker)
            verdict = watch.verdict(kind, now, limits, label)
            if verdict is not None:
                lost, reason = verdict
                _cancel(client, fr.id, reason)
                return Attempt(rid, False, lost, reason, watch.worker())
            time.sleep(limits.poll_s)


class _Watch:
    """What is known about one sub-flow run while it is waited on: its phase and since when,
    the worker that took it, and whether that worker is still online."""

    def __init__(self, client, flow_run_id: str, pool: str):
        self.client, self.flow_run_id, self.pool = client, flow_run_id, pool
        self.kind, self.since, self.started = "", 0.0, time.monotonic()
        self.offline_since: float | None = None
        self._worker = ""

    def phase(self, kind: str, now: float) -> None:
        if kind != self.kind:
            self.kind, self.since = kind, now

    def worker(self) -> str:
        """The worker that took the run (asked until it is known)."""
        if not self._worker:
            self._worker = worker_of(self.client, self.flow_run_id)
        return self._worker

    def verdict(self, kind: str, now: float, limits: Limits, label: str) -> tuple[bool, str] | None:
        """None: keep waiting; else (lost with its worker, reason)."""
        waited = now - self.since
        if kind in ("SCHEDULED", "PAUSED"):  # queued: no worker has taken it
            if now - self.started < limits.queue_s:
                return None
            online = [name for name, up in workers_online(self.client, self.pool).items() if up]
            who = (
                f"online: {', '.join(sorted(online))}"
                if online
                else "none is online: start one with deployments/start_worker.sh gpu"
            )
            return False, (
                f"{label}: no gpu worker took its lip-sync within {limits.queue_s:g} s (pool '{self.pool}', {who})"
            )
        worker = self.worker()
        offline = bool(worker) and workers_online(self.client, self.pool).get(worker) is False
        self.offline_since = (self.offline_since or now) if offline else None
        name = f"gpu worker {worker}" if worker else "the gpu worker that took it"
        if kind == "PENDING":
            if offline:
                return True, f"{label}: {name} went offline while starting its lip-sync"
            if waited >= limits.start_s:
                return True, f"{label}: {name} took its lip-sync but did not start it within {limits.start_s:g} s"
            return None
        if kind in ("RUNNING", "RETRYING"):
            if self.offline_since is not None and now - self.offline_since >= limits.start_s:
                return True, f"{label}: {name} went offline while lip-syncing"
            if waited >= limits.run_s:
                return True, f"{label}: lip-sync on {name} did not finish within {limits.run_s:g} s"
        return None


def worker_of(client, flow_run_id) -> str:
    """The worker that took a flow run, from the first line it logs to it ("" until it has)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    logs = client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
        limit=20,
        offset=0,
        sort=LogSort.TIMESTAMP_ASC,
    )
    for line in logs:
        if line.message.startswith(SUBMITTING) and "' submitting" in line.message:
            return line.message[len(SUBMITTING) : line.message.index("' submitting")]
    return ""


def workers_online(client, pool: str) -> dict[str, bool]:
    """Each worker of ``pool``: whether the server has it online (it sends heartbeats)."""
    workers = client.read_workers_for_work_pool(pool, limit=200, offset=0)
    return {w.name: str(getattr(w.status, "value", w.status)).upper() == "ONLINE" for w in workers}


def _cancel(client, flow_run_id, reason: str) -> None:
    """Cancelled for real: forced, since the worker that would see a Cancelling run is gone."""
    from prefect.states import Cancelled

    try:
        client.set_flow_run_state(flow_run_id, Cancelled(message=reason[:300]), force=True)
    except Exception as err:  # noqa: BLE001 - the verdict stands; the dashboard may show it Pending
        log.warning("could not cancel flow run %s: %s", flow_run_id, err)
