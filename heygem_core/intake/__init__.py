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

from .checking import check_sheet, read_sheet, skipped_rows, validate_rows
from .names import _default_output as default_output, lecturer_names, normalise_language
from .reading import Table, load_table
from .stored import check_sheet_ref, check_stored_sheet, is_stored
from .records import (
    AUDIO_EXTENSIONS,
    KNOWN_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SHEET_EXTENSIONS,
    TRANSCRIPT_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Problem,
    Row,
    Skipped,
    SourceRef,
)

__all__ = [
    "check_sheet",
    "check_sheet_ref",
    "check_stored_sheet",
    "default_output",
    "is_stored",
    "lecturer_names",
    "normalise_language",
    "skipped_rows",
    "Skipped",
    "Table",
    "KNOWN_COLUMNS",
    "SHEET_EXTENSIONS",
    "SourceRef",
    "Row",
    "Problem",
    "read_sheet",
    "load_table",
    "validate_rows",
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "VIDEO_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "TRANSCRIPT_EXTENSIONS",
]
