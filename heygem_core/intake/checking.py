"""Checking a whole sheet, or already-read records, row by row: every problem at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, cast

from heygem_core.errors import SheetError

from .names import _check_language, _check_output, _default_output
from .reading import _clean, _map_header, _sheet_path, load_table
from .records import _FILE_COLUMNS, KNOWN_COLUMNS, REQUIRED_COLUMNS, Problem, Row, Skipped, SourceRef
from .sources import _check_source, _resolve_roots


def read_sheet(
    path: str | os.PathLike,
    *,
    input_roots: Sequence[Path] = (),
    store_exists: Callable[[str], bool] | None = None,
    max_rows: int = 2000,
) -> list[Row]:
    """Read and validate a course sheet; return its rows or raise ``SheetError``/``InputError``."""
    rows, _ = check_sheet(path, input_roots=input_roots, store_exists=store_exists, max_rows=max_rows)
    return rows


def check_sheet(
    path: str | os.PathLike,
    *,
    input_roots: Sequence[Path] = (),
    store_exists: Callable[[str], bool] | None = None,
    max_rows: int = 2000,
    skip_invalid: bool = False,
    own_folder: bool = True,
) -> tuple[list[Row], list[Skipped]]:
    """``read_sheet``; with ``skip_invalid`` a row's problems leave that row out (returned as
    ``Skipped``) instead of stopping the sheet. Problems of the sheet itself, or no valid row
    left, still raise ``SheetError``. ``own_folder``: without ``input_roots``, paths may lie in
    the sheet's own folder (not for a sheet fetched from the store: its folder is a copy's)."""
    sheet = _sheet_path(path)
    table = load_table(sheet, max_rows=max_rows)
    problems = list(table.problems)

    if table.header_row is None:
        raise SheetError(sheet, [Problem(None, None, "the sheet is empty")])

    columns, header_problems = _map_header(table.header)
    problems[:0] = header_problems

    if table.data_rows == 0:
        problems.append(Problem(None, None, "the sheet has a header but no data rows"))
        raise SheetError(sheet, problems)
    if table.data_rows > max_rows:
        problems.append(
            Problem(None, None, f"sheet has {table.data_rows} rows; the limit is {max_rows} (HEYGEM_MAX_SHEET_ROWS)")
        )
        raise SheetError(sheet, problems)

    records = [
        (number, {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()})
        for number, cells in table.rows
    ]
    roots = tuple(input_roots) or ((sheet.parent,) if own_folder else ())
    rows, row_problems = validate_rows(
        records, base_dir=sheet.parent, input_roots=roots, store_exists=store_exists, present_columns=columns.keys()
    )
    skipped: list[Skipped] = []
    if skip_invalid and not problems and rows:
        skipped, row_problems = skipped_rows(records, row_problems), []
    problems.extend(row_problems)
    if problems:
        problems.sort(key=lambda p: (p.row is not None, p.row or 0))
        raise SheetError(sheet, problems)
    return rows, skipped


def skipped_rows(records: Iterable[tuple[int, Mapping[str, str]]], problems: Iterable[Problem]) -> list[Skipped]:
    """The rows ``problems`` name, each with its problems in one message."""
    by_row: dict[int, list[str]] = {}
    for p in problems:
        if p.row is not None:
            by_row.setdefault(p.row, []).append(f"{p.column}: {p.message}" if p.column else p.message)
    out = []
    for number, record in records:
        if number in by_row:
            lecturer = _clean(str(record.get("lecturer") or ""))
            language = _clean(str(record.get("language") or ""))
            output = _clean(str(record.get("output") or "")) or (
                _default_output(lecturer, language) if lecturer else ""
            )
            out.append(Skipped(number, lecturer, language, output, "; ".join(by_row[number])))
    return out


def validate_rows(
    records: Iterable[tuple[int, Mapping[str, str]]],
    *,
    base_dir: Path,
    input_roots: Sequence[Path] | None = None,
    store_exists: Callable[[str], bool] | None = None,
    present_columns: Iterable[str] | None = None,
) -> tuple[list[Row], list[Problem]]:
    """Check already-read records ``(row number, {column: text})``; return rows and problems.
    File cells must lie under ``input_roots`` (None: ``base_dir``; empty: nowhere, only
    ``store:`` keys).

    ``present_columns`` are the columns the sheet has; a required column it lacks was already
    reported once for the header, so its cells are not reported blank on every row.
    """
    base_dir = Path(base_dir)
    roots = _resolve_roots((base_dir,) if input_roots is None else input_roots)
    present = set(present_columns) if present_columns is not None else set(KNOWN_COLUMNS)
    store_cache: dict[str, bool] = {}
    rows: list[Row] = []
    problems: list[Problem] = []
    first_output: dict[str, int] = {}

    for number, record in records:
        mine: list[Problem] = []

        def problem(column: str | None, message: str) -> None:
            mine.append(Problem(number, column, message))

        values = {name: _clean(str(record.get(name) or "")) for name in KNOWN_COLUMNS}
        for name in REQUIRED_COLUMNS:
            if name in present and not values[name]:
                problem(name, "blank; this column is required")

        lecturer = values["lecturer"]
        title = values["title"]
        sources: dict[str, SourceRef | None] = {}
        for column, allowed in _FILE_COLUMNS.items():
            if values[column]:
                sources[column] = _check_source(
                    values[column], column, allowed, base_dir, roots, store_exists, store_cache, problem
                )
        language = None
        if values["language"]:
            language = _check_language(values["language"], problem)

        output = None
        if values["output"]:
            output = _check_output(values["output"], problem)
        elif lecturer and language:
            output = _default_output(lecturer, language)
        if output is not None:
            key = output.casefold()
            if key in first_output:
                problem("output", f"duplicate output '{output}' (also row {first_output[key]})")
            else:
                first_output[key] = number

        if not mine and all(n in present for n in REQUIRED_COLUMNS):
            # a row without problems has every required value (mypy cannot see that)
            rows.append(
                Row(
                    number=number,
                    lecturer=lecturer,
                    video=cast(SourceRef, sources["video"]),
                    language=cast(str, language),
                    audio=cast(SourceRef, sources["audio"]),
                    transcript=sources.get("transcript"),
                    title=title,
                    output=cast(str, output),
                )
            )
        problems.extend(mine)
    return rows, problems
