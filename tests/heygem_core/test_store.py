"""The artifact store contract, run against both backends.

The S3 backend talks to a real moto server over the S3 wire protocol (``tests/s3server.py``),
behind a TCP proxy that the outage tests cut off; nothing is mocked. Media is the real
recording in the shared fixtures folder, read in place.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from heygem_core.config import Settings
from heygem_core.errors import (
    InputError,
    IntegrityError,
    MissingFile,
    ObjectMissing,
    StoreError,
    StoreUnavailable,
)
from heygem_core.media import sha256_file
from heygem_core.store import (
    STORES,
    ArtifactStore,
    LocalStore,
    S3Store,
    StoredObject,
    open_store,
    validate_key,
    validate_prefix,
)
from heygem_core.store.s3 import s3_options
from tests.heygem_core.conftest import s3_store_options
from tests.paths import VIDEOS

KATIE = VIDEOS["katie_8s"]
SECRETS = ("testing-secret",)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def katie() -> Path:
    if not KATIE.is_file():
        pytest.skip(f"test media not found: {KATIE}")
    return KATIE


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".tmp-" in p.name]


def tamper(store, settings: Settings, key: str, data: bytes) -> None:
    """Replace the bytes under ``key`` behind the store's back (its recorded sha256 stays)."""
    if isinstance(store, LocalStore):
        (store.root / key).write_bytes(data)
    else:
        client = store_raw_client(settings)
        recorded = store.stat(key).sha256
        client.put_object(s3_options(settings).bucket, key, io.BytesIO(data), len(data), metadata={"sha256": recorded})


def store_raw_client(settings: Settings):
    from minio import Minio

    # Through the proxy like the store; the proxy is up whenever this is called.
    opts = s3_options(settings)
    return Minio(
        opts.endpoint, access_key=opts.access_key, secret_key=opts.secret_key, secure=False, region=opts.region
    )


# ------------------------------------------------------------------------- round trips


def test_open_store_gives_the_configured_backend(store, store_settings):
    assert isinstance(store, ArtifactStore)
    assert store.kind == store_settings.store
    assert isinstance(store, {"local": LocalStore, "s3": S3Store}[store.kind])


def test_capabilities_say_what_the_store_does(store, store_settings):
    # Callers branch on these, never on ``kind``: each flag must match what the store does.
    store.put_bytes("runs/r1/pic.png", b"not really a picture")
    here = store.local_path("runs/r1/pic.png")
    assert store.remote == (store_settings.artifact_dir not in here.parents)
    assert store.links == store.url("runs/r1/pic.png").startswith(("http://", "https://"))
    assert {"local": (False, False), "s3": (True, True)}[store.kind] == (store.remote, store.links)


def test_bytes_round_trip(store, tmp_path):
    data = b"\x00heygem\xff" * 1000
    obj = store.put_bytes("runs/r1/notes.bin", data)
    assert obj == StoredObject("runs/r1/notes.bin", len(data), sha(data))
    assert store.stat("runs/r1/notes.bin") == obj
    assert store.exists("runs/r1/notes.bin")
    assert store.get_bytes("runs/r1/notes.bin") == data
    dest = store.get_file("runs/r1/notes.bin", tmp_path / "out" / "deep" / "notes.bin")
    assert dest == tmp_path / "out" / "deep" / "notes.bin"
    assert dest.read_bytes() == data
    assert no_temp_files(tmp_path / "out")


def test_empty_object(store):
    obj = store.put_bytes("runs/r1/empty.txt", b"")
    assert obj.size == 0 and obj.sha256 == sha(b"")
    assert store.get_bytes("runs/r1/empty.txt") == b""


def test_media_file_round_trip(store, katie, tmp_path):
    digest = sha256_file(katie)
    key = f"sources/{digest}.mp4"
    obj = store.put_file(key, katie, content_type="video/mp4")
    assert obj == StoredObject(key, katie.stat().st_size, digest)
    assert store.stat(key) == obj
    out = store.get_file(key, tmp_path / "katie.mp4")
    assert sha256_file(out) == digest
    assert no_temp_files(tmp_path)


