"""``S3Store``: the artifact store as a bucket on MinIO or any S3 endpoint (``store = "s3"``),
through the ``minio`` SDK.

The sha256 is recorded in the object's user metadata (``x-amz-meta-sha256``). The bucket is
created on first use. Uploads are atomic by S3 semantics (a PUT or a completed multipart
upload). The client fails fast (5 s connect timeout, 2 internal retries) so that the retrying
with backoff happens in the Prefect task layer; ``_errors`` is the one place its faults are
translated, and no message, ``repr`` or ``describe()`` ever contains credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Iterator

from heygem_core.config import Settings, setting
from heygem_core.plugins import STORES
from heygem_core.errors import (
    HeygemError,
    InputError,
    ObjectMissing,
    StoreError,
    StoreUnavailable,
    os_reason,
)
from heygem_core.media import sha256_file

from .base import (
    CHUNK,
    CachedCopies,
    StoreBase,
    StoredObject,
    content_type_of,
    mismatch,
    refuse_whole_store,
    validate_key,
    validate_prefix,
)

PART_SIZE = 16 << 20  # S3 multipart part size
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_LINK_EXPIRY_HOURS = 7 * 24  # S3 presigned URLs (SigV4) are valid for at most 7 days

# S3 error codes that mean "try again later" even when the status is not 5xx.
_TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeTooSkewed"}


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
            return os_reason(e)
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


@dataclass(frozen=True)
class S3Options:
    """The s3 store's own settings: ``HEYGEM_S3_<FIELD>``, or the ``MINIO_<FIELD>`` names
    MinIO's own tools use (config._ALIASES)."""

    endpoint: str = setting(
        "",
        section="store",
        allowed="`host:port`",
        doc="S3/MinIO endpoint, without a scheme; a MINIO_* name is the same setting, and "
        "the HEYGEM_S3_* one wins where both are set",
    )
    bucket: str = setting("heygem", section="store", doc="bucket")
    access_key: str = setting("", section="store", secret=True, doc="access key")
    secret_key: str = setting("", section="store", secret=True, doc="secret key")
    secure: bool = setting(False, section="store", doc="HTTPS to the endpoint")
    region: str = setting("", section="store", doc="region, where the endpoint wants one")


def s3_options(settings: Settings) -> S3Options:
    """The s3 store's settings, as read from ``settings.store_options``."""
    return STORES.options(S3Store.kind, settings.store_options)


class S3Store(CachedCopies, StoreBase):
    """A bucket on MinIO or another S3 endpoint, via the ``minio`` client."""

    kind = "s3"
    remote = True
    links = True
    Options = S3Options

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

        try:
            import urllib3
            from minio import Minio
            from minio.helpers import check_bucket_name
        except ImportError:
            raise InputError(
                "HEYGEM_STORE=s3 needs the minio package, which this install lacks: pip install 'heygem[s3]'"
            ) from None

        endpoint = (endpoint or "").strip()
        if not endpoint:
            raise InputError(
                "the s3 artifact store needs an endpoint: set HEYGEM_S3_ENDPOINT (or MINIO_ENDPOINT) to host:port"
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
        except ValueError:
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
        self.cache_dir = (
            Path(cache_dir).expanduser() if cache_dir else Path.home() / ".cache" / "heygem" / "store-objects"
        )
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
    def instance_key(cls, settings: Settings) -> tuple:
        # every setting from_settings reads (the secret too: a client per credentials)
        return (s3_options(settings), str(settings.cache_dir), settings.link_expiry_hours)

    @classmethod
    def check_settings(cls, settings: Settings) -> None:
        """The endpoint, bucket name and link lifetime are well formed (connects to nothing)."""
        cls.from_settings(settings)

    @classmethod
    def from_settings(cls, settings: Settings, options: S3Options | None = None) -> "S3Store":
        opts = options or s3_options(settings)
        return cls(
            opts.endpoint,
            opts.bucket,
            opts.access_key,
            opts.secret_key,
            secure=opts.secure,
            region=opts.region,
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
            http = int(getattr(exc, "_code", 0) or 0)
            if http >= 500:
                raise unavailable(f"HTTP {http}") from exc
            raise StoreError(f"artifact store {where}: {action} failed: unexpected answer (HTTP {http})") from exc
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

    @staticmethod
    def _recorded_sha(headers) -> str:
        if headers is None:
            return ""
        value = headers.get("x-amz-meta-sha256") or headers.get("X-Amz-Meta-Sha256") or ""
        return value.strip().lower()

    # -- interface ------------------------------------------------------------------------

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
                content_type=content_type_of(key, content_type),
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
                content_type=content_type_of(key, content_type),
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
            raise mismatch(self.describe(), key, recorded, sha)
        if expect_sha and expect_sha != sha:
            raise mismatch(self.describe(), key, expect_sha, sha)
        return StoredObject(key, size, sha)

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
                o for o in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True) if not o.is_dir
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

        refuse_whole_store(prefix)
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
        metadata: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": info.content_type or "application/octet-stream"
        }
        if sha:
            metadata["sha256"] = sha
        with self._op("touch", key):
            self._client.copy_object(
                self.bucket, key, CopySource(self.bucket, key), metadata=metadata, metadata_directive=REPLACE
            )
