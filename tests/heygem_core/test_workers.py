"""The process-helper pool (heygem_core.workers) with real helper processes."""

from __future__ import annotations

import pytest

from heygem_core.workers import HelperFailed, HelperPool, ProcessHelper

MODULE = "tests.heygem_core.echo_helper"


class Echo(ProcessHelper):
    def __init__(self):
        super().__init__(MODULE)

    def ask(self, text: str) -> str:
        self._write(text.encode() + b"\n")
        return self._proc.stdout.readline().decode().rstrip("\n")


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.chdir(__import__("tests.paths", fromlist=["REPO"]).REPO)  # python -m finds tests/
    made = []

    def factory():
        made.append(Echo())
        return made[-1]

    p = HelperPool(factory, keep=2)
    p.made = made
    yield p
    p.close()
    for h in made:
        if h.alive():
            h.close()


def test_a_helper_given_back_serves_the_next_caller(pool):
    first = pool.borrow()
    assert first.ask("one") == "one" and len(pool.made) == 1
    pool.give_back(first)
    again = pool.borrow()
    assert again is first and again.ask("two") == "two" and len(pool.made) == 1


def test_a_helper_that_died_idle_is_never_handed_out(pool):
    h = pool.borrow()
    pool.give_back(h)
    h.kill()
    fresh = pool.borrow()
    assert fresh is not h and fresh.alive() and fresh.ask("x") == "x" and len(pool.made) == 2


def test_at_most_keep_wait_idle(pool):
    helpers = [pool.borrow() for _ in range(3)]
    for h in helpers:
        pool.give_back(h)
    assert pool.ready() == 2
    assert helpers[2]._proc.poll() is not None  # the third was closed: its process has ended


def test_warm_starts_helpers_up_to_keep(pool):
    pool.warm(5)
    assert pool.ready() == 2 and len(pool.made) == 2
    pool.end()  # told to exit: they wind down by themselves
    for h in pool.made:
        h._proc.wait(timeout=10)
    assert pool.ready() == 0


def test_a_helper_that_cannot_work_says_why(monkeypatch):
    monkeypatch.chdir(__import__("tests.paths", fromlist=["REPO"]).REPO)
    monkeypatch.setenv("HEYGEM_TEST_HELPER_DIE", "model file missing: /nowhere/model.dat")
    h = Echo()
    h._proc.wait(timeout=30)
    with pytest.raises(HelperFailed, match=r"exit status 3.*model file missing"):
        h.ask("anything")


def test_warm_stops_at_a_helper_that_cannot_start():
    calls = []

    def factory():
        calls.append(1)
        raise HelperFailed("cannot start")

    p = HelperPool(factory, keep=4)
    p.warm(4, failure=HelperFailed)  # the caller goes on; borrow() reports it
    assert len(calls) == 1 and p.ready() == 0
    with pytest.raises(HelperFailed, match="cannot start"):
        p.borrow()