def test_put_file_copies_the_source(store, tmp_path):
    src = tmp_path / "src.txt"
    src.write_bytes(b"first")
    store.put_file("cache/stage/a.txt", src)
    src.write_bytes(b"changed later")  # the stored object must not follow its source
    assert store.get_bytes("cache/stage/a.txt") == b"first"


def test_put_file_of_a_missing_source_is_an_input_error(store, tmp_path):
    with pytest.raises(MissingFile):
        store.put_file("a/b.txt", tmp_path / "nope.txt")
    assert not store.exists("a/b.txt")


def test_overwrite_replaces_object_and_checksum(store):
    store.put_bytes("runs/r1/report.json", b"old")
    obj = store.put_bytes("runs/r1/report.json", b"new and longer")
    assert store.stat("runs/r1/report.json") == obj
    assert store.get_bytes("runs/r1/report.json") == b"new and longer"


# ------------------------------------------------------------- listing, deleting, copying


def test_exists_list_delete(store):
    keys = ["runs/r1/a.mp4", "runs/r1/sub/b.mp4", "runs/r10/c.mp4", "runs/r2/d.mp4", "sources/x.wav"]
    for k in reversed(keys):
        store.put_bytes(k, k.encode())
    everything = store.list()
    assert [o.key for o in everything] == sorted(keys)
    assert all(o.sha256 == sha(o.key.encode()) and o.size == len(o.key) for o in everything)
    assert [o.key for o in store.list("runs/r1/")] == ["runs/r1/a.mp4", "runs/r1/sub/b.mp4"]
    # Prefixes are plain string prefixes, as in S3.
    assert [o.key for o in store.list("runs/r1")] == ["runs/r1/a.mp4", "runs/r1/sub/b.mp4", "runs/r10/c.mp4"]
    assert store.list("nothing/here/") == []

    assert not store.exists("runs/r1")  # a "folder" is not an object
    store.delete("runs/r2/d.mp4")
    assert not store.exists("runs/r2/d.mp4")
    store.delete("runs/r2/d.mp4")  # absent: not an error
    store.delete("never/was.txt")
    assert [o.key for o in store.list("runs/r2/")] == []


def test_delete_prefix(store):
    for k in ["runs/r1/a", "runs/r1/b/c", "runs/r10/d", "sources/e"]:
        store.put_bytes(k, b"x")
    assert store.delete_prefix("runs/r1/") == 2
    assert [o.key for o in store.list()] == ["runs/r10/d", "sources/e"]
    assert store.delete_prefix("runs/r1/") == 0
    with pytest.raises(InputError):
        store.delete_prefix("")
    with pytest.raises(InputError):
        store.delete_prefix("../")
    assert len(store.list()) == 2


def test_copy(store):
    src = store.put_bytes("cache/enc/abc.mp4", b"video bytes")
    dst = store.copy("cache/enc/abc.mp4", "runs/r1/out/clip.mp4")
    assert dst == StoredObject("runs/r1/out/clip.mp4", src.size, src.sha256)
    assert store.stat("runs/r1/out/clip.mp4") == dst
    assert store.get_bytes("runs/r1/out/clip.mp4") == b"video bytes"
    assert store.exists("cache/enc/abc.mp4")
    # over an existing object, and onto itself
    store.put_bytes("runs/r1/other.mp4", b"other")
    store.copy("runs/r1/other.mp4", "runs/r1/out/clip.mp4")
    assert store.get_bytes("runs/r1/out/clip.mp4") == b"other"
    assert store.copy("runs/r1/other.mp4", "runs/r1/other.mp4").sha256 == sha(b"other")


# --------------------------------------------------------------------- local_path, url


def test_local_path_is_a_readable_copy_and_reused(store, store_settings, katie):
    digest = sha256_file(katie)
    store.put_file("sources/k.mp4", katie)
    first = store.local_path("sources/k.mp4")
    assert first.is_file() and sha256_file(first) == digest
    before = first.stat()
    second = store.local_path("sources/k.mp4")
    assert second == first
    # the same file, not fetched again (only marked used, for heygem gc)
    assert second.stat().st_ino == before.st_ino and second.stat().st_mtime_ns >= before.st_mtime_ns
    if store.kind == "s3":
        assert first.suffix == ".mp4"
        assert store_settings.cache_dir in first.parents
        assert digest in first.name
    else:
        assert first == store_settings.artifact_dir / "sources" / "k.mp4"

    store.put_bytes("sources/k.mp4", b"replaced")  # a new version is fetched again
    third = store.local_path("sources/k.mp4")
    assert third.read_bytes() == b"replaced"


