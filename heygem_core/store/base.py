"""The store contract: keys, the ``ArtifactStore`` protocol, and what backends share.

A backend implements a small core natively: ``stat``, ``put_file``/``put_bytes``,
``_download`` (stream one object out, verified), ``list``, ``delete``, ``url``, ``copy``,
``touch``. ``StoreBase`` builds the rest on that core (``exists``, ``get_file``,
``get_bytes``, ``delete_prefix``); ``CachedCopies`` gives a store whose objects live off this
machine its ``local_path``. A backend overrides a shared method only where its own way is
cheaper (the local store's ``exists`` is one file check; S3 deletes a prefix in batches).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mimetypes
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Protocol, TypeVar, runtime_checkable

from heygem_core.cache import used
from heygem_core.errors import InputError, IntegrityError, ObjectMissing

CHUNK = 1 << 20  # streaming block size
MAX_KEY_BYTES = 1024  # S3's limit on object names
MAX_SEGMENT_BYTES = 255  # a file name on common file systems
META_DIR = ".meta"
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    # When the object was last written or used (``touch``), seconds since the epoch; 0 when
    # not known. ``heygem gc`` evicts by it. Not part of an object's identity.
    modified: float = field(default=0.0, compare=False)


@runtime_checkable
class ArtifactStore(Protocol):
    kind: str  # the name it has in ``STORES``: "local" | "s3"
    # Objects live off this machine: ``local_path`` is a downloaded copy, and a key is the
    # only way another machine can name an object (a local store's files have paths).
    remote: bool
    # ``url`` hands out links that a browser anywhere can open (presigned); a local store's
    # are ``file://`` URIs, good on this machine only.
    links: bool

    def describe(self) -> str: ...
    def identity(self) -> str: ...
    def exists(self, key: str) -> bool: ...
    def stat(self, key: str) -> StoredObject: ...
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject: ...
    def get_file(self, key: str, dest: Path) -> Path: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str) -> Path: ...
    def url(self, key: str) -> str: ...
    def list(self, prefix: str = "") -> list[StoredObject]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def copy(self, src: str, dst: str) -> StoredObject: ...
    def touch(self, key: str) -> None: ...


# --------------------------------------------------------------------------------- keys


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid artifact key, else raise ``InputError``."""

    def bad(reason: str) -> InputError:
        return InputError(f"invalid artifact key {key!r}: {reason}")

    if not isinstance(key, str) or not key:
        raise bad("must be a non-empty string")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise bad("control characters are not allowed")
    if "\\" in key:
        raise bad("backslashes are not allowed (use '/')")
    if key.startswith("/"):
        raise bad("must be relative (no leading '/')")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise bad(f"longer than {MAX_KEY_BYTES} bytes")
    parts = key.split("/")
    for part in parts:
        if part == "":
            raise bad("empty path segment")
        if part in (".", ".."):
            raise bad("'.' and '..' segments are not allowed")
        if part.startswith(TMP_PREFIX):
            raise bad(f"segments starting with {TMP_PREFIX!r} are reserved")
        if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise bad(f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    if parts[0] == META_DIR:
        raise bad(f"the top-level {META_DIR!r} folder is reserved")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: ``""``, or a key, or a key followed by one ``/``."""
    if prefix == "":
        return prefix
    if not isinstance(prefix, str):
        raise InputError(f"invalid artifact key prefix {prefix!r}: must be a string")
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def refuse_whole_store(prefix: str) -> None:
    if not prefix:
        raise InputError("refusing to delete the whole artifact store: give a non-empty prefix")


# ------------------------------------------------------------------------------ helpers


def content_type_of(key: str, content_type: str | None) -> str:
    if content_type:
        return content_type
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"


def copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while block := src.read(CHUNK):
        digest.update(block)
        dst.write(block)
        size += len(block)
    return size, digest.hexdigest()


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def temp_sibling(path: Path) -> Path:
    return path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"


def mismatch(where: str, key: str, expected: str, got: str) -> IntegrityError:
    return IntegrityError(
        f"{key}: bytes from {where} do not match the recorded sha256 (recorded {expected[:12]}…, got {got[:12]}…)"
    )


T = TypeVar("T")


def write_into_place(dest: Path, write: Callable[[BinaryIO], T]) -> T:
    """Write ``dest`` through a hidden temp file beside it, renamed into place when complete:
    a reader of ``dest`` never sees a partial file, and a failure leaves nothing behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}{TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        with tmp.open("wb") as out:
            result = write(out)
        os.replace(tmp, dest)
    finally:
        unlink_quietly(tmp)
    return result


# ------------------------------------------------------------------- shared behaviour


class StoreBase:
    """What every backend shares, built on its ``stat``, ``_download``, ``list`` and
    ``delete``."""

    kind: str  # each backend's name in plugins.STORES

    def describe(self) -> str:
        raise NotImplementedError

    def identity(self) -> str:
        """Which store this is, for cache keys: the same store wherever it is mounted or moved
        (never a local path). A backend without a better answer names its ``describe()``."""
        return f"{self.kind}: {self.describe()}"

    def stat(self, key: str) -> StoredObject:
        raise NotImplementedError

    def list(self, prefix: str = "") -> list[StoredObject]:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def _download(self, key: str, out: BinaryIO, expect_sha: str | None = None) -> StoredObject:
        """Stream ``key`` into ``out``; raise ``IntegrityError`` where its bytes differ from the
        recorded sha256 (or ``expect_sha``)."""
        raise NotImplementedError

    def _io(self, action: str, key: str) -> contextlib.AbstractContextManager:
        """Where a backend turns its own file-system faults into ``StoreError``. A remote store
        has none: its faults are translated where its client is called, and a fault writing
        the caller's file stays the caller's ``OSError``."""
        return contextlib.nullcontext()

    def _missing(self, key: str) -> ObjectMissing:
        return ObjectMissing(f"not in the artifact store ({self.describe()})", key)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectMissing:
            return False
        return True

    def get_file(self, key: str, dest: Path) -> Path:
        validate_key(key)
        dest = Path(dest)
        with self._io("get", key):
            write_into_place(dest, lambda out: self._download(key, out))
        return dest

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        buf = io.BytesIO()
        with self._io("get", key):
            self._download(key, buf)
        return buf.getvalue()

    def delete_prefix(self, prefix: str) -> int:
        refuse_whole_store(prefix)
        objects = self.list(prefix)
        for obj in objects:
            self.delete(obj.key)
        return len(objects)


# A suffix kept on a cached copy's name (tools choose readers by it); anything odder is dropped.
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,12}$")


