"""Facts about a local file (its probe, its content hash) kept under the file's identity, so a
video used again is neither probed nor read whole again.

A file's identity is its device, inode, size, modification time and change time (ns). Writing
a file in place moves its change time, which no program can set back (``touch`` and ``utime``
set only the access and modification times), so a changed file does not find the facts of its
old content. Two writes within one tick of a coarse filesystem clock (jiffies on older Linux
kernels, 2 s on FAT) would keep all five: as git does for its index, facts about a file
changed less than ``RACY_S`` ago are not kept. Copies, uploads and files staged from the
artifact store are new identities: they are probed and hashed as usual. Kept free of numpy,
like ``probe``, so the command line can ask before loading the rest of heygem.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable

from . import cache
from .files import sha256_file


# Bumped when what a kind of fact holds changes: older entries are then never read.
VERSION = 1
RACY_S = 2.0


def _stat(path: str | Path) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _key(st: os.stat_result) -> str:
    raw = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _settled(st: os.stat_result) -> bool:
    """Changed long enough ago that a later write cannot share its timestamps."""
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_S * 1e9


def remembered(
    cache_dir: Path | None,
    kind: str,
    path: str | Path,
    compute: Callable[[], dict],
    decode: Callable[[dict], Any] = lambda facts: facts,
) -> Any:
    """``decode(compute())`` for ``path``, with ``compute()``'s answer kept for this very file
    and read back next time. Errors are not kept: a file that failed is asked again. Without
    ``cache_dir`` nothing is kept."""
    st = _stat(path) if cache_dir is not None else None
    if cache_dir is None or st is None:
        return decode(compute())
    key = _key(st)
    where = cache.entry(
        cache_dir,
        "files",
        cache.key("files", made_by={"facts": VERSION}, settings={"kind": kind}, inputs={"file": key}),
        ".json",
    )
    kept = cache.read(where, lambda p: (decode(json.loads(p.read_text(encoding="utf-8"))),), "file facts")
    if kept is not None:
        return kept[0]
    facts = compute()
    now = _stat(path)
    if now is not None and _key(now) == key and _settled(st):  # nor when it changed while read
        text = json.dumps(facts, sort_keys=True)
        cache.write(where, lambda tmp: tmp.write_text(text, encoding="utf-8"), "file facts")
    return decode(facts)


def sha256(path: str | Path, cache_dir: Path | None) -> str:
    """The file's content hash (sha256, hex): a 10-minute lecture at 5 Mbit/s is ~0.4 GB to read."""
    return remembered(
        cache_dir, "sha256", path, lambda: {"sha256": sha256_file(path)}, lambda facts: str(facts["sha256"])
    )
