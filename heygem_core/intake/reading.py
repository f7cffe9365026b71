"""Reading a sheet file (CSV or XLSX) into a ``Table`` of text cells, and mapping its header."""

from __future__ import annotations

import csv
import io
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from heygem_core.errors import InputError, MissingFile, SheetError, os_reason

from .records import KNOWN_COLUMNS, REQUIRED_COLUMNS, SHEET_EXTENSIONS, Problem


@dataclass
class Table:
    """A sheet as text: the header cells and the non-empty data rows, with sheet row numbers."""

    header_row: int | None  # None: the sheet has no non-empty row at all
    header: list[str]  # raw header cells (stripped), by column position
    rows: list[tuple[int, list[str]]]  # (row number, cells) for at most max_rows + 1 rows
    data_rows: int  # number of non-empty data rows in the whole sheet
    problems: list[Problem]  # found while reading (formula cells)


def _sheet_path(path: str | os.PathLike) -> Path:
    try:
        sheet = Path(path).expanduser().absolute()
    except (RuntimeError, ValueError, TypeError) as err:
        raise InputError(f"not a usable sheet path ({err})", str(path)) from None
    suffix = sheet.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            "old Excel .xls workbooks are not supported; save the sheet as .xlsx (Excel Workbook) or .csv (CSV UTF-8)",
            sheet,
        )
    if suffix not in SHEET_EXTENSIONS:
        raise InputError(f"unsupported sheet type {suffix or '(no extension)'!r}; use .xlsx or .csv (CSV UTF-8)", sheet)
    try:
        st = sheet.stat()
    except FileNotFoundError:
        raise MissingFile("sheet not found", sheet) from None
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the sheet ({os_reason(err)})", sheet) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a folder, not a sheet", sheet)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("is not a regular file", sheet)
    if st.st_size == 0:
        raise SheetError(sheet, [Problem(None, None, "the sheet is empty (0 bytes)")])
    return sheet


def load_table(sheet: Path, *, max_rows: int = 2000) -> Table:
    """Read a .csv or .xlsx into a ``Table`` of text cells (raises ``InputError`` if unreadable)."""
    if sheet.suffix.lower() == ".xlsx":
        lines = _xlsx_lines(sheet)
    else:
        lines = _csv_lines(sheet)
    table = Table(header_row=None, header=[], rows=[], data_rows=0, problems=[])
    try:
        for number, cells, formula_cols in lines:
            if formula_cols:
                for col in formula_cols:
                    name = None
                    if table.header_row is not None and col < len(table.header):
                        name = table.header[col] or None
                    table.problems.append(
                        Problem(
                            number,
                            name if name else _column_letter(col),
                            "formula cells are not accepted; paste the values instead",
                        )
                    )
            if all(not c for c in cells):
                continue
            if table.header_row is None:
                table.header_row, table.header = number, cells
                continue
            table.data_rows += 1
            if table.data_rows <= max_rows + 1:
                table.rows.append((number, cells))
    except InputError:
        raise
    except Exception as err:  # corrupt content found while streaming rows
        raise InputError(f"cannot read the sheet: the file looks corrupt ({_short(err)})", sheet) from None
    return table


def _csv_lines(sheet: Path) -> Iterator[tuple[int, list[str], list[int]]]:
    try:
        text = sheet.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the CSV is not UTF-8 text; save it as 'CSV UTF-8'", sheet) from None
    except OSError as err:
        raise InputError(f"cannot read the sheet ({os_reason(err)})", sheet) from None
    if "\x00" in text:
        raise InputError("the CSV contains NUL bytes; it is not a text sheet", sheet)
    reader = csv.reader(io.StringIO(text, newline=""))

    def lines():
        try:
            # A person counts records (a quoted cell may span several lines): record 1 = row 1.
            for number, record in enumerate(reader, start=1):
                yield number, [_clean(c) for c in record], []
        except csv.Error as err:
            raise InputError(f"cannot read the CSV near line {reader.line_num} ({err})", sheet) from None

    return lines()


def _xlsx_lines(sheet: Path) -> Iterator[tuple[int, list[str], list[int]]]:
    try:
        import openpyxl

        workbook = openpyxl.load_workbook(sheet, read_only=True, data_only=False)
    except Exception as err:  # zipfile.BadZipFile, InvalidFileException, KeyError, XML errors...
        raise InputError(f"cannot open the workbook: it is not a valid .xlsx file ({_short(err)})", sheet) from None

    def lines():
        try:
            if not workbook.worksheets:
                return
            ws = workbook.worksheets[0]
            if hasattr(ws, "reset_dimensions"):
                ws.reset_dimensions()  # the stored dimension may be wrong; read every row
            for number, cells in enumerate(ws.iter_rows(), start=1):
                texts, formulas = [], []
                for col, cell in enumerate(cells):
                    if getattr(cell, "data_type", None) == "f":
                        formulas.append(col)
                        texts.append("")
                    else:
                        texts.append(_cell_text(getattr(cell, "value", None)))
                yield number, texts, formulas
        finally:
            try:
                workbook.close()
            except Exception:
                pass

    return lines()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return _clean(str(value))


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _column_letter(index: int) -> str:
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters} (no header)"


def _map_header(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    seen: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        name = cell.strip().casefold()
        if name in KNOWN_COLUMNS:
            seen.setdefault(name, []).append(index)
    problems = []
    for name, places in seen.items():
        if len(places) > 1:
            where = ", ".join(_column_letter(i).split()[0] for i in places)
            problems.append(
                Problem(None, name, f"appears {len(places)} times in the header (columns {where}); keep one")
            )
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.append(Problem(None, name, "missing from the header"))
    return {name: places[0] for name, places in seen.items()}, problems


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text[:160]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
