"""flows.schedule on a real Prefect API: steps start when their inputs are done, each pool
keeps to its limit, and a failed input's dependents never start."""

from __future__ import annotations

import time

import pytest

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from flows.schedule import Scheduler, Step
from tests.flows.conftest import task_runs


@task
def slow(x: int) -> int:
    time.sleep(1.0)
    return x


@task
def plus_one(x: int) -> int:
    return x + 1


@task(retries=0)
def boom() -> int:
    raise ValueError("bad input")


def _overlap(runs) -> int:
    """Most task runs of ``runs`` running at the same moment."""
    edges = sorted([(r.start_time, 1) for r in runs] + [(r.end_time, -1) for r in runs])
    most = now = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


@pytest.mark.slow
def test_steps_run_when_ready_within_their_pools_limits(heygem_env):
    ended = []

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def four_rows() -> tuple[list, str]:
        sched = Scheduler(lambda s: s.task.submit(*s.args()), {"gpu": 2, "cpu": 1}, ended=ended.append)
        lasts = []
        for i in range(4):
            first = sched.add(Step("slow", slow, (i,), lambda i=i: (i,), pool="gpu"))
            lasts.append(sched.add(Step("plus_one", plus_one, (i,), lambda f=first: (f.future,), needs=(first,))))
        bad = sched.add(Step("boom", boom, (9,), lambda: ()))
        never = sched.add(Step("plus_one", plus_one, (9,), lambda b=bad: (b.future,), needs=(bad,)))
        sched.run()
        from prefect.context import get_run_context

        assert never.skipped and never.future is None
        return [s.future.result() for s in lasts], str(get_run_context().flow_run.id)

    results, run_id = four_rows()
    assert results == [1, 2, 3, 4]
    runs = task_runs(run_id)
    slow_runs = [r for r in runs if r.name.startswith("slow")]
    assert len(slow_runs) == 4 and _overlap(slow_runs) == 2  # two at once, never three
    assert _overlap([r for r in runs if r.name.startswith("plus_one")]) == 1
    assert sum(r.name.startswith("plus_one") for r in runs) == 4  # the failed input's dependent never ran
    assert len(ended) == 10 and len({id(s) for s in ended}) == 10  # each step said once


def test_a_pool_without_room_never_deadlocks(heygem_env):
    """A chain longer than the pool's limit still finishes (no step holds a slot while waiting)."""

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def chain() -> int:
        sched = Scheduler(lambda s: s.task.submit(*s.args()), {"cpu": 1})
        prev = sched.add(Step("plus_one", plus_one, (), lambda: (0,)))
        for _ in range(5):
            prev = sched.add(Step("plus_one", plus_one, (), lambda p=prev: (p.future,), needs=(prev,)))
        sched.run()
        return prev.future.result()

    assert chain() == 6
