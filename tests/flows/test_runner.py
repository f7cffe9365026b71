"""Settings are read when a run starts, not when flows/ and tasks/ are imported."""

from __future__ import annotations

import os
import subprocess
import sys

from flows.runner import WorkersTaskRunner
from tests.paths import REPO


def test_importing_the_flows_reads_no_setting():
    env = {**os.environ, "HEYGEM_WORKERS": "lots", "HEYGEM_RETRY_DELAY_S": "soon"}
    done = subprocess.run(
        [sys.executable, "-c", "import flows.batch, flows.course_matrix, flows.single, tasks.stages"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_pool_is_sized_by_the_settings_at_each_run(monkeypatch):
    runner = WorkersTaskRunner()
    monkeypatch.setenv("HEYGEM_WORKERS", "3")
    with runner.duplicate() as pool:
        assert pool._max_workers == 3
    monkeypatch.setenv("HEYGEM_WORKERS", "5")
    with runner.duplicate() as pool:
        assert pool._max_workers == 5
    with WorkersTaskRunner(max_workers=2).duplicate() as pool:  # given: kept
        assert pool._max_workers == 2


def test_a_run_retries_with_its_own_waits():
    from flows.common import _Tasks
    from heygem_core.config import Settings
    from tasks.runtime import retry_delays
    from tasks.stages import blend

    assert retry_delays(Settings(retry_delay_s=1.0)) == [1.0, 2.0, 4.0, 8.0]
    assert blend.retry_delay_seconds == [2.0, 4.0, 8.0, 16.0]  # the decorator's: the built-in default
    run = _Tasks("batch-x", Settings(retry_delay_s=0.5))
    mine = run.with_delays(blend)
    assert mine.retry_delay_seconds == [0.5, 1.0, 2.0, 4.0] and mine.retries == blend.retries
    assert run.with_delays(blend) is mine  # made once per run
    assert blend.retry_delay_seconds == [2.0, 4.0, 8.0, 16.0]  # the shared task is untouched
