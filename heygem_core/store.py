"""The artifact store: one small interface, two real backends.

Everything heygem keeps between steps (ingested inputs, intermediates, finished videos,
zips, manifests and reports) lives in an artifact store under a *key*: a posix-style
relative path such as ``runs/2024-05-01-ab12/out/clip.mp4``. Two backends implement the
same ``ArtifactStore`` protocol:

``LocalStore`` (``store = "local"``, the embedded default)
    A folder (``Settings.artifact_dir``). Objects are plain files under their key; their
    recorded size, sha256 and content type live in a hidden folder next to them,
    ``<root>/.meta/<hh>/<sha256 of the key>.json`` (the JSON names its key).
``S3Store`` (``store = "s3"``)
    A bucket on MinIO or any S3 endpoint (``Settings.s3_*``). The sha256 is recorded in
    the object's user metadata (``x-amz-meta-sha256``). The bucket is created on first use.

Key layout used by the product
------------------------------
``sources/<sha256><ext>``
    Ingested inputs, named by the sha256 of their bytes (uploading the same file twice
    stores it once).
``cache/<stage>/<key>.<ext>``
    Content-addressed intermediates of a pipeline stage (``<key>`` is a hash of the
    stage's inputs and settings), reusable across runs.
``runs/<run-id>/...``
    Everything one run produces: outputs, the zip, the manifest and the report.
    ``delete_prefix("runs/<run-id>/")`` removes a run (note the trailing slash: prefixes are
    plain string prefixes, as in S3).

Guarantees
----------
* Keys are checked by ``validate_key`` on every call: relative posix paths only; no ``.`` or
  ``..`` segments, no empty segments, no backslashes, no control characters. The top-level
  ``.meta`` folder and segments starting with ``.tmp-`` are reserved (by both backends, so
  the contract is the same everywhere). The local store cannot hold both ``a`` and ``a/b``
  (a file cannot be a folder); S3 can. The product's layout never needs both.
* Uploads are atomic: a reader sees either the previous object or the complete new one,
  never a partial file under a final key (local: temp file + ``os.replace``; S3: a PUT or a
  completed multipart upload is atomic by S3 semantics).
* Downloads (``get_file``, ``get_bytes``, ``S3Store.local_path``) are verified against the
  recorded sha256; a mismatch raises ``IntegrityError`` (transient: the flows retry).
  ``get_file`` writes to a temp file next to ``dest`` and renames it into place.
  Objects written by other tools (no recorded sha256) are returned unverified; ``stat`` of
  such an object reports the computed sha256 (local) or ``""`` (s3).
* Concurrent writers of one key: the last one wins. In the local store the object and its
  metadata are replaced one after the other, so a reader racing two writers of *different*
  bytes may get ``IntegrityError`` (transient); content-addressed keys never see this.
* Errors: an unreachable store or a 5xx answer raises ``StoreUnavailable`` (transient), a
  missing key ``ObjectMissing`` (``"<key>: ..."``), anything else ``StoreError``. The S3
  client fails fast (5 s connect timeout, 2 internal retries) so that the retrying with
  backoff happens in the Prefect task layer. No message, ``repr`` or ``describe()`` ever
  contains credentials.

Adding a backend is one class with a ``from_settings(settings)`` classmethod plus one line in
``STORES``.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mimetypes
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Protocol, runtime_checkable

from heygem_core.cache import used
from heygem_core.config import Settings
from heygem_core.errors import (
    HeygemError,
    InputError,
    IntegrityError,
    MissingFile,
    ObjectMissing,
    StoreError,
    StoreUnavailable,
)
from heygem_core.media import sha256_file

__all__ = [
    "ArtifactStore",
    "LocalStore",
    "S3Store",
    "STORES",
    "StoredObject",
    "open_store",
    "validate_key",
    "validate_prefix",
]

CHUNK = 1 << 20  # streaming block size
PART_SIZE = 16 << 20  # S3 multipart part size
MAX_KEY_BYTES = 1024  # S3's limit on object names
MAX_SEGMENT_BYTES = 255  # a file name on common file systems
META_DIR = ".meta"
TMP_PREFIX = ".tmp-"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_LINK_EXPIRY_HOURS = 7 * 24  # S3 presigned URLs (SigV4) are valid for at most 7 days


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
    kind: str  # "local" | "s3"

    def describe(self) -> str: ...
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


def _content_type(key: str, content_type: str | None) -> str:
    if content_type:
        return content_type
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"


def _copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while block := src.read(CHUNK):
        digest.update(block)
        dst.write(block)
        size += len(block)
    return size, digest.hexdigest()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _temp_sibling(path: Path) -> Path:
    return path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"


def _mismatch(where: str, key: str, expected: str, got: str) -> IntegrityError:
    return IntegrityError(
        f"{key}: bytes from {where} do not match the recorded sha256 "
        f"(recorded {expected[:12]}…, got {got[:12]}…)"
    )


# --------------------------------------------------------------------------- local store


class LocalStore:
    """Objects are files under ``root``; their metadata lives under ``root/.meta/``."""

    kind = "local"

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().absolute()
        self._meta_root = self.root / META_DIR

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalStore":
        return cls(settings.artifact_dir)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def describe(self) -> str:
        return f"folder {self.root}"

    # -- helpers --------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        # Named by a hash of the key, so that no key can collide with another's metadata
        # (with ``.meta/<key>.json``, keys "a" and "a.json/b" would); the JSON names its key.
        h = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._meta_root / h[:2] / f"{h}.json"

    def _missing(self, key: str) -> ObjectMissing:
        return ObjectMissing(f"not in the artifact store ({self.describe()})", key)

    @contextlib.contextmanager
    def _io(self, action: str, key: str) -> Iterator[None]:
        """Local file-system errors as ``StoreError`` (heygem errors pass through)."""
        try:
            yield
        except HeygemError:
            raise
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
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
        tmp = _temp_sibling(meta_path)
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
            _unlink_quietly(tmp)

    def _store_stream(self, key: str, src: BinaryIO, content_type: str | None) -> StoredObject:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(final)
        try:
            with tmp.open("wb") as out:
                size, sha = _copy_hashing(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        finally:
            _unlink_quietly(tmp)
        self._write_meta(key, size, sha, _content_type(key, content_type))
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

    def _verified_copy(self, key: str, out: BinaryIO) -> StoredObject:
        path = self._path(key)
        meta = self._read_meta(key)
        try:
            fh = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(key) from None
        with fh:
            size, sha = _copy_hashing(fh, out)
        if meta is not None and meta["sha256"] != sha:
            raise _mismatch(self.describe(), key, meta["sha256"], sha)
        return StoredObject(key, size, sha)

    def get_file(self, key: str, dest: Path) -> Path:
        self._path(key)
        dest = Path(dest)
        with self._io("get", key):
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.parent / f".{dest.name}{TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                with tmp.open("wb") as out:
                    self._verified_copy(key, out)
                os.replace(tmp, dest)
            finally:
                _unlink_quietly(tmp)
        return dest

    def get_bytes(self, key: str) -> bytes:
        buf = io.BytesIO()
        with self._io("get", key):
            self._verified_copy(key, buf)
        return buf.getvalue()

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

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise InputError("refusing to delete the whole artifact store: give a non-empty prefix")
        objects = self.list(prefix)
        for obj in objects:
            self.delete(obj.key)
        return len(objects)

    def copy(self, src: str, dst: str) -> StoredObject:
        final = self._path(dst)
        if not self._path(src).is_file():
            raise self._missing(src)
        if src == dst:
            return self.stat(src)
        meta = self._read_meta(src)
        content_type = (meta or {}).get("content_type") or _content_type(dst, None)
        with self._io("copy", f"{src} -> {dst}"):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_sibling(final)
            try:
                with tmp.open("wb") as out:
                    obj = self._verified_copy(src, out)
                os.replace(tmp, final)
            finally:
                _unlink_quietly(tmp)
            self._write_meta(dst, obj.size, obj.sha256, content_type)
        return StoredObject(dst, obj.size, obj.sha256)


# ------------------------------------------------------------------------------ S3 store

# S3 error codes that mean "try again later" even when the status is not 5xx.
_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeTooSkewed"}
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,12}$")


def _short_reason(exc: BaseException) -> str:
    """A few words on why a connection failed, without URLs, objects or headers."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    timeout = False
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
        if isinstance(e, (TimeoutError, socket.timeout)) or "Timeout" in type(e).__name__:
            timeout = True
        if isinstance(e, socket.gaierror):
            return "host name not found"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.lower()
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    if timeout:
        return "timed out"
    text = str(exc)
    many = re.search(r"too many (\d{3}) error responses", text)
    if many:
        return f"HTTP {many.group(1)} (server error)"
    if "Connection refused" in text:
        return "connection refused"
    if "aborted" in text.lower() or "RemoteDisconnected" in text or "IncompleteRead" in text:
        return "connection lost"
    return type(exc).__name__


