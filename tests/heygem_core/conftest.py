"""Fixtures for tests of heygem_core.

Artifact store
--------------
``s3_server``    session: a moto S3 server (subprocess) behind an ``OutageProxy``; an
                 ``S3Harness`` with ``.server``, ``.proxy``, ``.endpoint`` (the proxy's
                 "host:port": what stores should use), ``.access_key``/``.secret_key`` and
                 ``.client()`` (a raw minio client talking to moto directly, past the proxy).
``s3_proxy``     the session's ``OutageProxy``, guaranteed up before and after the test:
                 ``s3_proxy.down()`` / ``.up()`` or ``with s3_proxy.outage(): ...``.
``s3_settings``  ``Settings(store="s3", ...)`` pointing at the proxy, a fresh bucket per test,
                 artifact_dir/cache_dir under ``tmp_path``.
``local_settings``  ``Settings(store="local", ...)`` with artifact_dir/cache_dir under ``tmp_path``.
``store_settings``  parametrised over both: the same test runs on "local" and "s3".
``store``        ``open_store(store_settings)``.
``local_store`` / ``s3_store``  one backend each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from heygem_core.config import Settings
from tests.s3server import OutageProxy, S3Server

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing-secret"
S3_REGION = "us-east-1"


@dataclass
class S3Harness:
    server: S3Server
    proxy: OutageProxy
    access_key: str = S3_ACCESS_KEY
    secret_key: str = S3_SECRET_KEY
    region: str = S3_REGION

    @property
    def endpoint(self) -> str:
        """Where stores connect: the proxy (so tests can cut it off)."""
        return self.proxy.endpoint

    def client(self):
        """A raw minio client talking to moto directly (unaffected by proxy outages)."""
        from minio import Minio

        return Minio(
            self.server.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )


@pytest.fixture(scope="session")
def s3_server():
    pytest.importorskip("moto.server", reason="moto[server] is needed for the S3 store tests")
    pytest.importorskip("minio")
    with S3Server() as server, OutageProxy(server.endpoint) as proxy:
        yield S3Harness(server, proxy)


@pytest.fixture
def s3_proxy(s3_server):
    s3_server.proxy.up()
    yield s3_server.proxy
    s3_server.proxy.up()


def s3_store_options(**fields) -> tuple[tuple[str, str], ...]:
    """``Settings.store_options`` for the s3 store's fields (``endpoint="..."``, ``secure=False``)."""
    return tuple(sorted((f"s3_{k}", str(v).lower() if isinstance(v, bool) else str(v)) for k, v in fields.items()))


def _base_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(artifact_dir=tmp_path / "artifacts", cache_dir=tmp_path / "cache", **overrides)


@pytest.fixture
def local_settings(tmp_path) -> Settings:
    return _base_settings(tmp_path, store="local")


@pytest.fixture
def s3_settings(tmp_path, s3_server, s3_proxy) -> Settings:
    return _base_settings(
        tmp_path,
        store="s3",
        store_options=s3_store_options(
            endpoint=s3_server.endpoint,
            bucket=f"t-{uuid.uuid4().hex[:16]}",
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
            secure=False,
            region=s3_server.region,
        ),
    )


@pytest.fixture(params=["local", "s3"])
def store_settings(request) -> Settings:
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture
def store(store_settings):
    from heygem_core.store import open_store

    return open_store(store_settings)


@pytest.fixture
def local_store(local_settings):
    from heygem_core.store import open_store

    return open_store(local_settings)


@pytest.fixture
def s3_store(s3_settings):
    from heygem_core.store import open_store

    return open_store(s3_settings)
