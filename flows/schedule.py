"""Submits a run's task runs as their inputs become ready, so that no task thread waits for
another task.

Prefect's thread-pool runner starts a submitted task in a thread at once, and the task waits
in that thread for the futures it was given. A run that submitted every row's chain up front
filled its threads with blend, mux and QA tasks waiting for their lip-syncs: with 3 threads,
one row's chain held them all and the other rows' lip-syncs went one at a time (issue 26).

Here a step is submitted only when every step it needs has completed (its futures are passed
as before, already finished, so the dashboard still draws the dependencies), and a step whose
needed input failed is never submitted. Each pool has its own limit on steps in flight: the
"cpu" steps share the run's task threads, the "gpu" steps are lip-syncs waiting on the gpu
work pool (a thread each, doing nothing but wait), as many at once as the fleet has GPUs.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(eq=False)
class Step:
    """One task run to be: ``task`` submitted with ``args()`` once ``needs`` have completed and
    ``after`` have ended (completed or not)."""

    stage: str
    task: Any
    rows: tuple
    args: Callable[..., tuple]  # called with no arguments (a loop's lambdas bind theirs as defaults)
    needs: tuple["Step", ...] = ()
    after: tuple["Step", ...] = ()
    pool: str = "cpu"
    future: Any = None
    skipped: bool = False  # a step it needs failed: never submitted
    _done: bool = field(default=False, repr=False)

    @property
    def ended(self) -> bool:
        return self.skipped or self._done

    @property
    def completed(self) -> bool:
        return self._done and self.future.state.is_completed()

    @property
    def failed_input(self) -> "Step | None":
        return next((d for d in self.needs if d.ended and not d.completed), None)


class Scheduler:
    """Runs steps in dependency order. ``submit(step)`` returns the step's Prefect future;
    ``limits`` caps steps in flight per pool (a pool without a limit is not capped);
    ``ended(step)`` is called once per step when it ends or is skipped; ``submitted()`` after
    each round of submissions (to publish what was submitted)."""

    def __init__(
        self,
        submit: Callable[[Step], Any],
        limits: dict[str, int],
        ended: Callable[[Step], None] = lambda step: None,
        submitted: Callable[[], None] = lambda: None,
    ):
        self._submit, self.limits, self._ended, self._submitted = submit, limits, ended, submitted
        self.steps: list[Step] = []
        self._finished: "queue.Queue[Step]" = queue.Queue()

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def run(self) -> None:
        waiting = list(self.steps)
        in_flight: list[Step] = []
        while waiting or in_flight:
            waiting = self._start_ready(waiting, in_flight)
            if not in_flight:
                for step in waiting:  # nothing can start them any more (an input never ran)
                    self._skip(step)
                return
            finished = [self._finished.get()]
            while not self._finished.empty():
                finished.append(self._finished.get_nowait())
            for step in finished:
                step.future.wait()  # ended: its final state is read back, not fetched
                step._done = True
                in_flight.remove(step)
                self._ended(step)

    def _start_ready(self, waiting: list[Step], in_flight: list[Step]) -> list[Step]:
        left, started = [], False
        for step in waiting:
            if step.failed_input is not None:
                self._skip(step)
            elif self._ready(step, in_flight):
                step.future = self._submit(step)
                in_flight.append(step)
                started = True
                step.future.add_done_callback(lambda _f, s=step: self._finished.put(s))
            else:
                left.append(step)
        if started:
            self._submitted()
        return left

    def _ready(self, step: Step, in_flight: list[Step]) -> bool:
        if not all(d.completed for d in step.needs) or not all(d.ended for d in step.after):
            return False
        limit = self.limits.get(step.pool)
        return limit is None or sum(s.pool == step.pool for s in in_flight) < limit

    def _skip(self, step: Step) -> None:
        step.skipped = True
        self._ended(step)
