"""Turning flow parameters into validated rows (the same ``Row`` the spreadsheet yields)."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from heygem_core.errors import SheetError
from heygem_core.intake import Skipped, check_sheet_ref, default_output, lecturer_names, skipped_rows, validate_rows
from tasks.runtime import settings_for, store_for

from .runs import stage_tag


def _roots(input_roots: list[str] | None, overrides) -> tuple[Path, ...]:
    settings = settings_for(overrides)
    return tuple(Path(r) for r in (input_roots or ())) or settings.input_roots


@task(name="validate_sheet", task_run_name="validate {sheet}", tags=[stage_tag("validate")])
def validate_sheet(
    sheet: str, input_roots: list[str] | None = None, overrides: dict | None = None, skip_invalid: bool = False
) -> dict:
    """Every problem of the sheet at once, before any work; no retries (it is the input).
    Returns ``{"rows": [Row], "skipped": [Skipped as dict]}`` (skipped: only with ``skip_invalid``)."""
    settings = settings_for(overrides)
    store = store_for(settings)
    # a stored sheet's errors name store:KEY, not the worker's local copy
    rows, skipped = check_sheet_ref(
        store,
        sheet,
        input_roots=_roots(input_roots, overrides),
        max_rows=settings.max_sheet_rows,
        skip_invalid=skip_invalid,
    )
    return {"rows": rows, "skipped": [s.as_dict() for s in skipped]}


def _ref(value: str) -> str:
    return value if value.startswith(("store:", "s3://")) else str(Path(value).expanduser().resolve())


@task(name="validate_jobs", task_run_name="validate {label}", tags=[stage_tag("validate")])
def validate_jobs(
    records: list[dict],
    label: str,
    input_roots: list[str] | None = None,
    overrides: dict | None = None,
    skip_invalid: bool = False,
) -> dict:
    """Rows for the batch and single flows, checked by the same rules as a sheet's. With
    ``skip_invalid`` a bad item is left out (``skipped``) unless no good one is left."""
    store = store_for(settings_for(overrides))
    roots = _roots(input_roots, overrides) or (Path("/"),)
    numbered = [
        (i, {k: _ref(v) if k in ("video", "audio", "transcript") and v else v for k, v in r.items()})
        for i, r in enumerate(records, start=1)
    ]
    rows, problems = validate_rows(numbered, base_dir=Path.cwd(), input_roots=roots, store_exists=store.exists)
    if problems and not (skip_invalid and rows):
        raise SheetError(label, problems)
    return {"rows": rows, "skipped": [s.as_dict() for s in skipped_rows(numbered, problems)]}


def batch_records(audio: str, videos: list[str], language: str, transcript: str | None = None) -> list[dict]:
    """One row per video: the lecturer is named after the video file (and its folder, or a
    number, where two videos share a file name: ``intake.lecturer_names``)."""
    return [
        {
            "lecturer": name,
            "video": v,
            "language": language,
            "audio": audio,
            "transcript": transcript or "",
            "title": "",
            "output": "",
        }
        for name, v in zip(lecturer_names(videos), videos)
    ]


def refused_rows(refused: list[dict], first: int, language: str) -> list[dict]:
    """Videos refused before the run, as the rows the report lists as failed: numbered after
    the ``first`` videos that were sent, named as the batch names its outputs."""
    names = lecturer_names([r["name"] for r in refused])
    return [
        Skipped(
            row=first + k,
            lecturer=name,
            language=language,
            output=default_output(name, language),
            message=str(r["message"]),
        ).as_dict()
        for k, (name, r) in enumerate(zip(names, refused), start=1)
    ]
