"""Files written whole or not at all, and content hashes.

Kept free of numpy, like ``probe``: ``filefacts`` uses these before the command line has
loaded the rest of heygem. ``media`` re-exports them, where callers have always found them.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heygem_core.errors import MissingFile


def _temp_sibling(out_path: Path) -> Path:
    """A hidden temp name in the same folder (so the final rename is atomic), same suffix (so
    ffmpeg picks the same muxer)."""
    return out_path.with_name(f".{out_path.stem}.{secrets.token_hex(4)}.part{out_path.suffix}")


def _check_output(out_path: str | Path) -> Path:
    out = Path(out_path)
    if not out.parent.is_dir():
        raise MissingFile("output folder does not exist", out.parent)
    return out


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def atomic_output(out_path: str | Path) -> Iterator[Path]:
    """Yields a temp path to write instead of ``out_path``; renamed into place when the block
    succeeds, deleted when it raises, so ``out_path`` never holds a partial file."""
    out = _check_output(out_path)
    tmp = _temp_sibling(out)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        _remove(tmp)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    p = Path(path)
    if not p.is_file():
        raise MissingFile("file not found", p)
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
