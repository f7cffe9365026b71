"""The web app's own line of jobs: first come, first served, and each waiting job knows its
place, so that the job panel can say “2 jobs ahead of yours” in words.

Gradio's queue would hold the jobs too, but it runs a handler only once the job is served, so
the page could only show Gradio's small “queue: 2/3” counter. Handlers therefore start at once
(up to ``HEYGEM_UI_WAITING`` beyond the running ones, so that waiting jobs never take all of
Gradio's worker threads) and wait here for their turn.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

# Jobs that may wait in this line with their place said in words (HEYGEM_UI_WAITING); more wait
# in Gradio's queue first (shown as Gradio's own counter) and join this line in their order.
WAITING_HANDLERS = 16


@dataclass(frozen=True)
class Ticket:
    number: int


@dataclass(frozen=True)
class Place:
    """Where a waiting job stands: jobs running now, and jobs waiting ahead of it."""

    running: int
    ahead: int


class JobLine:
    """At most ``slots`` jobs run at once; the others wait in the order they joined."""

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._cond = threading.Condition()
        self._count = itertools.count()
        self._waiting: list[Ticket] = []
        self._running: set[Ticket] = set()

    def join(self) -> Ticket:
        with self._cond:
            ticket = Ticket(next(self._count))
            self._waiting.append(ticket)
            return ticket

    def place(self, ticket: Ticket) -> Place:
        """Where ``ticket`` stands (``ahead`` 0 once it runs)."""
        with self._cond:
            ahead = self._waiting.index(ticket) if ticket in self._waiting else 0
            return Place(running=len(self._running), ahead=ahead)

    def wait_turn(self, ticket: Ticket, timeout: float | None = None) -> bool:
        """Block until ``ticket`` may run (True), or ``timeout`` seconds have passed (False)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._may_run(ticket), timeout)
            if ok:
                self._waiting.remove(ticket)
                self._running.add(ticket)
            return ok

    def leave(self, ticket: Ticket) -> None:
        """The job ended, or left before its turn (its browser went away): the next may run."""
        with self._cond:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._cond.notify_all()

    def running(self) -> int:
        with self._cond:
            return len(self._running)

    def _may_run(self, ticket: Ticket) -> bool:
        free = self.slots - len(self._running)
        return free > 0 and ticket in self._waiting[:free]