class CachedCopies:
    """``local_path`` for a store whose objects live off this machine: a verified copy in
    ``cache_dir``, named by the object's sha256, so one object is fetched once per machine
    however many keys and runs name it."""

    cache_dir: Path
    # given by the store this is mixed into
    stat: Callable[[str], StoredObject]
    _download: Callable[..., StoredObject]

    def _cache_path(self, key: str, sha: str) -> Path:
        suffix = PurePosixPath(key).suffix
        suffix = suffix.lower() if _SUFFIX_RE.match(suffix) else ""
        return self.cache_dir / sha[:2] / f"{sha}{suffix}"

    def _download_to(self, key: str, dest: Path, expect_sha: str | None = None) -> StoredObject:
        return write_into_place(dest, lambda out: self._download(key, out, expect_sha))

    def local_path(self, key: str) -> Path:
        """A verified local copy in ``cache_dir``, named by the object's sha256 and reused.

        Costs one HEAD request when the copy is already there. The cache is never pruned
        here; it may be emptied at any time.
        """
        obj = self.stat(key)
        if obj.sha256:
            cached = self._cache_path(key, obj.sha256)
            try:
                if cached.stat().st_size == obj.size:
                    used(cached)  # for `heygem gc`, which evicts local copies least recently used first
                    return cached
            except FileNotFoundError:
                pass
            self._download_to(key, cached, expect_sha=obj.sha256)
            return cached
        # Written by another tool (no recorded sha256): download, then name it by its bytes.
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            got = self._download_to(key, tmp)
            cached = self._cache_path(key, got.sha256)
            cached.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, cached)
        finally:
            unlink_quietly(tmp)
        return cached
