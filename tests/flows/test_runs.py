"""``flows.runs``: run ids (written by the flows, read by History and ``heygem runs``), the
task-run tags progress is read from, and the runs in a real local store: listed, shown,
deleted and cleaned up, never one whose flow still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from flows import runs
from heygem_core.errors import InputError
from heygem_core.gc import hold
from heygem_core.store import LocalStore
from tests.paths import REPO

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def test_a_run_id_is_written_and_read_back_by_one_module():
    flow_run = "836ff54b-1234-4abc-9def-000000000000"
    for kind in ("single", "batch", "course-Spring 2026 (Zoë) - v2", "course-20240101-100000-deadbeef"):
        run_id = runs.new_run_id(kind, flow_run, now=NOW)
        assert run_id == f"{kind}-20240601-120000-836ff54b"
        assert runs.parse_run_id(run_id) == runs.RunId(kind=kind, started=NOW, flow_run="836ff54b")
        assert runs.check_run_id(run_id) == run_id
    for other in ("batch", "batch-20240601-120000", "batch-20241301-120000-836ff54b", "x-20240601-120000-XYZ"):
        assert runs.parse_run_id(other) is None
    for bad in ("", "..", "../cache", "runs/../cache", "a/b", "a\\b", "x\ny", "."):
        with pytest.raises(InputError, match="not a run"):
            runs.check_run_id(bad)


def test_the_task_map_names_each_task_runs_stage_and_rows():
    tags = [runs.stage_tag("track_faces"), "gpu"]
    assert tags == ["stage:track_faces", "gpu"] and runs.stage_of(tags) == "track_faces"
    assert runs.stage_of(["io"]) is None
    with pytest.raises(ValueError):
        runs.stage_tag("lipsync on gpu pool")
    version = [runs.task_record("a1", "track_faces", [3, 2, 3, None]), runs.task_record("b2", "package", [])]
    assert version == [
        {"task_run": "a1", "stage": "track_faces", "rows": [2, 3]},
        {"task_run": "b2", "stage": "package", "rows": []},
    ]
    want = {"a1": ("track_faces", {2, 3}), "b2": ("package", set())}
    assert runs.task_map(json.dumps(version)) == want and runs.task_map(version) == want
    assert runs.task_map("not json") == {} and runs.task_map([{"task_run": 1, "stage": "mux", "rows": [2]}]) == {}
    assert runs.task_map([{"task_run": "c", "stage": "dance", "rows": []}]) == {}
    with pytest.raises(ValueError):
        runs.task_record("a1", "lipsync on gpu pool", [1])


def _put_run(store, run_id, *, created=None, videos=("a.mp4",), done=None, failed=0, flagged=0):
    prefix = runs.run_prefix(run_id)
    for name in videos:
        store.put_bytes(f"{prefix}/videos/{name}", b"v" * 100)
    if created is not None:
        manifest = {
            "run_id": run_id,
            "created": created.isoformat(),
            "kind": run_id.rsplit("-", 3)[0],
            "counts": {"done": len(videos) if done is None else done, "failed": failed, "flagged": flagged},
            "entries": [{"row": 1, "output_name": videos[0], "status": "done", "message": ""}],
        }
        store.put_bytes(f"{prefix}/manifest.json", json.dumps(manifest).encode())
        store.put_bytes(f"{prefix}/{run_id}.zip", b"z" * 10)


def test_runs_are_listed_newest_first_and_cleaned_by_age_but_never_while_running(tmp_path):
    store = LocalStore(tmp_path / "store")
    assert runs.list_runs(store) == []
    old = "batch-20240101-100000-aaaaaaaa"
    killed = "course-Kurs Zoë-20240102-100000-bbbbbbbb"  # never finished: videos, no manifest
    going = "single-20240103-100000-cccccccc"  # still running (holds the store), old id
    new = "single-20240531-100000-dddddddd"
    _put_run(store, old, created=datetime(2024, 1, 1, 10, 5, tzinfo=timezone.utc), failed=1, flagged=1)
    _put_run(store, killed, videos=("x.mp4", "y.mp4"))
    _put_run(store, going)
    _put_run(store, new, created=NOW - timedelta(hours=2))
    store.put_bytes("cache/blend/k.mp4", b"c")

    with hold(store, going):
        found = runs.list_runs(store, now=NOW)
        assert [r.run_id for r in found] == [new, going, killed, old]
        by = {r.run_id: r for r in found}
        assert (by[old].kind, by[old].done, by[old].failed, by[old].flagged) == ("batch", 1, 1, 1)
        assert by[old].zip == f"runs/{old}/{old}.zip" and by[old].key("manifest.json") and not by[old].key("run.log")
        assert by[killed].kind == "course-Kurs Zoë" and by[killed].manifest is None and by[killed].done == 2
        assert by[killed].created == datetime(2024, 1, 2, 10, 0, tzinfo=timezone.utc)  # from its id
        assert by[going].running and not by[old].running
        assert by[old].size == 100 + 10 + len(store.get_bytes(f"runs/{old}/manifest.json"))
        assert runs.get_run(store, old).entries[0]["output_name"] == "a.mp4"
        with pytest.raises(InputError, match="no run 'nope'"):
            runs.get_run(store, "nope")

        dry = runs.clean(store, 86400, now=NOW, dry_run=True)
        assert [r.run_id for r in dry.removed] == [killed, old] and [r.run_id for r in dry.running] == [going]
        assert dry.freed == by[killed].size + by[old].size and dry.kept == 2
        assert len(runs.list_runs(store, now=NOW)) == 4  # a dry run deletes nothing

        done = runs.clean(store, 86400, now=NOW)
        assert [r.run_id for r in done.removed] == [killed, old]
        assert [r.run_id for r in runs.list_runs(store, now=NOW)] == [new, going]
    # the flow ended: its run is old enough to go now
    assert [r.run_id for r in runs.clean(store, 86400, now=NOW).removed] == [going]
    assert runs.delete_run(store, new) == 3 and runs.list_runs(store) == []
    assert store.exists("cache/blend/k.mp4")
    with pytest.raises(InputError):
        runs.clean(store, -1)


def test_the_flows_name_runs_and_tag_task_runs_only_through_flows_runs():
    """flows/common.py writes run ids and tags with flows.runs, not with a format of its own."""
    common = (REPO / "flows" / "common.py").read_text(encoding="utf-8")
    assert "run_ids.new_run_id(" in common and "%Y%m%d" not in common
    code = "import sys, flows.runs; print(any(m.split('.')[0] == 'prefect' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
