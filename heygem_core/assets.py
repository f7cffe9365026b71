"""Inputs brought into the artifact store: every source file is stored once, by content.

A row's video or audio may be a local path or a key already in the store; either way the
rest of the run refers to it by ``Asset`` (key + sha256), so workers on other machines find
the same bytes and cache keys never depend on where a file happened to lie.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import media
from .errors import InputError, MissingFile, ObjectMissing, os_reason
from .store import ArtifactStore


@dataclass(frozen=True)
class Asset:
    key: str  # where the bytes are in the artifact store
    sha256: str
    name: str  # the name the user knows it by (for messages and reports)


def ingest_path(path: str | Path, store: ArtifactStore) -> Asset:
    """Store a local file under ``sources/<sha256><ext>`` (once: the same content is shared)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFile("file not found", path)
    try:
        sha = media.sha256_file(path)
    except OSError as err:
        raise InputError(f"cannot read file: {os_reason(err)}", path) from err
    key = f"sources/{sha}{path.suffix.lower()}"
    if not store.exists(key):
        store.put_file(key, path)
    return Asset(key=key, sha256=sha, name=path.name)


def ingest_key(key: str, store: ArtifactStore) -> Asset:
    """A file the user put in the store themselves."""
    if not store.exists(key):
        raise ObjectMissing("not found in the artifact store", key)
    obj = store.stat(key)
    sha = obj.sha256 or media.sha256_file(store.local_path(key))
    return Asset(key=key, sha256=sha, name=key.rsplit("/", 1)[-1])


def ingest(kind: str, value: str, store: ArtifactStore) -> Asset:
    if kind == "store":
        return ingest_key(value, store)
    return ingest_path(value, store)
