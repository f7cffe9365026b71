"""Where a job may write its video, checked before any work: a container heygem writes, a file
(not a folder), in a folder it may write to, and never one of the job's own inputs (the same
file under another name, a symbolic link or a hard link included). Kept free of numpy: the
command line checks before it loads the rest of heygem."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from heygem_core.errors import InputError, os_reason

CONTAINERS = (".mp4", ".mov", ".mkv")


def check_output(output: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """``output`` as given, or ``InputError`` naming it as the user wrote it."""
    out = Path(output)
    if out.is_dir():
        raise InputError("is a folder; give the output a file name, such as talk_de.mp4", out)
    suffix = out.suffix.lower()
    if suffix not in CONTAINERS:
        said = f"not '{out.suffix}'" if out.suffix else "it has no extension"
        raise InputError(f"the output must be a video file ending in .mp4, .mov or .mkv ({said})", out)
    for given in inputs:
        if given is not None and _same_file(out, Path(given)):
            raise InputError(
                f"is an input of this job ({given}); heygem never overwrites an input: give the output another name",
                out,
            )
    folder = _nearest_existing(out.absolute().parent)
    try:  # a real write, not os.access: root, read-only and full file systems answer only to one
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        where = out.parent if str(out.parent) not in ("", ".") else Path(".")
        raise InputError(f"cannot write here: {os_reason(err)} (choose another output folder)", where) from None
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