def test_url_is_fetchable(store):
    data = b"a report, zipped" * 100
    store.put_bytes("runs/r1/report.zip", data)
    url = store.url("runs/r1/report.zip")
    if store.kind == "local":
        assert url.startswith("file://")
        assert Path(urllib.request.url2pathname(url[len("file://") :])).is_file()
    else:
        assert url.startswith("http://") and "X-Amz-Signature=" in url
        assert "X-Amz-Expires=259200" in url  # link_expiry_hours=72
        assert SECRETS[0] not in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == data


# ------------------------------------------------------------------- keys and errors

BAD_KEYS = [
    "../x",
    "/abs",
    "a//b",
    "a\\b",
    "",
    "a/./b",
    "a/../b",
    "a/",
    "x\x00y",
    "a\nb",
    ".meta/x",
    "a/.tmp-1",
    "x" * 1100,
]


def test_validate_key():
    for good in ["a", "runs/2024-05-01-ab12/out/clip.mp4", "sources/Ünïcode file.wav", ".hidden/ok", "a/.meta"]:
        assert validate_key(good) == good
    for bad in BAD_KEYS:
        with pytest.raises(InputError, match="invalid artifact key"):
            validate_key(bad)
    assert validate_prefix("") == ""
    assert validate_prefix("runs/r1/") == "runs/r1/"
    for bad in ["/runs", "runs//", "../"]:
        with pytest.raises(InputError):
            validate_prefix(bad)


def test_every_method_rejects_bad_keys(store, tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")
    store.put_bytes("good/key", b"x")
    calls = {
        "exists": lambda k: store.exists(k),
        "stat": lambda k: store.stat(k),
        "put_file": lambda k: store.put_file(k, src),
        "put_bytes": lambda k: store.put_bytes(k, b"x"),
        "get_file": lambda k: store.get_file(k, tmp_path / "dest"),
        "get_bytes": lambda k: store.get_bytes(k),
        "local_path": lambda k: store.local_path(k),
        "url": lambda k: store.url(k),
        "delete": lambda k: store.delete(k),
        "copy src": lambda k: store.copy(k, "good/dst"),
        "copy dst": lambda k: store.copy("good/key", k),
        "list": lambda k: store.list(k),
    }
    for bad in ["../x", "/abs", "a//b", "a\\b", "a/./b", "x\x00y"]:
        for name, call in calls.items():
            with pytest.raises(InputError):
                call(bad)
                pytest.fail(f"{name}({bad!r}) was accepted")
    assert [o.key for o in store.list()] == ["good/key"]
    assert not (tmp_path / "dest").exists()


def test_missing_key(store, tmp_path):
    key = "runs/r1/missing.mp4"
    assert not store.exists(key)
    for call in (
        lambda: store.stat(key),
        lambda: store.get_bytes(key),
        lambda: store.get_file(key, tmp_path / "x.mp4"),
        lambda: store.local_path(key),
        lambda: store.url(key),
        lambda: store.copy(key, "runs/r1/copy.mp4"),
    ):
        with pytest.raises(ObjectMissing) as info:
            call()
        assert str(info.value).startswith(f"{key}: ")
        assert store.describe() in str(info.value)
        assert isinstance(info.value, (InputError, FileNotFoundError))
    assert not (tmp_path / "x.mp4").exists()
    assert not store.exists("runs/r1/copy.mp4")
    assert no_temp_files(tmp_path)


def test_tampered_bytes_raise_integrity_error(store, store_settings, tmp_path):
    store.put_bytes("cache/enc/k.bin", b"original bytes")
    tamper(store, store_settings, "cache/enc/k.bin", b"tampered bytes")
    with pytest.raises(IntegrityError, match="cache/enc/k.bin"):
        store.get_bytes("cache/enc/k.bin")
    dest = tmp_path / "dl" / "k.bin"
    with pytest.raises(IntegrityError):
        store.get_file("cache/enc/k.bin", dest)
    assert not dest.exists() and no_temp_files(tmp_path / "dl")
    with pytest.raises(IntegrityError):
        store.copy("cache/enc/k.bin", "cache/enc/k2.bin") if store.kind == "local" else store.local_path(
            "cache/enc/k.bin"
        )
    # A fresh put heals it.
    store.put_bytes("cache/enc/k.bin", b"original bytes")
    assert store.get_bytes("cache/enc/k.bin") == b"original bytes"


def test_secrets_never_shown(store, store_settings):
    texts = [repr(store), str(store), store.describe()]
    try:
        store.stat("a/missing")
    except ObjectMissing as exc:
        texts.append(str(exc))
    for text in texts:
        assert "testing-secret" not in text
        if store.kind == "s3":
            assert s3_options(store_settings).endpoint in store.describe()
            assert "testing" not in text  # not even the access key
    assert store.describe().startswith({"local": "folder ", "s3": "s3 bucket '"}[store.kind])


def test_concurrent_use(store):
    def work(i: int) -> bytes:
        data = f"object {i}".encode() * 50
        store.put_bytes(f"runs/par/{i:02d}.txt", data)
        assert store.get_bytes(f"runs/par/{i:02d}.txt") == data
        return data

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(12)))
    assert len(store.list("runs/par/")) == 12


