"""A course sheet kept in the artifact store (``store:sheets/course.csv``), as a deployment or
a worker takes it: checked from a local copy, with every error naming the store key the user
gave, never the copy's hashed name."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Sequence

from heygem_core.errors import HeygemError, InputError

from .checking import check_sheet
from .records import Row, Skipped

PREFIX = "store:"


def is_stored(sheet: str | os.PathLike) -> bool:
    return str(sheet).startswith(PREFIX)


def check_stored_sheet(
    store, sheet: str, *, input_roots: Sequence[Path] = (), max_rows: int = 2000, skip_invalid: bool = False
) -> tuple[list[Row], list[Skipped]]:
    """``check_sheet`` for ``store:KEY``. Its file cells must be ``store:`` keys or paths under
    ``input_roots`` (a stored sheet has no folder of its own to be relative to)."""
    key = sheet[len(PREFIX) :]
    if not key:
        raise InputError("a store sheet needs a key after 'store:', e.g. store:sheets/course.csv", sheet)
    try:
        local = store.local_path(key)
    except HeygemError as err:  # not there, or not a valid key: said about what the user typed
        raise err.about(sheet) from None
    with tempfile.TemporaryDirectory(prefix="heygem-sheet-") as tmp:
        # the key's own name (a copy: the cached object keeps its hashed name)
        copy = Path(tmp) / PurePosixPath(key).name
        shutil.copyfile(local, copy)
        try:
            return check_sheet(
                copy,
                input_roots=input_roots,
                store_exists=store.exists,
                max_rows=max_rows,
                skip_invalid=skip_invalid,
                own_folder=False,
            )
        except HeygemError as err:
            if err.path is not None and Path(err.path) == copy:
                raise err.about(sheet) from None
            raise


def check_sheet_ref(
    store,
    sheet: str,
    *,
    input_roots: Sequence[Path] = (),
    max_rows: int = 2000,
    skip_invalid: bool = False,
    check_keys: bool = True,
) -> tuple[list[Row], list[Skipped]]:
    """A sheet as a user or a deployment names it: a path here, or ``store:KEY``.
    ``check_keys``: whether the ``store:`` cells of a sheet here are looked up in ``store``."""
    if is_stored(sheet):
        return check_stored_sheet(store, sheet, input_roots=input_roots, max_rows=max_rows, skip_invalid=skip_invalid)
    return check_sheet(
        sheet,
        input_roots=input_roots,
        store_exists=store.exists if check_keys else None,
        max_rows=max_rows,
        skip_invalid=skip_invalid,
    )
