"""A course sheet kept in the artifact store (``store:sheets/course.csv``), as a deployment or
a worker takes it: checked from a local copy, with every error naming the store key the user
gave, never the copy's hashed name."""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Sequence

from heygem_core.errors import HeygemError, InputError, SheetError

from .checking import check_sheet
from .records import Problem, Row, Skipped

PREFIX = "store:"


def is_stored(sheet: str | os.PathLike) -> bool:
    return str(sheet).startswith(PREFIX)


def check_stored_sheet(store, sheet: str, *, input_roots: Sequence[Path] = (), max_rows: int = 2000,
                       skip_invalid: bool = False) -> tuple[list[Row], list[Skipped]]:
    """``check_sheet`` for ``store:KEY``. Its file cells must be ``store:`` keys or paths under
    ``input_roots`` (a stored sheet has no folder of its own to be relative to)."""
    key = sheet[len(PREFIX):]
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
            return check_sheet(copy, input_roots=tuple(input_roots) or (Path(tmp),),
                               store_exists=store.exists, max_rows=max_rows, skip_invalid=skip_invalid)
        except SheetError as err:
            if not input_roots:  # its paths were checked against the copy's own temp folder
                err = SheetError(copy, [_unrooted(p, tmp) for p in err.problems])
            raise err.about(sheet) from None
        except HeygemError as err:
            if err.path is not None and Path(err.path) == copy:
                raise err.about(sheet) from None
            raise


def _unrooted(problem: Problem, tmp: str) -> Problem:
    if tmp not in problem.message:
        return problem
    return dataclasses.replace(problem, message=(
        "a sheet in the artifact store names its files as store:KEY (heygem store put), "
        "or by paths under HEYGEM_INPUT_ROOTS / --input-root"))
