"""Helper processes that keep a model loaded, waiting in a process-wide pool.

pocketsphinx (``heygem_core.sphinx``) and dlib's landmark predictor (``heygem_core.track.helpers``)
both hold the GIL while they work, so threads cannot share their work: helpers are processes.
A pool keeps loaded helpers for the next caller (the web app or a worker loads a model once,
not once per job). Numpy-free on purpose: the command line warms helpers before it imports
the rest of heygem.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from typing import IO, Callable, Generic, Protocol, TypeVar


class HelperFailed(Exception):
    """A helper process could not do its work (it would not start, died, or failed)."""


class ProcessHelper:
    """One helper process (``python -m <module>``), spoken to through its stdin and stdout.
    Its stderr is kept to say why it failed."""

    def __init__(self, module: str) -> None:
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
            )
        except OSError as err:
            self._log.close()
            raise HelperFailed(f"cannot start {sys.executable}: {err}") from err

    @property
    def _stdin(self) -> IO[bytes]:
        assert self._proc.stdin is not None  # opened with stdin=PIPE
        return self._proc.stdin

    @property
    def _stdout(self) -> IO[bytes]:
        assert self._proc.stdout is not None  # opened with stdout=PIPE
        return self._proc.stdout

    def alive(self) -> bool:
        return self._proc.poll() is None

    def end_input(self) -> None:
        """No more requests: the helper exits once it has answered the last."""
        try:
            self._stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        """Ends the helper (end of its input) and waits for it briefly."""
        self._stop()
        self._log.close()

    def kill(self) -> None:
        """Stops it at once, mid-request: the caller gave up."""
        self._proc.kill()
        self._proc.wait()

    def _write(self, *chunks: bytes) -> None:
        try:
            for chunk in chunks:
                self._stdin.write(chunk)
            self._stdin.flush()
        except OSError as err:
            raise self._failed(f"stopped reading ({err})") from err

    def _stop(self) -> None:
        self.end_input()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stdout.close()

    def _failed(self, what: str) -> HelperFailed:
        self._stop()
        self._log.seek(0)
        said = self._log.read().decode(errors="replace").strip()[-300:]
        self._log.close()
        return HelperFailed(f"{what} (exit status {self._proc.returncode})" + (f": {said}" if said else ""))


class Helper(Protocol):
    def alive(self) -> bool: ...

    def end_input(self) -> None:
        """No more requests: the helper exits by itself once it has answered the last."""
        ...

    def close(self) -> None:
        """End the helper and wait for it briefly."""
        ...


H = TypeVar("H", bound=Helper)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class HelperPool(Generic[H]):
    """Idle helpers made by ``factory``, shared by every thread of the process; a helper serves
    one caller at a time. At most ``keep`` wait idle: the rest are closed when given back."""

    def __init__(self, factory: Callable[[], H], keep: int) -> None:
        self.factory = factory
        self.keep = keep
        self._idle: list[H] = []
        self._lock = threading.Lock()

    def warm(self, n: int, failure: type[Exception] = Exception) -> None:
        """Start helpers until ``n`` are idle (loading their model while the caller goes on).
        A helper that cannot start (``failure``) is left for ``borrow()`` to report."""
        with self._lock:
            self._idle = [h for h in self._idle if h.alive()]
            missing = max(0, min(n, self.keep) - len(self._idle))
        started = []
        for _ in range(missing):
            try:
                started.append(self.factory())
            except failure:
                break
        with self._lock:
            self._idle += started

    def ready(self) -> int:
        """How many helpers wait idle (started; maybe still loading their model)."""
        with self._lock:
            return sum(h.alive() for h in self._idle)

    def borrow(self) -> H:
        with self._lock:
            while self._idle:
                helper = self._idle.pop()
                if helper.alive():
                    return helper
                helper.close()
        return self.factory()

    def give_back(self, helper: H) -> None:
        with self._lock:
            if helper.alive() and len(self._idle) < self.keep:
                self._idle.append(helper)
                return
        helper.close()

    def end(self) -> None:
        """Tell every idle helper to exit; do not wait."""
        with self._lock:
            for helper in self._idle:
                helper.end_input()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for helper in idle:  # all told first: they wind down at once, not one after another
            helper.end_input()
        for helper in idle:
            helper.close()
