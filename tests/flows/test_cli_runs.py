"""``heygem runs list|show|clean``, the real command against a real local artifact folder: one
written by the flows' own package writer (fast), and one made by a real small ``heygem batch``
run (slow), whose task runs are also checked to carry the stage and row tags progress reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from flows import runs
from heygem_core.gc import hold
from heygem_core.package import OutputEntry
from heygem_core.store import LocalStore
from tests.conftest import short_batch_inputs
from tests.paths import REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "cli"]


def _env(root: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_", "MINIO_", "PREFECT_API"))}
    env.update(
        {
            "HEYGEM_STORE": "local",
            "HEYGEM_ARTIFACT_DIR": str(root / "store"),
            "HEYGEM_CACHE_DIR": str(root / "cache"),
            "HEYGEM_PREFECT_PORT": "1",
        }
    )  # no server may start
    env.update(extra)
    return env


def heygem(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*HEYGEM, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def _packaged_run(store: LocalStore, run_id: str) -> None:
    """A finished run as the flows store it: its video published, then the package task's own
    writer (zip, manifest, report, log)."""
    from tasks.publish import package

    prefix = runs.run_prefix(run_id)
    video = store.put_file(f"{prefix}/videos/katie_8s_de.mp4", VIDEOS["katie_8s"])
    entries = [
        OutputEntry(
            row=1,
            lecturer="katie_8s",
            language="de",
            title="",
            output_name="katie_8s_de.mp4",
            output_key=video.key,
            sha256=video.sha256,
            duration=9.3,
            engine="exemplar",
            status="done",
            qa={"sync": 0.61, "coverage": 1.0, "flagged": False},
        ),
        OutputEntry(
            row=2,
            lecturer="quiet",
            language="de",
            title="",
            output_name="quiet_de.mp4",
            output_key=video.key,
            sha256=video.sha256,
            duration=9.3,
            engine="exemplar",
            status="done",
            message="mouth hardly follows the audio",
            qa={"sync": -0.06, "coverage": 1.0, "flagged": True},
        ),
        OutputEntry(
            row=3,
            lecturer="empty",
            language="de",
            title="",
            output_name="empty_de.mp4",
            output_key=None,
            sha256=None,
            duration=None,
            engine=None,
            status="failed",
            message="not run: video: file is empty (0 bytes): empty.mp4",
        ),
    ]
    package.fn(
        run_id,
        prefix,
        entries,
        {"kind": "batch", "flow_run_id": "0123abcd-0000-0000-0000-000000000000"},
        "a log line\n",
        None,
    )


@pytest.mark.slow
def test_runs_list_show_and_clean_on_a_store_the_package_writer_wrote(tmp_path, monkeypatch):
    env = _env(tmp_path)
    for name in ("HEYGEM_STORE", "HEYGEM_ARTIFACT_DIR", "HEYGEM_CACHE_DIR"):
        monkeypatch.setenv(name, env[name])
    store = LocalStore(tmp_path / "store")
    done = heygem(env, "runs", "list")
    assert done.returncode == 0 and done.stdout == f"no runs in folder {tmp_path / 'store'}\n", done.stderr

    finished = runs.new_run_id("batch", "0123abcd-0000")
    _packaged_run(store, finished)
    killed = "course-Spring 2026-20200101-100000-deadbeef"  # started in 2020, killed before its package
    store.put_file(f"runs/{killed}/videos/katie_de.mp4", VIDEOS["chaplin_7s"])
    going = "single-20200102-100000-feedf00d"  # as old, but its flow still holds the store
    store.put_bytes(f"runs/{going}/videos/x.mp4", b"v")

    with hold(store, going):
        listed = heygem(env, "runs", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].startswith(f"3 runs in folder {tmp_path / 'store'} (") and lines[0].endswith("newest first:")
        assert [line.split()[0] for line in lines[1:]] == [finished, going, "course-Spring"]
        assert "batch" in lines[1] and "finished" in lines[1] and "2 done, 1 failed, 1 flagged by QA" in lines[1]
        assert "running, started 2020-01-02 10:00 UTC" in lines[2]
        assert "started 2020-01-01 10:00 UTC" in lines[3] and "1 done, 0 failed" in lines[3]

        shown = heygem(env, "runs", "show", finished)
        assert shown.returncode == 0, shown.stderr
        out = shown.stdout.splitlines()
        assert out[0].startswith(f"run {finished}: batch, finished ") and "2 done, 1 failed, 1 flagged by QA" in out[0]
        assert out[1] == "  row 1 katie_8s_de.mp4: done (sync 0.61, face in 100% of frames)"
        assert out[2] == (
            "  row 2 quiet_de.mp4: done (sync -0.06, face in 100% of frames); FLAGGED: mouth hardly follows the audio"
        )
        assert out[3] == "  row 3 empty_de.mp4: failed: not run: video: file is empty (0 bytes): empty.mp4"
        assert "flow run: 0123abcd-0000-0000-0000-000000000000" in out
        assert f"zip:      runs/{finished}/{finished}.zip" in out and f"report:   runs/{finished}/report.csv" in out
        assert (tmp_path / "store" / "runs" / finished / f"{finished}.zip").is_file()

        for bad, said in (("nope", "no run 'nope'"), ("../cache", "not a run: '../cache'")):
            refused = heygem(env, "runs", "show", bad)
            assert refused.returncode == 2 and refused.stderr.startswith(f"heygem: error: {said}"), refused.stderr
            assert "Traceback" not in refused.stderr

        dry = heygem(env, "runs", "clean", "--older-than", "30d", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[0].startswith(f"would delete {killed}")
        assert f"kept {going}" in dry.stdout and "(its flow is still going)" in dry.stdout
        assert "would delete 1 run older than 30d" in dry.stdout.splitlines()[-1]
        assert (tmp_path / "store" / "runs" / killed).is_dir()

        cleaned = heygem(env, "runs", "clean", "--older-than", "30d")
        assert cleaned.returncode == 0 and "deleted 1 run older than 30d" in cleaned.stdout, cleaned.stderr
        assert not (tmp_path / "store" / "runs" / killed).exists()
        assert [r.run_id for r in runs.list_runs(store)] == [finished, going]

    bad_age = heygem(env, "runs", "clean", "--older-than", "soon")
    assert bad_age.returncode == 2 and "--older-than soon: give an age such as 30d" in bad_age.stderr
    assert heygem(env, "runs", "clean").returncode == 2  # an age is required: nothing goes by default
    # the flow ended: now its run goes too; the finished one is younger than an hour
    cleaned = heygem(env, "runs", "clean", "--older-than", "1h")
    assert cleaned.returncode == 0 and f"deleted {going}" in cleaned.stdout
    assert [r.run_id for r in runs.list_runs(store)] == [finished]


@pytest.mark.slow
def test_a_real_batch_run_is_tagged_listed_shown_and_cleaned(heygem_env, prefect_api, media_factory):
    """``heygem batch`` (a 2 s clip that works, a faceless one that fails in the flow, an empty
    one left out), then ``heygem runs`` on what it stored."""
    from tests.flows.conftest import task_runs

    # inside the allowed input folders (the fixtures and the test's own folder)
    clip, audio, faceless = short_batch_inputs(media_factory, heygem_env)
    empty = heygem_env / "empty.mp4"
    empty.write_bytes(b"")
    env = {**os.environ, **prefect_api}
    out = heygem_env / "out"
    done = subprocess.run(
        [
            *HEYGEM,
            "batch",
            "--audio",
            str(audio),
            "--language",
            "de",
            str(clip),
            str(faceless),
            str(empty),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]  # finished, some videos failed
    summary = json.loads((out / "summary.json").read_text())
    run_id = summary["run_id"]
    assert (
        runs.parse_run_id(run_id).kind == "batch" and runs.parse_run_id(run_id).flow_run == summary["flow_run_id"][:8]
    )
    assert [(r["row"], r["status"]) for r in summary["rows"]] == [(1, "done"), (2, "failed"), (3, "failed")]

    # the flow's task map names every task run's stage and the rows it serves (the shared audio:
    # both run rows); validation says its stage by its tag
    from webapp.progress import read_task_map

    trs = task_runs(summary["flow_run_id"])
    task_map = read_task_map(summary["flow_run_id"])
    stages = Counter(task_map.get(str(tr.id), (runs.stage_of(tr.tags), None))[0] for tr in trs)
    assert None not in stages, [tr.tags for tr in trs]
    assert stages["validate"] == 1 and stages["ingest"] == 3 and stages["package"] == 1
    assert stages["track_faces"] == 2 and stages["publish"] == 1
    # task runs carry their task's own tags only (each tag set costs a concurrency round trip and
    # a service Prefect keeps for the life of the process), never the caller's
    assert all(set(tr.tags) <= {"io", "gpu", runs.stage_tag("validate")} for tr in trs), [tr.tags for tr in trs]
    served = {(stage, frozenset(rows)) for stage, rows in task_map.values()}
    assert ("normalize_audio", frozenset({1, 2})) in served and ("publish", frozenset({1})) in served
    assert ("track_faces", frozenset({2})) in served and ("package", frozenset()) in served
    # the faceless row's failure was published while the run went on, in the flow's own words
    from webapp.progress import read_failures

    failures = read_failures(summary["flow_run_id"])
    said = {f["row"]: f["message"] for f in summary["failures"]}
    assert failures == {2: said[2], 3: said[3]} and "no face" in said[2] and "empty" in said[3]

    store_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    store_env["HEYGEM_PREFECT_PORT"] = "1"
    listed = heygem(store_env, "runs", "list")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[0] == run_id, listed.stdout
    assert "1 done, 2 failed" in listed.stdout
    shown = heygem(store_env, "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "  row 1 katie_2s_de.mp4: done (sync " in shown.stdout
    assert "  row 2 faceless_de.mp4: failed: " in shown.stdout and "no face" in shown.stdout
    assert f"flow run: {summary['flow_run_id']}" in shown.stdout
    kept = heygem(store_env, "runs", "clean", "--older-than", "1d")
    assert kept.returncode == 0 and "deleted 0 runs" in kept.stdout and "kept 1" in kept.stdout
    gone = heygem(store_env, "runs", "clean", "--older-than", "0")
    assert gone.returncode == 0 and f"deleted {run_id}" in gone.stdout
    assert heygem(store_env, "runs", "list").stdout.startswith("no runs in folder ")
