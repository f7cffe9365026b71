"""Spreadsheet intake: read a course sheet (CSV or XLSX) and check every row before any work.

A course team submits one sheet, one row per output video::

    lecturer | video | language | audio | transcript | title | output

``read_sheet`` returns the rows as ``Row`` objects or raises:

* ``InputError`` (or ``MissingFile``) when the sheet itself cannot be used: missing, a folder,
  not .csv/.xlsx, not UTF-8, corrupt;
* ``SheetError`` listing *every* problem at once (missing columns, blank cells, files not found
  or outside the allowed folders, unknown languages, bad or duplicate output names, formula
  cells, too many rows...). Each ``Problem`` names the row as a person sees it in
  Excel/LibreOffice (the header is row 1) and the column.

Decisions worth knowing:

* Header names are matched case-insensitively with surrounding spaces ignored; blank header
  cells and unknown columns are ignored; a required/optional column given twice is a problem.
  The header is the first non-empty row (normally row 1; row numbers stay the sheet's own).
* Only the first worksheet of an XLSX workbook is read. Formula cells anywhere in it are
  refused (we never evaluate them and cached results may be stale or hostile). Numbers are
  read as text (``3.0`` -> ``"3"``).
* CSV is read with the ``csv`` module as UTF-8 (a BOM is fine), every cell as text; ragged
  rows are fine. A cell starting with ``=`` is just text in a CSV.
* File cells: ``~`` is expanded, relative paths are relative to the sheet's folder, symlinks
  are resolved and the result must lie under one of ``input_roots`` (default: the sheet's
  folder). Only the name's extension is checked; media contents are not probed here.
* ``store:key`` or ``s3://<bucket>/key`` names a key in the artifact store (the bucket part is
  ignored: the configured store is used). ``store_exists`` is called once per distinct key;
  errors it raises (e.g. ``StoreUnavailable``) propagate: an unreachable store is not a
  problem of the sheet.
* Language: ``_`` is accepted as a separator (``de_DE`` -> ``de-DE``, as Excel/locale
  settings often write it); the tag must be well-formed BCP-47 naming a real language
  (not ``und``/``mul``/``mis``/``zxx``, private use ``qaa``-``qtz`` or ``x-...``). It is
  normalised with ``langcodes.standardize_tag`` (``EN-us`` -> ``en-US``, ``iw`` -> ``he``).
  Language names (``English``) are not accepted.
* Output: blank -> ``<lecturer>_<language>.mp4``; given names are sanitised the same way
  (spaces -> ``_``, characters other than ``[A-Za-z0-9._-]``/unicode letters dropped), must not
  contain ``/``, ``\\`` or ``..``; ``.mp4`` is appended when there is no extension, any other
  extension is a problem. Duplicates compare case-insensitively.
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from .errors import InputError, MissingFile, SheetError

__all__ = [
    "SourceRef", "Row", "Problem", "read_sheet", "load_table", "validate_rows",
    "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "VIDEO_EXTENSIONS", "AUDIO_EXTENSIONS",
    "TRANSCRIPT_EXTENSIONS",
]

REQUIRED_COLUMNS = ("lecturer", "video", "language", "audio")
OPTIONAL_COLUMNS = ("transcript", "title", "output")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}) | VIDEO_EXTENSIONS
TRANSCRIPT_EXTENSIONS = frozenset({".txt"})
_FILE_COLUMNS = {"video": VIDEO_EXTENSIONS, "audio": AUDIO_EXTENSIONS, "transcript": TRANSCRIPT_EXTENSIONS}

SHEET_EXTENSIONS = (".csv", ".xlsx")
_MAX_OUTPUT_BYTES = 200  # well under the 255-byte file-name limit of common file systems
_NON_LANGUAGES = {"und", "mul", "mis", "zxx"}


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class SourceRef:
    """A file named by the sheet: a local path (``kind="path"``, ``value`` absolute and
    resolved) or a key in the artifact store (``kind="store"``)."""

    kind: str  # "path" | "store"
    value: str

    @property
    def name(self) -> str:
        if self.kind == "store":
            return PurePosixPath(self.value).name
        return Path(self.value).name

    def __str__(self) -> str:
        return f"store:{self.value}" if self.kind == "store" else self.value


@dataclass(frozen=True)
class Row:
    number: int  # the sheet's row number (header = 1)
    lecturer: str
    video: SourceRef
    language: str  # normalised BCP-47 tag
    audio: SourceRef
    transcript: SourceRef | None
    title: str
    output: str  # safe bare file name ending in .mp4


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class Table:
    """A sheet as text: the header cells and the non-empty data rows, with sheet row numbers."""

    header_row: int | None  # None: the sheet has no non-empty row at all
    header: list[str]  # raw header cells (stripped), by column position
    rows: list[tuple[int, list[str]]]  # (row number, cells) for at most max_rows + 1 rows
    data_rows: int  # number of non-empty data rows in the whole sheet
    problems: list[Problem]  # found while reading (formula cells)


# ---------------------------------------------------------------------------------------------
# Public entry point


@dataclass(frozen=True)
class Skipped:
    """A row left out of a run for its problems (``--skip-invalid``, or a batch's bad video)."""

    row: int
    lecturer: str
    language: str
    output: str
    message: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


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
) -> tuple[list[Row], list[Skipped]]:
    """``read_sheet``; with ``skip_invalid`` a row's problems leave that row out (returned as
    ``Skipped``) instead of stopping the sheet. Problems of the sheet itself, or no valid row
    left, still raise ``SheetError``."""
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
        problems.append(Problem(None, None, f"sheet has {table.data_rows} rows; the limit is "
                                            f"{max_rows} (HEYGEM_MAX_SHEET_ROWS)"))
        raise SheetError(sheet, problems)

    records = [(number, {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()})
               for number, cells in table.rows]
    roots = tuple(input_roots) or (sheet.parent,)
    rows, row_problems = validate_rows(
        records, base_dir=sheet.parent, input_roots=roots, store_exists=store_exists,
        present_columns=columns.keys())
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
            output = _clean(str(record.get("output") or "")) or (_default_output(lecturer, language) if lecturer else "")
            out.append(Skipped(number, lecturer, language, output, "; ".join(by_row[number])))
    return out


