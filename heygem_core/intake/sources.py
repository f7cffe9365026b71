"""File cells: a path that must lie in an allowed input folder, or a key in the artifact store."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Iterable

from heygem_core.errors import os_reason

from .records import SourceRef


def _resolve_roots(roots: Iterable[Path]) -> tuple[Path, ...]:
    out = []
    for root in roots:
        try:
            out.append(Path(root).expanduser().resolve(strict=False))
        except (OSError, RuntimeError, ValueError):
            continue
    return tuple(out)


_STORE_PREFIX = re.compile(r"^(?:store:|s3://)", re.IGNORECASE)


def _check_source(
    text: str,
    column: str,
    allowed: frozenset[str],
    base_dir: Path,
    roots: tuple[Path, ...],
    store_exists,
    store_cache: dict[str, bool],
    problem,
) -> SourceRef | None:
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
        problem(column, f"not a usable path {text!r} ({os_reason(err)})")
        return None
    if not roots:
        problem(
            column,
            "a path, where no input folder is allowed: a sheet in the artifact store names its "
            "files as store:KEY (heygem store put), or by paths under HEYGEM_INPUT_ROOTS / --input-root",
        )
        return None
    if not any(_is_under(resolved, root) for root in roots):
        problem(
            column,
            f"{text!r} resolves to {resolved}, outside the allowed input folders ({', '.join(str(r) for r in roots)})",
        )
        return None
    try:
        st = os.stat(resolved)
    except FileNotFoundError:
        problem(column, f"file not found: {resolved}")
        return None
    except (OSError, ValueError) as err:
        problem(column, f"cannot access {resolved} ({os_reason(err)})")
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
        problem(column, f"file cannot be read ({os_reason(err)}): {resolved}")
        return None
    return SourceRef("path", str(resolved))


def _check_store(
    text: str, column: str, allowed: frozenset[str], store_exists, store_cache: dict[str, bool], problem
) -> SourceRef | None:
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
        problem(
            column, f"store key {key!r} is not a plain key (no leading '/', no '.', '..' or empty segments, no '\\')"
        )
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
