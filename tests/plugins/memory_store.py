"""An artifact store kept in this process's memory, added as any new store is: this one file
and one line in ``heygem_core.plugins.STORES`` (here the tests add that line). Its objects
live "off this machine" as far as heygem can tell (``remote``): every reader goes through
``local_path``'s verified copies, as with S3. Its own setting, ``HEYGEM_MEMORY_LABEL``, is
declared in its ``Options`` and read as any store's is.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from heygem_core.config import setting
from heygem_core.errors import MissingFile
from heygem_core.plugins import STORES
from heygem_core.store.base import CachedCopies, StoreBase, StoredObject, validate_key, validate_prefix


@dataclass(frozen=True)
class MemoryOptions:
    label: str = setting("memory", section="store", doc="what the store calls itself")


class MemoryStore(CachedCopies, StoreBase):
    kind = "memory"
    remote = True
    links = False
    Options = MemoryOptions

    def __init__(self, cache_dir: Path, label: str = "memory"):
        self.cache_dir = Path(cache_dir)
        self.label = label
        self.objects: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, options=None) -> "MemoryStore":
        opts = options or STORES.options(cls.kind, settings.store_options)
        return cls(Path(settings.cache_dir) / "memory-copies", opts.label)

    @classmethod
    def instance_key(cls, settings) -> tuple:
        # one memory per cache folder, label and process
        return (str(settings.cache_dir), STORES.options(cls.kind, settings.store_options))

    def describe(self) -> str:
        return f"{self.label} of process {os.getpid()}"

    def stat(self, key: str) -> StoredObject:
        validate_key(key)
        with self._lock:
            if key not in self.objects:
                raise self._missing(key)
            data, modified = self.objects[key]
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest(), modified)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        validate_key(key)
        data = bytes(data)
        with self._lock:
            self.objects[key] = (data, time.time())
        return StoredObject(key, len(data), hashlib.sha256(data).hexdigest())

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject:
        if not Path(path).is_file():
            raise MissingFile("file not found", Path(path))
        return self.put_bytes(key, Path(path).read_bytes(), content_type)

    def _download(self, key: str, out: BinaryIO, expect_sha: str | None = None) -> StoredObject:
        obj = self.stat(key)
        with self._lock:
            out.write(self.objects[key][0])
        return obj

    def list(self, prefix: str = "") -> list[StoredObject]:
        validate_prefix(prefix)
        with self._lock:
            keys = sorted(k for k in self.objects if k.startswith(prefix))
        return [self.stat(k) for k in keys]

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self.objects.pop(key, None)

    def url(self, key: str) -> str:
        self.stat(key)
        return f"memory://{os.getpid()}/{key}"

    def copy(self, src: str, dst: str) -> StoredObject:
        validate_key(dst)
        data = self.get_bytes(src)
        return self.put_bytes(dst, data)

    def touch(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            if key not in self.objects:
                raise self._missing(key)
            self.objects[key] = (self.objects[key][0], time.time())
