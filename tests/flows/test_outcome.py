"""A run's final state says what its summary says (flows/outcome.py)."""

from __future__ import annotations

from flows.outcome import MESSAGE_CHARS, final_state, summary_of


def _summary(done: int, failed: int, flagged: int, failures=()) -> dict:
    return {"run_id": "r1", "done": done, "failed": failed, "flagged": flagged, "failures": list(failures)}


def test_a_failed_row_makes_the_run_failed_and_names_it():
    state = final_state(_summary(1, 1, 0, [{"row": 3, "output": "katie_de.mp4", "message": "no face"}]))
    assert state.is_failed() and state.message == "1 of 2 output(s) failed: row 3 (katie_de.mp4): no face"
    assert summary_of(state)["failed"] == 1  # the summary is still there


def test_all_flagged_stays_completed_and_says_so():
    state = final_state(_summary(2, 0, 2))
    assert state.is_completed() and "all flagged by QA" in state.message
    assert final_state(_summary(2, 0, 1)).message == "2 output(s) made, 1 flagged by QA"


def test_a_long_list_of_failures_is_cut_for_the_dashboard():
    failures = [{"row": i, "output": f"out{i}.mp4", "message": "x" * 80} for i in range(2, 40)]
    state = final_state(_summary(0, len(failures), 0, failures))
    assert len(state.message) == MESSAGE_CHARS and state.message.endswith("…")
