"""Files written whole or not at all, and content hashes.

Kept free of numpy, like ``probe``: ``filefacts`` uses these before the command line has
loaded the rest of heygem. ``media`` re-exports them, where callers have always found them.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heygem_core.errors import MissingFile


# This machine, as it appears in the names of temp files and folders (so that a later process
# can tell those of a process of this host that no longer runs).
HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def _temp_sibling(out_path: Path) -> Path:
    """A hidden temp name in the same folder (so the final rename is atomic), same suffix (so
    ffmpeg picks the same muxer), naming its host and process (``sweep_parts``)."""
    return out_path.with_name(f".{out_path.stem}.{HOST}-{os.getpid()}-{secrets.token_hex(4)}.part{out_path.suffix}")


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_parts(output: str | Path) -> int:
    """Remove the temp files that processes of this host, no longer running, left while writing
    ``output`` (a job killed mid-render); how many. Never another host's, nor a live one's."""
    output = Path(output)
    pattern = re.compile(
        rf"^\.{re.escape(output.stem)}\.(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[0-9a-f]{{8}}"
        rf"\.part{re.escape(output.suffix)}$"
    )
    gone = 0
    try:
        entries = list(os.scandir(output.parent if str(output.parent) else "."))
    except OSError:
        return 0
    for entry in entries:
        m = pattern.match(entry.name)
        if m and m["host"] == HOST and not alive(int(m["pid"])) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                gone += 1
            except OSError:
                pass
    return gone


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
    except OSError as err:
        if err.filename or not err.errno:
            raise
        # a writer that names no file (pyarrow, a full disk): this one, so the message can say where
        raise OSError(err.errno, err.strerror or str(err), str(out)) from err
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