def _sheet_path(path: str | os.PathLike) -> Path:
    try:
        sheet = Path(path).expanduser().absolute()
    except (RuntimeError, ValueError, TypeError) as err:
        raise InputError(f"not a usable sheet path ({err})", path) from None
    suffix = sheet.suffix.lower()
    if suffix == ".xls":
        raise InputError("old Excel .xls workbooks are not supported; save the sheet as .xlsx "
                         "(Excel Workbook) or .csv (CSV UTF-8)", sheet)
    if suffix not in SHEET_EXTENSIONS:
        raise InputError(f"unsupported sheet type {suffix or '(no extension)'!r}; "
                         "use .xlsx or .csv (CSV UTF-8)", sheet)
    try:
        st = sheet.stat()
    except FileNotFoundError:
        raise MissingFile("sheet not found", sheet) from None
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the sheet ({_os_reason(err)})", sheet) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a folder, not a sheet", sheet)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("is not a regular file", sheet)
    if st.st_size == 0:
        raise SheetError(sheet, [Problem(None, None, "the sheet is empty (0 bytes)")])
    return sheet


# ---------------------------------------------------------------------------------------------
# Reading


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
                    table.problems.append(Problem(
                        number, name if name else _column_letter(col),
                        "formula cells are not accepted; paste the values instead"))
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
        raise InputError(f"cannot read the sheet ({_os_reason(err)})", sheet) from None
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
        raise InputError(f"cannot open the workbook: it is not a valid .xlsx file ({_short(err)})",
                         sheet) from None

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


# ---------------------------------------------------------------------------------------------
# Header


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
            problems.append(Problem(None, name, f"appears {len(places)} times in the header "
                                                f"(columns {where}); keep one"))
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.append(Problem(None, name, "missing from the header"))
    return {name: places[0] for name, places in seen.items()}, problems


# ---------------------------------------------------------------------------------------------
# Rows


