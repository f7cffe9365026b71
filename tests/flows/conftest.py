"""Flows run against a real Prefect API (``prefect_test_harness``: a temporary server on
SQLite) and a real artifact store (a folder, or moto's S3 server behind an outage proxy)."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

from tests.paths import FIXTURES, LANGUAGE_AUDIO, VIDEOS
from tests.s3server import OutageProxy, S3Server


@pytest.fixture
def heygem_env(tmp_path, monkeypatch, prefect_api):
    """A fresh local store and cache for one test, inputs allowed from the fixtures and tmp."""
    monkeypatch.setenv("HEYGEM_STORE", "local")
    monkeypatch.setenv("HEYGEM_ARTIFACT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("HEYGEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HEYGEM_INPUT_ROOTS", os.pathsep.join([str(FIXTURES), str(tmp_path)]))
    return tmp_path


@pytest.fixture(scope="session")
def s3_endpoint():
    with S3Server() as server, OutageProxy(server.endpoint) as proxy:
        yield server, proxy


@pytest.fixture
def s3_env(heygem_env, monkeypatch, s3_endpoint, request):
    server, proxy = s3_endpoint
    proxy.up()
    bucket = "runs-" + request.node.name.lower().replace("_", "-")[:40]
    monkeypatch.setenv("HEYGEM_STORE", "s3")
    monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
    monkeypatch.setenv("MINIO_BUCKET", bucket)
    monkeypatch.setenv("MINIO_ACCESS_KEY", "testing")
    monkeypatch.setenv("MINIO_SECRET_KEY", "testing-secret")
    return server, proxy, bucket


def write_sheet(path: Path, rows: list[dict]) -> Path:
    cols = ["lecturer", "video", "language", "audio", "transcript", "title", "output"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def matrix_rows(videos=VIDEOS, languages=LANGUAGE_AUDIO) -> list[dict]:
    return [
        {
            "lecturer": name.split("_")[0],
            "video": str(v),
            "language": lang,
            "audio": str(a),
            "title": f"{name} in {lang}",
        }
        for name, v in videos.items()
        for lang, a in languages.items()
    ]


def task_runs(flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )


def read_flow_run(flow_run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def ran(flow_run_id: str) -> Counter:
    """Task runs per task name that did the work (completed, not served from the cache)."""
    return Counter(
        _task_name(tr)
        for tr in task_runs(flow_run_id)
        if tr.state and tr.state.is_completed() and tr.state.name != "Cached"
    )


def cached(flow_run_id: str) -> Counter:
    return Counter(_task_name(tr) for tr in task_runs(flow_run_id) if tr.state and tr.state.name == "Cached")


def _task_name(tr) -> str:
    # task_key is "<task name>-<hash of its source>"
    return tr.task_key.rsplit("-", 1)[0]