# ------------------------------------------------------------------------ local only


def test_local_layout_is_plain_files_with_hidden_metadata(local_store, local_settings):
    local_store.put_bytes("runs/r1/a.txt", b"A", content_type="text/plain")
    root = local_settings.artifact_dir
    assert (root / "runs" / "r1" / "a.txt").read_bytes() == b"A"
    metas = list((root / ".meta").rglob("*.json"))
    assert len(metas) == 1
    meta = json.loads(metas[0].read_text())
    assert meta["key"] == "runs/r1/a.txt" and meta["sha256"] == sha(b"A") and meta["content_type"] == "text/plain"
    # stray temp files (a crashed upload) are not objects
    (root / "runs" / "r1" / ".tmp-deadbeef").write_bytes(b"partial")
    assert [o.key for o in local_store.list()] == ["runs/r1/a.txt"]
    local_store.delete("runs/r1/a.txt")
    assert not list((root / ".meta").rglob("*.json"))


def test_local_file_placed_by_hand_is_an_object(local_store, local_settings):
    path = local_settings.artifact_dir / "sources" / "hand.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF....")
    assert local_store.stat("sources/hand.wav") == StoredObject("sources/hand.wav", 8, sha(b"RIFF...."))
    assert local_store.get_bytes("sources/hand.wav") == b"RIFF...."


def test_local_delete_prunes_empty_folders(local_store, local_settings):
    local_store.put_bytes("runs/r9/deep/er/x", b"x")
    local_store.put_bytes("runs/keep", b"k")
    local_store.delete_prefix("runs/r9/")
    assert not (local_settings.artifact_dir / "runs" / "r9").exists()
    assert (local_settings.artifact_dir / "runs" / "keep").exists()


# --------------------------------------------------------------------------- s3 only


def test_s3_records_sha_in_user_metadata_and_creates_the_bucket(s3_store, s3_settings, s3_server):
    client = s3_server.client()
    assert not client.bucket_exists(s3_options(s3_settings).bucket)
    s3_store.put_bytes("runs/r1/a.txt", b"A")
    assert client.bucket_exists(s3_options(s3_settings).bucket)
    info = client.stat_object(s3_options(s3_settings).bucket, "runs/r1/a.txt")
    assert info.metadata["x-amz-meta-sha256"] == sha(b"A")
    assert info.content_type == "text/plain"


