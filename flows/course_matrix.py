"""Spreadsheet in, every lecturer × language video out: ``heygem run SHEET``."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.states import State
from prefect.runtime import flow_run


from .outcome import final_state
from .common import produce, without_caller_tags
from .runner import WorkersTaskRunner
from .jobs import validate_sheet


def _name() -> str:
    sheet = str(flow_run.parameters.get("sheet", "sheet"))
    return f"course {Path(sheet).stem}"


@flow(name="course_matrix", flow_run_name=_name, log_prints=True, task_runner=WorkersTaskRunner())
def course_matrix(
    sheet: str, input_roots: list[str] | None = None, overrides: dict | None = None, skip_invalid: bool = False
) -> State:
    """Produce one video per sheet row (lecturer × language), a zip and a report.

    Args:
        sheet: path of a .csv/.xlsx course sheet, or ``store:<key>`` for one in the artifact store.
        input_roots: folders the sheet's files must lie in (default: HEYGEM_INPUT_ROOTS, else
            the sheet's own folder).
        overrides: per-run settings, e.g. ``{"crf": 16, "engine": "exemplar"}`` (no secrets:
            store credentials come from each worker's environment).
        skip_invalid: run the valid rows of a sheet with bad ones (listed as failed in the
            report) instead of refusing the sheet.
    """
    with without_caller_tags():
        checked = validate_sheet(sheet, input_roots, overrides, skip_invalid)
    return final_state(
        produce(checked["rows"], kind=f"course-{Path(sheet).stem}", overrides=overrides, skipped=checked["skipped"])
    )