def validate_rows(
    records: Iterable[tuple[int, Mapping[str, str]]],
    *,
    base_dir: Path,
    input_roots: Sequence[Path] = (),
    store_exists: Callable[[str], bool] | None = None,
    present_columns: Iterable[str] | None = None,
) -> tuple[list[Row], list[Problem]]:
    """Check already-read records ``(row number, {column: text})``; return rows and problems.

    ``present_columns`` are the columns the sheet has; a required column it lacks was already
    reported once for the header, so its cells are not reported blank on every row.
    """
    base_dir = Path(base_dir)
    roots = _resolve_roots(input_roots or (base_dir,))
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
                sources[column] = _check_source(values[column], column, allowed, base_dir, roots,
                                                store_exists, store_cache, problem)
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
            rows.append(Row(number=number, lecturer=lecturer, video=sources["video"],
                            language=language, audio=sources["audio"],
                            transcript=sources.get("transcript"), title=title, output=output))
        problems.extend(mine)
    return rows, problems


def _resolve_roots(roots: Iterable[Path]) -> tuple[Path, ...]:
    out = []
    for root in roots:
        try:
            out.append(Path(root).expanduser().resolve(strict=False))
        except (OSError, RuntimeError, ValueError):
            continue
    return tuple(out)


# -- files ------------------------------------------------------------------------------------

_STORE_PREFIX = re.compile(r"^(?:store:|s3://)", re.IGNORECASE)


def _check_source(text: str, column: str, allowed: frozenset[str], base_dir: Path,
                  roots: tuple[Path, ...], store_exists, store_cache: dict[str, bool],
                  problem) -> SourceRef | None:
    if _STORE_PREFIX.match(text):
        return _check_store(text, column, allowed, store_exists, store_cache, problem)

    try:
        written = Path(text).expanduser()
    except RuntimeError:
        problem(column, f"cannot expand '~' in {text!r}")
        return None
    if not _has_extension(written.name, allowed):
        problem(column, _extension_message(written.name, column, allowed))
        return None
    full = written if written.is_absolute() else base_dir / written
    try:
        resolved = full.resolve(strict=False)
    except (OSError, RuntimeError, ValueError) as err:
        problem(column, f"not a usable path {text!r} ({_os_reason(err)})")
        return None
    if not any(_is_under(resolved, root) for root in roots):
        allowed_dirs = ", ".join(str(r) for r in roots) or "none configured"
        problem(column, f"{text!r} resolves to {resolved}, outside the allowed input folders "
                        f"({allowed_dirs})")
        return None
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        problem(column, f"file not found: {resolved}")
        return None
    except (OSError, ValueError) as err:
        problem(column, f"cannot access {resolved} ({_os_reason(err)})")
        return None
    if stat.S_ISDIR(st.st_mode):
        problem(column, f"is a folder, not a file: {resolved}")
        return None
    if not stat.S_ISREG(st.st_mode):
        problem(column, f"not a regular file: {resolved}")
        return None
    if st.st_size == 0:
        problem(column, f"file is empty (0 bytes): {resolved}")
        return None
    try:
        with open(resolved, "rb"):
            pass
    except OSError as err:
        problem(column, f"file cannot be read ({_os_reason(err)}): {resolved}")
        return None
    return SourceRef("path", str(resolved))


def _check_store(text: str, column: str, allowed: frozenset[str], store_exists,
                 store_cache: dict[str, bool], problem) -> SourceRef | None:
    if text[:6].lower() == "store:":
        key = text[6:].strip()
    else:  # s3://<bucket>/<key>: the configured store's bucket is used
        bucket, _, key = text[5:].partition("/")
        if not bucket:
            problem(column, f"store reference {text!r} has no bucket (use s3://bucket/key)")
            return None
    if not key:
        problem(column, f"store reference {text!r} has no key")
        return None
    parts = key.split("/")
    if key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts) or "" in parts:
        problem(column, f"store key {key!r} is not a plain key (no leading '/', no '.', '..' "
                        "or empty segments, no '\\')")
        return None
    if not _has_extension(parts[-1], allowed):
        problem(column, _extension_message(parts[-1], column, allowed))
        return None
    if store_exists is None:
        problem(column, f"{text!r}: store references need a configured artifact store")
        return None
    if key not in store_cache:
        store_cache[key] = bool(store_exists(key))
    if not store_cache[key]:
        problem(column, f"not found in the artifact store: {key}")
        return None
    return SourceRef("store", key)


