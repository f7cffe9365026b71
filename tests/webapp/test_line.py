"""The web app's own line of jobs (``webapp.line``) and how a waiting job's place is said."""

from __future__ import annotations

import threading
import time

import pytest

from webapp.line import JobLine, Place


def _runner(line: JobLine, ticket, ran: list, hold: threading.Event):
    def run():
        line.wait_turn(ticket)
        ran.append(ticket.number)
        hold.wait(10)
        line.leave(ticket)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_jobs_run_in_the_order_they_joined_and_each_knows_its_place():
    line, ran, hold = JobLine(1), [], threading.Event()
    tickets = [line.join() for _ in range(4)]
    # the last to join is started first: it must still wait for the three before it
    threads = [_runner(line, t, ran, hold) for t in reversed(tickets)]
    time.sleep(0.3)
    assert ran == [tickets[0].number]
    assert [line.place(t) for t in tickets[1:]] == [Place(1, 0), Place(1, 1), Place(1, 2)]
    hold.set()
    for t in threads:
        t.join(10)
    assert ran == [t.number for t in tickets]
    assert line.running() == 0


def test_two_slots_run_two_at_once_and_never_three():
    line = JobLine(2)
    a, b, c = line.join(), line.join(), line.join()
    assert line.wait_turn(a, 0) and line.wait_turn(b, 0)
    assert not line.wait_turn(c, 0.1)
    assert line.place(c) == Place(running=2, ahead=0)
    line.leave(b)
    assert line.wait_turn(c, 1) and line.running() == 2


def test_a_ticket_that_leaves_before_its_turn_frees_its_place():
    line = JobLine(1)
    a, b, c = line.join(), line.join(), line.join()
    assert line.wait_turn(a, 0)
    assert line.place(c).ahead == 1
    line.leave(b)  # its page went away
    assert line.place(c).ahead == 0
    line.leave(a)
    assert line.wait_turn(c, 1)


def test_no_slots_is_refused():
    with pytest.raises(ValueError):
        JobLine(0)


def test_the_place_is_said_in_words():
    from webapp.tabs.common import waiting_words

    assert "2 jobs ahead of yours" in waiting_words(Place(running=1, ahead=2), 1)
    assert "1 job ahead of yours" in waiting_words(Place(running=1, ahead=1), 1)
    assert "at most 1 job runs at a time" in waiting_words(Place(1, 1), 1)
    assert "at most 2 jobs run at a time" in waiting_words(Place(2, 3), 2)
    assert "Yours is next" in waiting_words(Place(running=1, ahead=0), 1)
