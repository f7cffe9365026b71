"""The artifact store: one small interface, two real backends.

Everything heygem keeps between steps (ingested inputs, intermediates, finished videos,
zips, manifests and reports) lives in an artifact store under a *key*: a posix-style
relative path such as ``runs/2024-05-01-ab12/out/clip.mp4``. Two backends implement the
same ``ArtifactStore`` protocol (``base.py``):

``LocalStore`` (``store = "local"``, the embedded default; ``local.py``)
    A folder (``Settings.artifact_dir``). Objects are plain files under their key; their
    recorded size, sha256 and content type live in a hidden folder next to them,
    ``<root>/.meta/<hh>/<sha256 of the key>.json`` (the JSON names its key).
``S3Store`` (``store = "s3"``; ``s3.py``)
    A bucket on MinIO or any S3 endpoint (its own settings, ``S3Options``:
    ``HEYGEM_S3_<FIELD>`` or ``MINIO_<FIELD>``). The sha256 is recorded in
    the object's user metadata (``x-amz-meta-sha256``). The bucket is created on first use.

Callers that must act differently by backend ask its capabilities, never its ``kind``:
``remote`` (objects live off this machine; ``local_path`` is a downloaded copy) and ``links``
(``url`` gives links a browser anywhere can open).

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

Adding a backend is one class (on ``base.StoreBase``) with ``kind``, ``remote``, ``links``, a
``from_settings(settings, options)`` and an ``instance_key(settings)`` classmethod, plus one
line in ``heygem_core.plugins.STORES`` (or an entry point in ``heygem.stores``).
"""

from __future__ import annotations

from heygem_core.config import Settings
from heygem_core.plugins import STORES

from .base import ArtifactStore, StoredObject, validate_key, validate_prefix
from .local import LocalStore
from .s3 import S3Store

__all__ = [
    "ArtifactStore",
    "LocalStore",
    "S3Store",
    "STORES",
    "StoredObject",
    "open_store",
    "shared_store",
    "validate_key",
    "validate_prefix",
]


def open_store(settings: Settings) -> ArtifactStore:
    """A new client of the artifact store ``settings.store`` names (``UnknownPlugin`` if unknown)."""
    return STORES.create(_kind(settings), settings)


def shared_store(settings: Settings) -> ArtifactStore:
    """The artifact store ``settings.store`` names, one client per configuration and process
    (clients hold connection pools); the store's ``instance_key`` says what a configuration is."""
    return STORES.build(_kind(settings), settings)


def _kind(settings: Settings) -> str:
    return (settings.store or "").strip().lower()  # the registry says when it names no store