def test_s3_object_written_by_another_tool(s3_store, s3_settings, s3_server):
    s3_store.put_bytes("seed", b"")  # creates the bucket
    s3_server.client().put_object(s3_options(s3_settings).bucket, "sources/foreign.bin", io.BytesIO(b"foreign"), 7)
    assert s3_store.stat("sources/foreign.bin") == StoredObject("sources/foreign.bin", 7, "")
    assert s3_store.get_bytes("sources/foreign.bin") == b"foreign"  # nothing recorded to verify against
    path = s3_store.local_path("sources/foreign.bin")
    assert path.read_bytes() == b"foreign" and sha(b"foreign") in path.name


@pytest.mark.slow
def test_s3_outage_raises_store_unavailable_and_recovers(s3_store, s3_settings, s3_proxy, tmp_path):
    s3_store.put_bytes("runs/r1/before.txt", b"kept through the outage")
    s3_proxy.down()
    calls = [
        lambda: s3_store.get_bytes("runs/r1/before.txt"),
        lambda: s3_store.exists("runs/r1/before.txt"),
        lambda: s3_store.put_bytes("runs/r1/during.txt", b"x"),
        lambda: s3_store.get_file("runs/r1/before.txt", tmp_path / "dl.txt"),
        lambda: s3_store.list("runs/"),
        lambda: s3_store.delete("runs/r1/before.txt"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as info:
            call()
        message = str(info.value)
        assert s3_options(s3_settings).endpoint in message and "unreachable" in message
        assert "testing" not in message  # neither the secret nor the access key
    assert not (tmp_path / "dl.txt").exists() and no_temp_files(tmp_path)

    s3_proxy.up()
    assert s3_store.get_bytes("runs/r1/before.txt") == b"kept through the outage"
    assert [o.key for o in s3_store.list()] == ["runs/r1/before.txt"]


def test_s3_outage_mid_download(s3_store, s3_proxy, tmp_path):
    # 64 MiB: far more than loopback TCP can hold in flight (the receive buffer alone grows to
    # ~6 MiB), so the cut always lands mid-transfer; with 8 MiB the proxy had sometimes
    # forwarded the whole object before the cut and the download finished.
    data = bytes(range(256)) * (256 * 1024)
    s3_store.put_bytes("runs/r1/big.bin", data)

    class CutOffAfterFirstBlock(io.BytesIO):
        def write(self, block):
            s3_proxy.down()  # idempotent: the outage starts with the first block received
            return super().write(block)

    # The streaming download behind get_file/get_bytes/local_path, with a sink that cuts the
    # store off mid-transfer (a public call would race the transfer).
    with pytest.raises(StoreUnavailable, match="unreachable"):
        s3_store._download("runs/r1/big.bin", CutOffAfterFirstBlock())
    s3_proxy.up()
    assert s3_store.get_bytes("runs/r1/big.bin") == data


def test_outage_proxy_refuses_and_resets(s3_server, s3_proxy):
    import http.client
    import socket

    conn = http.client.HTTPConnection(*s3_proxy.endpoint.split(":"), timeout=5)
    conn.request("GET", "/moto-api/")
    assert conn.getresponse().read()  # a kept-alive connection through the proxy
    s3_proxy.down()
    assert not s3_proxy.is_up
    with pytest.raises(OSError):
        conn.request("GET", "/moto-api/")
        conn.getresponse().read()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(tuple_of(s3_proxy.endpoint), timeout=2)
    s3_proxy.down()  # idempotent
    s3_proxy.up()
    s3_proxy.up()
    with socket.create_connection(tuple_of(s3_proxy.endpoint), timeout=2):
        pass


def tuple_of(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.rsplit(":", 1)
    return host, int(port)


def test_s3_outage_before_first_use(s3_settings, s3_proxy):
    store = open_store(s3_settings)
    with s3_proxy.outage():
        with pytest.raises(StoreUnavailable):
            store.put_bytes("a", b"a")
    assert store.put_bytes("a", b"a").size == 1  # the bucket is created once the store is back


class _Answer(BaseHTTPRequestHandler):
    status = 503
    code = "SlowDown"

    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{self.code}</Code>'
            f"<Message>nope</Message><Resource>{self.path}</Resource><RequestId>1</RequestId>"
            f"</Error>"
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _reply

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (503, "SlowDown", StoreUnavailable),
        (500, "InternalError", StoreUnavailable),
        (403, "AccessDenied", StoreError),
    ],
)
def test_s3_error_answers_are_translated(tmp_path, status, code, error):
    handler = type("Handler", (_Answer,), {"status": status, "code": code})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"127.0.0.1:{server.server_address[1]}"
        store = open_store(
            Settings(
                store="s3",
                store_options=s3_store_options(
                    endpoint=endpoint,
                    bucket="bkt",
                    access_key="AKIDSECRETLOOKING",
                    secret_key="testing-secret",
                    region="us-east-1",
                ),
                cache_dir=tmp_path / "c",
            )
        )
        with pytest.raises(error) as info:
            store.put_bytes("a/b", b"x")
        message = str(info.value)
        assert endpoint in message
        assert "testing-secret" not in message and "AKIDSECRETLOOKING" not in message
        if error is StoreError:
            assert not isinstance(info.value, StoreUnavailable)
            assert code in message
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------- open_store


def test_one_shared_client_per_configuration_every_setting_of_it_counted(tmp_path):
    from heygem_core.store import shared_store

    s3 = Settings(store="s3", store_options=s3_store_options(endpoint="127.0.0.1:1"), cache_dir=tmp_path)
    assert shared_store(s3) is shared_store(s3.replace(crf=30))  # not a store setting
    for change in (
        {"store_options": s3_store_options(endpoint="127.0.0.1:1", region="eu-west-1")},
        {"store_options": s3_store_options(endpoint="127.0.0.1:1", secret_key="other")},
        {"link_expiry_hours": 2},
        {"store_options": s3_store_options(endpoint="127.0.0.1:1", bucket="other")},
    ):
        assert shared_store(s3.replace(**change)) is not shared_store(s3), change
    local = Settings(store="local", artifact_dir=tmp_path / "a")
    assert shared_store(local) is shared_store(local) and shared_store(local) is not open_store(local)
    assert shared_store(local.replace(artifact_dir=tmp_path / "b")).root == tmp_path / "b"


def test_registry_and_open_store_errors(tmp_path):
    assert set(STORES.names()) == {"local", "s3"}
    with pytest.raises(InputError, match="'ftp'"):
        open_store(Settings(store="ftp", artifact_dir=tmp_path))
    with pytest.raises(InputError, match="endpoint"):
        open_store(Settings(store="s3", store_options=s3_store_options(endpoint=""), cache_dir=tmp_path))
    with pytest.raises(InputError, match="link_expiry_hours"):
        open_store(
            Settings(
                store="s3",
                store_options=s3_store_options(endpoint="127.0.0.1:1"),
                link_expiry_hours=24 * 30,
                cache_dir=tmp_path,
            )
        )
    with pytest.raises(InputError, match="bucket"):
        open_store(
            Settings(
                store="s3",
                store_options=s3_store_options(endpoint="127.0.0.1:1", bucket="Bad_Bucket"),
                cache_dir=tmp_path,
            )
        )
    s3 = open_store(
        Settings(
            store="S3",
            store_options=s3_store_options(endpoint="https://minio.example:9000", secret_key="testing-secret"),
            cache_dir=tmp_path,
        )
    )
    assert s3.describe() == "s3 bucket 'heygem' at minio.example:9000" and s3.secure
    assert "testing-secret" not in repr(s3)
    local = open_store(Settings(store="local", artifact_dir=tmp_path / "a"))
    assert local.describe() == f"folder {tmp_path / 'a'}"


def test_a_local_stores_identity_is_one_id_however_many_ask_at_once(tmp_path):
    """Threads (and processes) of a first run ask for a new store's id at the same moment:
    every one gets the same whole id (a half-written one made some cache keys differ)."""
    for attempt in range(20):
        root = tmp_path / f"store{attempt}"
        start = threading.Barrier(8)

        def ask(_):
            start.wait()
            return LocalStore(root).identity()

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(ask, range(8)))
        assert len(set(ids)) == 1 and len(ids[0]) > len("local:") + 16, (attempt, set(ids))
        assert str(tmp_path) not in ids[0]
        assert [p.name for p in (root / ".meta").iterdir()] == ["store-id"]  # no temp file left
