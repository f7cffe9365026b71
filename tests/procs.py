"""Stopping the servers tests start in their own process group."""

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM to ``proc``'s whole process group (started with start_new_session=True), then
    SIGKILL if it has not ended within ``grace`` seconds. Nothing to do once it has ended."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
