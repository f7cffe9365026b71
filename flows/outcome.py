"""A run's final state says what its summary says: any failed row makes the flow run Failed
(red in the dashboard, seen by automations), with the summary's words as its message; a run
whose every output QA flagged stays Completed but says so. The summary itself travels as the
state's data either way, so callers (CLI, web app) read it from a Failed run too."""

from __future__ import annotations

from typing import Any

from prefect.states import Completed, Failed, State

MESSAGE_CHARS = 400  # the dashboard shows a state's message on one line


def final_state(summary: dict) -> State:
    failed, done, flagged = summary["failed"], summary["done"], summary["flagged"]
    total = failed + done
    if failed:
        named = "; ".join(
            f"row {f['row']} ({f['output']}): {f['message']}"
            if f.get("row") is not None
            else f"{f['output']}: {f['message']}"
            for f in summary["failures"]
        )
        return Failed(message=_short(f"{failed} of {total} output(s) failed: {named}"), data=summary)
    if done and flagged == done:
        return Completed(message=f"all {done} output(s) made, all flagged by QA", data=summary)
    return Completed(message=f"{done} output(s) made" + (f", {flagged} flagged by QA" if flagged else ""), data=summary)


def summary_of(state: State) -> dict | None:
    """The run summary a flow run's final state carries (None: the run ended without one, e.g.
    a refused sheet, a crash or a cancellation)."""
    if state is None:
        return None
    try:
        data: Any = state.result(raise_on_failure=False, _sync=True)
    except Exception:  # noqa: BLE001 - no readable result: no summary
        return None
    return data if isinstance(data, dict) and "run_id" in data else None


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
