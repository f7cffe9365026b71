"""The one rule of every cache heygem keeps, on disk and in the tasks' keys.

A cached thing's key is: its kind (the stage), the declared versions of the code and models
that made it (``made_by``: an engine's ``version``, the tracker's, the mouth model's weights
hash — declared where that code lives), only the settings it depends on, and the content
hashes of its inputs. Never a path or a modification time. It lives at
``<cache_dir>/<kind>/<key[:2]>/<key><suffix>``.

Reading a damaged entry (a killed writer on a filesystem without atomic rename, a disk
error, a format from another version) warns once, removes it, and the caller makes it again:
a cache can cost time, never a job. A hit marks the entry used (its modification time), so
``heygem gc`` evicts the least recently used first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from .files import atomic_output

log = logging.getLogger(__name__)

T = TypeVar("T")


def key(
    kind: str,
    *,
    made_by: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    length: int = 40,
) -> str:
    doc = {"kind": kind, "made_by": dict(made_by or {}), "settings": dict(settings or {}), "inputs": dict(inputs or {})}
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def entry(cache_dir: str | Path, kind: str, key: str, suffix: str) -> Path:
    return Path(cache_dir) / kind / key[:2] / f"{key}{suffix}"


def read(path: Path, load: Callable[[Path], T], what: str) -> T | None:
    """``load(path)``, or None when there is no such entry or it is damaged (then removed)."""
    try:
        value = load(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as err:  # noqa: BLE001 - whatever a damaged file raises, it is made again
        log.warning("ignoring damaged %s %s (%s): making it again", what, path, err)
        try:
            path.unlink()
        except OSError:
            pass
        return None
    used(path)
    return value


def write(path: Path, save: Callable[[Path], object], what: str) -> Path | None:
    """``save(tmp)`` then an atomic rename onto ``path`` (readers never see half a file; two
    writers of one key each write their own temp file). A cache that cannot be written only
    costs time: a warning, and None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            save(tmp)
        return path
    except OSError as err:
        log.warning("cannot keep the %s at %s: %s", what, path, err)
        return None


def used(path: Path) -> None:
    """Mark an entry used now (what ``heygem gc`` orders by)."""
    try:
        os.utime(path)
    except OSError:  # a read-only cache is still a cache
        pass
