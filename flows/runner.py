"""The flows' task runner: a thread pool sized by the settings when a run starts.

Sizing it in the ``@flow`` decorator would read ``HEYGEM_WORKERS`` when ``flows`` is imported
(a worker process imports it once and runs many flows), and a bad value would stop the import
with a traceback instead of failing the run with its one line.
"""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner

from heygem_core.config import Settings

from .fleet import task_threads


class WorkersTaskRunner(ThreadPoolTaskRunner):
    """``ThreadPoolTaskRunner`` with ``max_workers`` from ``HEYGEM_WORKERS`` read at each run's start
    (unless given), plus a thread per lip-sync the run may keep waiting on the gpu pool
    (``flows.fleet``; the run's scheduler keeps its own work to ``HEYGEM_WORKERS`` at once)."""

    def __init__(self, max_workers: int | None = None):
        super().__init__(max_workers=max_workers if max_workers is not None else 1)
        self._given = max_workers

    def __enter__(self):
        if self._given is None:
            self._max_workers = task_threads(Settings.from_env())
        return super().__enter__()

    def duplicate(self) -> "WorkersTaskRunner":
        return type(self)(max_workers=self._given)
