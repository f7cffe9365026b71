"""``LocalStore``: the artifact store as a folder on this machine (``store = "local"``).

Objects are plain files under their key; their recorded size, sha256 and content type live in
a hidden folder next to them, ``<root>/.meta/<hh>/<sha256 of the key>.json`` (the JSON names
its key). A folder cannot hold both ``a`` and ``a/b`` (a file cannot be a folder); the
product's layout never needs both. The object and its metadata are replaced one after the
other, so a reader racing two writers of *different* bytes may get ``IntegrityError``
(transient); content-addressed keys never see this.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from heygem_core.config import Settings
from heygem_core.errors import HeygemError, MissingFile, StoreError, os_reason
from heygem_core.media import sha256_file

from .base import (
    META_DIR,
    TMP_PREFIX,
    StoreBase,
    StoredObject,
    content_type_of,
    copy_hashing,
    mismatch,
    temp_sibling,
    unlink_quietly,
    validate_key,
    validate_prefix,
)


class LocalStore(StoreBase):
    """Objects are files under ``root``; their metadata lives under ``root/.meta/``."""

    kind = "local"
    remote = False
    links = False

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().absolute()
        self._meta_root = self.root / META_DIR
        self._identity: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, options=None) -> "LocalStore":
        return cls(settings.artifact_dir)

    @classmethod
    def instance_key(cls, settings: Settings) -> tuple:
        return (str(Path(settings.artifact_dir).expanduser()),)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def describe(self) -> str:
        return f"folder {self.root}"

    def identity(self) -> str:
        """A random id kept in the folder (``.meta/store-id``, made on first use): cache keys
        name the store, not where its folder is, so a moved or re-mounted store keeps its cache.
        The id appears whole or not at all (a hard link of a finished file: the first of several
        processes or threads to publish it wins, the others read it)."""
        if self._identity is None:
            path = self._meta_root / "store-id"
            made = self._read_id(path)
            if made is None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f"{TMP_PREFIX}store-id-{uuid.uuid4().hex}")
                    try:
                        tmp.write_text(uuid.uuid4().hex, encoding="ascii")
                        os.link(tmp, path)
                    except FileExistsError:
                        pass
                    finally:
                        unlink_quietly(tmp)
                except OSError:  # a read-only store: its location is all there is to name it by
                    return f"local: {self.describe()}"
                made = self._read_id(path)
            if made is None:
                return f"local: {self.describe()}"
            self._identity = "local:" + made
        return self._identity

    @staticmethod
    def _read_id(path: Path) -> str | None:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    # -- helpers --------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        # Named by a hash of the key, so that no key can collide with another's metadata
        # (with ``.meta/<key>.json``, keys "a" and "a.json/b" would); the JSON names its key.
        h = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._meta_root / h[:2] / f"{h}.json"

    @contextlib.contextmanager
    def _io(self, action: str, key: str) -> Iterator[None]:
        """Local file-system errors as ``StoreError`` (heygem errors pass through)."""
        try:
            yield
        except HeygemError:
            raise
        except OSError as exc:
            reason = os_reason(exc)
            raise StoreError(f"artifact store {self.describe()}: {action} {key} failed: {reason}") from exc

    def _read_meta(self, key: str) -> dict | None:
        try:
            meta = json.loads(self._meta_path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            return None
        return meta

    def _write_meta(self, key: str, size: int, sha: str, content_type: str) -> None:
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(meta_path)
        body = {
            "key": key,
            "size": size,
            "sha256": sha,
            "content_type": content_type,
            "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            tmp.write_text(json.dumps(body, indent=1))
            os.replace(tmp, meta_path)
        finally:
            unlink_quietly(tmp)

    def _store_stream(self, key: str, src: BinaryIO, content_type: str | None) -> StoredObject:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_sibling(final)
        try:
            with tmp.open("wb") as out:
                size, sha = copy_hashing(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        finally:
            unlink_quietly(tmp)
        self._write_meta(key, size, sha, content_type_of(key, content_type))
        return StoredObject(key, size, sha)

    def _recorded(self, key: str, path: Path) -> StoredObject:
        meta = self._read_meta(key)
        st = path.stat()
        if meta is not None:
            return StoredObject(key, int(meta.get("size", st.st_size)), meta["sha256"], st.st_mtime)
        # A file placed here by hand (or a crash between object and metadata): compute.
        return StoredObject(key, st.st_size, sha256_file(path), st.st_mtime)

    def touch(self, key: str) -> None:
        """Mark the object used now (``heygem gc`` keeps recently used objects)."""
        path = self._path(key)
        with self._io("touch", key):
            try:
                os.utime(path)
            except FileNotFoundError:
                raise self._missing(key) from None

    # -- interface ------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        # One file check: ``stat`` would hash a file that has no metadata.
        return self._path(key).is_file()

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        with self._io("stat", key):
            if not path.is_file():
                raise self._missing(key)
            return self._recorded(key, path)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject:
        self._path(key)
        src = Path(path)
        if not src.is_file():
            raise MissingFile("file not found", src)
        # Always a copy (never a hard link): the source may change after it was stored.
        with self._io("put", key), src.open("rb") as fh:
            return self._store_stream(key, fh, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        self._path(key)
        with self._io("put", key):
            return self._store_stream(key, io.BytesIO(bytes(data)), content_type)

    def _download(self, key: str, out: BinaryIO, expect_sha: str | None = None) -> StoredObject:
        path = self._path(key)
        meta = self._read_meta(key)
        try:
            fh = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(key) from None
        with fh:
            size, sha = copy_hashing(fh, out)
        if meta is not None and meta["sha256"] != sha:
            raise mismatch(self.describe(), key, meta["sha256"], sha)
        if expect_sha and expect_sha != sha:
            raise mismatch(self.describe(), key, expect_sha, sha)
        return StoredObject(key, size, sha)

    def local_path(self, key: str) -> Path:
        """The store's own file (not verified, not a copy): read it, never modify it."""
        path = self._path(key)
        if not path.is_file():
            raise self._missing(key)
        return path

    def url(self, key: str) -> str:
        return self.local_path(key).as_uri()

    def list(self, prefix: str = "") -> list[StoredObject]:
        validate_prefix(prefix)
        base = self.root
        if "/" in prefix:
            base = self.root.joinpath(*prefix.rsplit("/", 1)[0].split("/"))
        found: list[StoredObject] = []
        if not base.is_dir():
            return found
        with self._io("list", prefix or "(all)"):
            for dirpath, dirnames, filenames in os.walk(base):
                here = Path(dirpath)
                if here == self.root:
                    dirnames[:] = [d for d in dirnames if d != META_DIR]
                dirnames[:] = [d for d in dirnames if not d.startswith(TMP_PREFIX)]
                rel_dir = here.relative_to(self.root).as_posix()
                for name in filenames:
                    if name.startswith(TMP_PREFIX):
                        continue
                    key = name if rel_dir == "." else f"{rel_dir}/{name}"
                    if not key.startswith(prefix):
                        continue
                    try:
                        found.append(self._recorded(key, here / name))
                    except (FileNotFoundError, MissingFile):
                        continue  # deleted while listing
        found.sort(key=lambda o: o.key)
        return found

    def _prune(self, start: Path, stop: Path) -> None:
        """Remove now-empty folders from ``start`` up to (not including) ``stop``."""
        here = start
        while here != stop and stop in here.parents:
            try:
                here.rmdir()
            except OSError:
                return
            here = here.parent

    def delete(self, key: str) -> None:
        path = self._path(key)
        meta_path = self._meta_path(key)
        with self._io("delete", key):
            for p in (path, meta_path):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    p.unlink()
            self._prune(path.parent, self.root)

    def copy(self, src: str, dst: str) -> StoredObject:
        final = self._path(dst)
        if not self._path(src).is_file():
            raise self._missing(src)
        if src == dst:
            return self.stat(src)
        meta = self._read_meta(src)
        content_type = (meta or {}).get("content_type") or content_type_of(dst, None)
        with self._io("copy", f"{src} -> {dst}"):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_sibling(final)
            try:
                with tmp.open("wb") as out:
                    obj = self._download(src, out)
                os.replace(tmp, final)
            finally:
                unlink_quietly(tmp)
            self._write_meta(dst, obj.size, obj.sha256, content_type)
        return StoredObject(dst, obj.size, obj.sha256)