class S3Store:
    """A bucket on MinIO or another S3 endpoint, via the ``minio`` client."""

    kind = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str = "",
        secret_key: str = "",
        *,
        secure: bool = False,
        region: str = "",
        cache_dir: Path | None = None,
        link_expiry_hours: int = 72,
    ):
        import certifi
        import urllib3
        from minio import Minio
        from minio.helpers import check_bucket_name

        endpoint = (endpoint or "").strip()
        if not endpoint:
            raise InputError(
                "the s3 artifact store needs an endpoint: set HEYGEM_S3_ENDPOINT "
                "(or MINIO_ENDPOINT) to host:port"
            )
        low = endpoint.lower()
        if low.startswith("https://"):
            endpoint, secure = endpoint[8:], True
        elif low.startswith("http://"):
            endpoint = endpoint[7:]
        endpoint = endpoint.rstrip("/")
        if not endpoint or "/" in endpoint:
            raise InputError(f"HEYGEM_S3_ENDPOINT: s3 endpoint must be host:port, got {endpoint!r}")
        try:
            check_bucket_name(bucket, strict=True)
        except ValueError as exc:
            raise InputError(
                f"HEYGEM_S3_BUCKET: invalid s3 bucket name {bucket!r}: use 3-63 lowercase letters, digits, '.' and '-'"
            ) from None
        if not 1 <= int(link_expiry_hours) <= MAX_LINK_EXPIRY_HOURS:
            raise InputError(
                f"HEYGEM_LINK_EXPIRY_HOURS: link_expiry_hours must be between 1 and {MAX_LINK_EXPIRY_HOURS} "
                f"(S3 links last at most 7 days), got {link_expiry_hours}"
            )

        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = bool(secure)
        self.region = region or None
        self.link_expiry = timedelta(hours=int(link_expiry_hours))
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else Path.home() / ".cache" / "heygem" / "store-objects"
        # Remembered only to scrub them from messages, should a server echo them back.
        self._secrets = tuple(s for s in (access_key, secret_key) if s and len(s) >= 4)

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=2,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
            ),
        )
        try:
            self._client = Minio(
                endpoint,
                access_key=access_key or None,
                secret_key=secret_key or None,
                secure=self.secure,
                region=self.region,
                http_client=http,
            )
        except ValueError as exc:
            raise InputError(f"invalid s3 endpoint {endpoint!r}: {exc}") from None
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Store":
        return cls(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_access_key,
            settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            cache_dir=Path(settings.cache_dir) / "store-objects",
            link_expiry_hours=settings.link_expiry_hours,
        )

    def __repr__(self) -> str:
        return f"S3Store(endpoint={self.endpoint!r}, bucket={self.bucket!r}, secure={self.secure})"

    def describe(self) -> str:
        return f"s3 bucket '{self.bucket}' at {self.endpoint}"

    # -- the one place where client errors are translated ---------------------------------

    def _scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    @contextlib.contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        import urllib3
        from minio.error import InvalidResponseError, S3Error, ServerError

        where = self.describe()

        def unavailable(reason: str) -> StoreUnavailable:
            return StoreUnavailable(self._scrub(f"artifact store {where} unreachable: {reason}"))

        try:
            yield
        except HeygemError:
            raise
        except S3Error as exc:
            status = getattr(getattr(exc, "response", None), "status", 0) or 0
            code = exc.code or f"HTTP {status}"
            if code in ("NoSuchKey", "NoSuchObject") and key is not None:
                raise ObjectMissing(f"not in the artifact store ({where})", key) from None
            if status >= 500 or code in _TRANSIENT_CODES:
                raise unavailable(f"{code} (HTTP {status})") from exc
            target = f" {key}" if key else ""
            raise StoreError(self._scrub(f"artifact store {where}: {action}{target} refused: {code}")) from exc
        except ServerError as exc:
            if exc.status_code >= 500:
                raise unavailable(f"HTTP {exc.status_code}") from exc
            raise StoreError(f"artifact store {where}: {action} failed: HTTP {exc.status_code}") from exc
        except InvalidResponseError as exc:
            code = getattr(exc, "_code", 0) or 0
            if code >= 500:
                raise unavailable(f"HTTP {code}") from exc
            raise StoreError(f"artifact store {where}: {action} failed: unexpected answer (HTTP {code})") from exc
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, socket.timeout) as exc:
            raise unavailable(_short_reason(exc)) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from minio.error import S3Error

        with self._bucket_lock:
            if self._bucket_ready:
                return
            with self._errors("open bucket"):
                if not self._client.bucket_exists(self.bucket):
                    try:
                        self._client.make_bucket(self.bucket, location=self.region)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
            self._bucket_ready = True

    @contextlib.contextmanager
    def _op(self, action: str, key: str | None = None) -> Iterator[None]:
        self._ensure_bucket()
        with self._errors(action, key):
            yield

    def _missing(self, key: str) -> ObjectMissing:
        return ObjectMissing(f"not in the artifact store ({self.describe()})", key)

    @staticmethod
    def _recorded_sha(headers) -> str:
        if headers is None:
            return ""
        value = headers.get("x-amz-meta-sha256") or headers.get("X-Amz-Meta-Sha256") or ""
        return value.strip().lower()

    # -- interface ------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectMissing:
            return False
        return True

    def stat(self, key: str) -> StoredObject:
        validate_key(key)
        with self._op("stat", key):
            info = self._client.stat_object(self.bucket, key)
        modified = info.last_modified.timestamp() if info.last_modified else 0.0
        return StoredObject(key, int(info.size or 0), self._recorded_sha(info.metadata), modified)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject:
        validate_key(key)
        src = Path(path)
        sha = sha256_file(src)  # MissingFile if absent
        size = src.stat().st_size
        with self._op("put", key):
            self._client.fput_object(
                self.bucket,
                key,
                str(src),
                content_type=_content_type(key, content_type),
                metadata={"sha256": sha},
                part_size=PART_SIZE,
            )
        return StoredObject(key, size, sha)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        validate_key(key)
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        with self._op("put", key):
            self._client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=_content_type(key, content_type),
                metadata={"sha256": sha},
                part_size=PART_SIZE,
            )
        return StoredObject(key, len(data), sha)

    def _download(self, key: str, out: BinaryIO, expect_sha: str | None = None) -> StoredObject:
        """Stream ``key`` into ``out``; verify against the recorded sha256 (and ``expect_sha``)."""
        with self._op("get", key):
            response = self._client.get_object(self.bucket, key)
            try:
                recorded = self._recorded_sha(response.headers)
                digest = hashlib.sha256()
                size = 0
                for block in response.stream(CHUNK):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
            finally:
                response.close()
                response.release_conn()
        sha = digest.hexdigest()
        if recorded and recorded != sha:
            raise _mismatch(self.describe(), key, recorded, sha)
        if expect_sha and expect_sha != sha:
            raise _mismatch(self.describe(), key, expect_sha, sha)
        return StoredObject(key, size, sha)

    def _download_to(self, key: str, dest: Path, expect_sha: str | None = None) -> StoredObject:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            with tmp.open("wb") as out:
                obj = self._download(key, out, expect_sha)
            os.replace(tmp, dest)
        finally:
            _unlink_quietly(tmp)
        return obj

    def get_file(self, key: str, dest: Path) -> Path:
        validate_key(key)
        dest = Path(dest)
        self._download_to(key, dest)
        return dest

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        buf = io.BytesIO()
        self._download(key, buf)
        return buf.getvalue()

    def _cache_path(self, key: str, sha: str) -> Path:
        suffix = PurePosixPath(key).suffix
        suffix = suffix.lower() if _SUFFIX_RE.match(suffix) else ""
        return self.cache_dir / sha[:2] / f"{sha}{suffix}"

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
            _unlink_quietly(tmp)
        return cached

    def url(self, key: str) -> str:
        """A presigned GET link valid for ``link_expiry_hours`` (checks the object exists)."""
        self.stat(key)
        with self._op("presign", key):
            return self._client.presigned_get_object(self.bucket, key, expires=self.link_expiry)

    def list(self, prefix: str = "") -> list[StoredObject]:
        validate_prefix(prefix)
        found: list[StoredObject] = []
        with self._op("list", prefix or "(all)"):
            items = [
                o for o in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
                if not o.is_dir
            ]
        for item in items:
            sha = self._recorded_sha(item.metadata) if item.metadata else ""
            if sha:
                modified = item.last_modified.timestamp() if item.last_modified else 0.0
                found.append(StoredObject(item.object_name, int(item.size or 0), sha, modified))
                continue
            # Listings carry no user metadata (except on MinIO with its extension): ask.
            try:
                found.append(self.stat(item.object_name))
            except ObjectMissing:
                continue  # deleted while listing
        found.sort(key=lambda o: o.key)
        return found

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._op("delete", key):
            self._client.remove_object(self.bucket, key)  # S3 deletes are idempotent

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        if not prefix:
            raise InputError("refusing to delete the whole artifact store: give a non-empty prefix")
        validate_prefix(prefix)
        with self._op("list", prefix):
            keys = [
                o.object_name
                for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if not o.is_dir
            ]
        if not keys:
            return 0
        with self._op("delete", prefix):
            errors = list(self._client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        failed = [e for e in errors if getattr(e, "code", "") != "NoSuchKey"]
        if failed:
            first = failed[0]
            raise StoreError(
                f"artifact store {self.describe()}: deleting {len(failed)} of {len(keys)} objects under "
                f"{prefix} failed (first: {getattr(first, 'name', '?')}: {getattr(first, 'code', '?')})"
            )
        return len(keys)

    def copy(self, src: str, dst: str) -> StoredObject:
        """Server-side copy; user metadata (the sha256) travels with the object."""
        from minio.commonconfig import CopySource

        validate_key(src)
        validate_key(dst)
        obj = self.stat(src)  # ObjectMissing names ``src``, not ``dst``
        if src == dst:
            return obj
        with self._op("copy", dst):
            self._client.copy_object(self.bucket, dst, CopySource(self.bucket, src))
        return StoredObject(dst, obj.size, obj.sha256)

    def touch(self, key: str) -> None:
        """Mark the object used now: S3 has no access time, so the object is copied onto
        itself (server-side, no bytes travel), which renews its Last-Modified."""
        from minio.commonconfig import REPLACE, CopySource

        validate_key(key)
        with self._op("stat", key):
            info = self._client.stat_object(self.bucket, key)
        sha = self._recorded_sha(info.metadata)
        # REPLACE drops what is not given again: the sha256 and the content type.
        metadata = {"Content-Type": info.content_type or "application/octet-stream"}
        if sha:
            metadata["sha256"] = sha
        with self._op("touch", key):
            self._client.copy_object(self.bucket, key, CopySource(self.bucket, key), metadata=metadata,
                                     metadata_directive=REPLACE)


# ------------------------------------------------------------------------------ registry

STORES: dict[str, Callable[[Settings], ArtifactStore]] = {
    "local": LocalStore.from_settings,
    "s3": S3Store.from_settings,
}


def open_store(settings: Settings) -> ArtifactStore:
    """The artifact store ``settings.store`` names (``InputError`` if unknown)."""
    kind = (settings.store or "").strip().lower()
    factory = STORES.get(kind)
    if factory is None:
        raise InputError(
            f"unknown artifact store {settings.store!r}: choose one of {', '.join(sorted(STORES))}"
        )
    return factory(settings)
