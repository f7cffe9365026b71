"""Scratch space on this machine: a folder per job or task under the cache folder
(``<cache>/work/<prefix>-<host>-<pid>-<random>``), never beside the user's output. Folders left
by a process of this host that no longer runs (killed mid-job: its ``finally`` never ran) are
removed by the next job and by ``heygem gc`` (and the ``.part`` files a killed job left beside
the output it was writing, by the next job writing it: ``files.sweep_parts``)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from .config import Settings
from .files import HOST, alive


def work_dir(settings: Settings) -> Path:
    """Local scratch space on this machine (a job's audio, a task's inputs fetched from the store).

    Scratch folders left by a process of this host that no longer runs (a worker killed mid-task:
    its ``finally`` never ran, and a half-rendered video stays behind) are removed here."""
    path = Path(settings.cache_dir) / "work"
    path.mkdir(parents=True, exist_ok=True)
    _sweep(path)
    return path


def scratch_dir(settings: Settings, prefix: str = "task") -> tempfile.TemporaryDirectory:
    """A temp folder in ``work_dir``, named by host and process so a later run can tell it is
    orphaned: ``<prefix>-<host>-<pid>-<random>``."""
    return tempfile.TemporaryDirectory(prefix=f"{prefix}-{HOST}-{os.getpid()}-", dir=work_dir(settings))


_SCRATCH = re.compile(r"^[a-z]+-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[^-]+$")


def _sweep(work: Path) -> None:
    """Remove the scratch folders of dead processes of this host (never another host's: the
    cache folder may be shared, and its process ids mean nothing here)."""
    try:
        entries = list(os.scandir(work))
    except OSError:
        return
    for entry in entries:
        m = _SCRATCH.match(entry.name)
        if m and m["host"] == HOST and not alive(int(m["pid"])) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def sweep_work(cache_dir: Path) -> None:
    """``heygem gc``'s share: the scratch folders of this host's dead processes."""
    work = Path(cache_dir) / "work"
    if work.is_dir():
        _sweep(work)