def _has_extension(name: str, allowed: frozenset[str]) -> bool:
    return PurePosixPath(name).suffix.lower() in allowed if name else False


def _extension_message(name: str, column: str, allowed: frozenset[str]) -> str:
    suffix = PurePosixPath(name).suffix.lower() if name else ""
    kinds = " ".join(sorted(allowed))
    got = f"'{suffix}'" if suffix else "no extension"
    extra = " (audio may also be taken from a video file)" if column == "audio" else ""
    return f"unsupported {column} format ({got} in {name!r}); use one of: {kinds}{extra}"


def _is_under(path: Path, root: Path) -> bool:
    try:
        return path == root or path.is_relative_to(root)
    except ValueError:
        return False


def _os_reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    if isinstance(err, (RuntimeError, ValueError)) and str(err).strip():
        text = str(err).strip().splitlines()[0][:160]  # "Symlink loop from ...", "embedded null byte"
        return text[:1].lower() + text[1:]
    return _short(err)


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text[:160]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# -- language ---------------------------------------------------------------------------------


def _check_language(text: str, problem) -> str | None:
    tag = normalise_language(text)
    if tag is None:
        problem("language", f"unknown language tag {text!r} (use a BCP-47 tag such as en, de, pt-BR)")
    return tag


def normalise_language(text: str) -> str | None:
    """The standard form of a BCP-47 tag naming a real language, or None."""
    import langcodes

    candidate = text.strip().replace("_", "-")
    if not candidate or not candidate.isascii():
        return None
    try:
        if not langcodes.tag_is_valid(candidate):
            return None
        lang = langcodes.Language.get(candidate)
        if not lang.is_valid():
            return None
        code = (lang.language or "").lower()
        if not code or code in _NON_LANGUAGES or code.startswith("x-"):
            return None
        if len(code) == 3 and "qaa" <= code <= "qtz":  # private use
            return None
        return langcodes.standardize_tag(candidate)
    except Exception:  # LanguageTagError and anything else from odd input
        return None


# -- output names -----------------------------------------------------------------------------


def _safe_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in "._-"
    category = unicodedata.category(ch)
    return category.startswith("L") or category.startswith("M")


def _sanitise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\s+", "_", text.strip())
    text = "".join(ch for ch in text if _safe_char(ch))
    text = re.sub(r"_+", "_", text)
    # No leading dots (hidden files, '..'), dashes (read as options by tools) or combining marks.
    while text and (text[0] in ".-_" or unicodedata.category(text[0]).startswith("M")):
        text = text[1:]
    return text


def _truncate(stem: str, suffix: str) -> str:
    while stem and len((stem + suffix).encode("utf-8")) > _MAX_OUTPUT_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _default_output(lecturer: str, language: str) -> str:
    stem = _sanitise(f"{lecturer}_{language}").rstrip(".") or f"video_{language}"
    return _truncate(stem, ".mp4")


def _check_output(text: str, problem) -> str | None:
    if "/" in text or "\\" in text or ".." in text:
        problem("output", f"{text!r} is not a plain file name (no '/', '\\' or '..'); "
                          "outputs are written to the run's output folder")
        return None
    suffix = PurePosixPath(text).suffix
    if suffix and suffix.lower() != ".mp4" and re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix):
        problem("output", f"output {text!r} must be an .mp4 file")
        return None
    if suffix.lower() == ".mp4":
        stem = text[: -len(suffix)]
    else:
        stem = text  # no (real) extension: '.mp4' is appended
    safe = _sanitise(stem).rstrip(".")
    if not safe:
        problem("output", f"output {text!r} has no usable characters for a file name")
        return None
    name = safe + ".mp4"
    if len(name.encode("utf-8")) > _MAX_OUTPUT_BYTES:
        problem("output", f"output name is too long ({len(name.encode('utf-8'))} bytes; "
                          f"at most {_MAX_OUTPUT_BYTES})")
        return None
    return name
