"""The web app's rules without a browser: who may bind where, progress from task runs, sheet
checks, history and cleanup on a real local store, and the job slots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from heygem_core.config import Settings
from heygem_core.errors import InputError
from heygem_core.store import LocalStore
from tests.paths import FIXTURES, LANGUAGE_AUDIO, REPO, VIDEOS
from flows import runs
from webapp import jobs, progress
from webapp.auth import UISettings, is_loopback, login_for

HEYGEM = [sys.executable, "-m", "cli"]


# ----------------------------------------------------------------------------- binding and login


def _env_without_login(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEYGEM_UI_", "PREFECT_API"))}
    env["HEYGEM_PREFECT_PORT"] = "1"  # nothing may be started for a refused bind
    env.update(extra)
    return env


def test_binding_every_interface_without_a_login_is_refused():
    done = subprocess.run(
        [*HEYGEM, "ui", "--host", "0.0.0.0", "--port", "7999"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env_without_login(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to serve the web app on 0.0.0.0 without a login" in done.stderr
    assert "HEYGEM_UI_USER" in done.stderr and "HEYGEM_UI_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr and "Prefect server" not in done.stderr


def test_half_a_login_is_refused_and_the_password_never_printed():
    env = _env_without_login(HEYGEM_UI_USER="", HEYGEM_UI_PASSWORD="s3cret-pw")
    done = subprocess.run(
        [*HEYGEM, "ui", "--host", "0.0.0.0"], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert done.returncode == 2 and "set both HEYGEM_UI_USER and HEYGEM_UI_PASSWORD" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_login_rules():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert login_for("127.0.0.1", UISettings()) is None  # off on loopback when not configured
    with pytest.raises(InputError, match="without a login"):
        login_for("0.0.0.0", UISettings())
    ui = UISettings.from_env({"HEYGEM_UI_USER": "teacher", "HEYGEM_UI_PASSWORD": "pa ss"})
    for host in ("0.0.0.0", "127.0.0.1"):  # configured: on wherever the app listens
        check = login_for(host, ui)
        assert check("teacher", "pa ss") and not check("teacher", "pass") and not check("admin", "pa ss")
    assert "pa ss" not in repr(ui) and "***" in repr(ui)


def test_ui_settings_from_env():
    ui = UISettings.from_env({"HEYGEM_UI_CONCURRENCY": "3", "HEYGEM_UI_MAX_UPLOAD_MB": "1.5"})
    assert ui.concurrency == 3 and ui.max_upload_bytes == int(1.5 * 1024 * 1024)
    assert UISettings.from_env({}).concurrency == 1 and UISettings.from_env({}).max_upload_mb == 500
    with pytest.raises(InputError, match="HEYGEM_UI_CONCURRENCY"):
        UISettings.from_env({"HEYGEM_UI_CONCURRENCY": "0"})
    with pytest.raises(InputError, match="not a number"):
        UISettings.from_env({"HEYGEM_UI_MAX_UPLOAD_MB": "lots"})


def test_ui_command_defaults():
    from cli import PREFECT_COMMANDS, build_parser

    args = build_parser().parse_args(["ui"])
    assert (args.host, args.port) == ("127.0.0.1", 7860) and "ui" in PREFECT_COMMANDS
    # heygem_core and the refusal path never import Gradio or Prefect
    code = (
        "import sys, cli, webapp, webapp.auth;"
        "print(any(m.split('.')[0] in ('gradio', 'prefect', 'flows') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ----------------------------------------------------------------------------- a context on a tmp store


@pytest.fixture
def ctx(tmp_path):
    settings = Settings(artifact_dir=tmp_path / "store", cache_dir=tmp_path / "cache", input_roots=(FIXTURES,))
    return jobs.WebContext(
        settings=settings,
        store=LocalStore(settings.artifact_dir),
        api_url="http://127.0.0.1:1/api",
        scratch=tmp_path / "cache" / "web",
        max_upload_bytes=4 << 20,
    )


def test_uploads_are_checked_and_stored_under_their_names(ctx, tmp_path):
    ref = jobs.stage_upload(VIDEOS["chaplin_7s"], ctx)
    assert ref.startswith("store:uploads/") and ref.endswith("/chaplin_7s.mp4")
    assert ctx.store.exists(ref[len("store:") :])
    assert jobs.stage_upload(VIDEOS["chaplin_7s"], ctx) == ref  # same bytes, same key
    with pytest.raises(InputError, match="Accepted: AVI, M4V"):
        jobs.check_upload(LANGUAGE_AUDIO["de"], "a video", jobs.VIDEO_EXTENSIONS, ctx)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        jobs.check_upload(empty, "a video", jobs.VIDEO_EXTENSIONS, ctx)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (5 << 20))
    with pytest.raises(InputError, match="the limit is 4 MB per file"):
        jobs.check_upload(big, "a video", jobs.VIDEO_EXTENSIONS, ctx)
    assert jobs.describe_upload(VIDEOS["chaplin_7s"], "video", ctx)[0]
    cut = tmp_path / "upload-7f3a" / "lecture 1.mp4"
    cut.parent.mkdir()
    cut.write_bytes(VIDEOS["chaplin_7s"].read_bytes()[:100_000])
    ok, line = jobs.describe_upload(cut, "video", ctx)
    assert not ok and line.startswith("lecture 1.mp4: corrupt or truncated") and str(cut.parent) not in line
    ok, line = jobs.describe_upload(LANGUAGE_AUDIO["fr"], "video", ctx)
    assert not ok and "Accepted: AVI" in line
    assert jobs.describe_upload(LANGUAGE_AUDIO["fr"], "audio", ctx) == (
        True,
        "6.7 s of audio: the result will be this long.",
    )
    rows = jobs.check_jobs(
        [
            {
                "lecturer": "chaplin_7s",
                "video": ref,
                "language": "pt_BR",
                "audio": jobs.stage_upload(LANGUAGE_AUDIO["fr"], ctx),
                "transcript": "",
                "title": "",
                "output": "",
            }
        ],
        ctx,
    )
    assert rows[0].language == "pt-BR" and rows[0].output == "chaplin_7s_pt-BR.mp4"


def test_a_sheet_with_a_bad_row_lists_it_and_files_uploaded_beside_it_count(ctx, tmp_path):
    sheet = tmp_path / "course.csv"
    sheet.write_text(
        "lecturer,video,language,audio\n"
        f"Katie,katie_8s.mp4,de,{LANGUAGE_AUDIO['de']}\n"
        "Charlie,nowhere.mp4,xx-nonsense-tag,de_9s.wav\n",
        encoding="utf-8",
    )
    check = jobs.check_sheet(sheet, [str(VIDEOS["katie_8s"])], ctx)
    try:
        assert not check.ok and not check.error
        table = jobs.problem_rows(check.problems, check.folder)
        assert {(r[0], r[1]) for r in table} == {("3", "video"), ("3", "language"), ("3", "audio")}
        assert all(str(check.folder) not in r[2] for r in table)
        assert any("nowhere.mp4" in r[2] for r in table)
    finally:
        check.cleanup()
    assert not check.folder.exists()
    sheet.write_text(f"lecturer,video,language,audio\nKatie,katie_8s.mp4,de,{LANGUAGE_AUDIO['de']}\n")
    check = jobs.check_sheet(sheet, [str(VIDEOS["katie_8s"])], ctx)
    assert check.ok and check.rows[0].output == "Katie_de.mp4"
    check.cleanup()
    bad = tmp_path / "course.xls"
    bad.write_bytes(b"x")
    assert "use .xlsx" in jobs.check_sheet(bad, [], ctx).error


# ----------------------------------------------------------------------------- progress


def _tr(stage: str | None, rows, state: str, name: str = "whatever Prefect calls it", extra_tags=()):
    """A task run as the API gives it (only its id, tags and state's type count), and its stage
    and rows as the flow's task map says (validation says its stage by its tag)."""
    tags = ([runs.stage_tag(stage)] if stage == "validate" else []) + list(extra_tags)
    return SimpleNamespace(
        id=uuid.uuid4(),
        name=name,
        tags=tags,
        rows=list(rows),
        stage=stage,
        state=SimpleNamespace(type=state, name="Anything", message="Task run encountered..."),
    )


def _apply(task_runs, snap, failures=None):
    """progress.apply with the task map as the flow publishes it (flows.runs.TASKS_ARTIFACT)."""
    table = [runs.task_record(tr.id, tr.stage, tr.rows) for tr in task_runs if tr.stage not in (None, "validate")]
    progress.apply(task_runs, snap, failures, runs.task_map(json.dumps(table)))


def _row(n, video):
    from heygem_core.intake import Row, SourceRef

    return Row(
        number=n,
        lecturer=Path(video).stem,
        video=SourceRef("store", f"uploads/x/{video}"),
        language="de",
        audio=SourceRef("store", "uploads/y/de_9s.wav"),
        transcript=None,
        title="",
        output=f"{Path(video).stem}_de.mp4",
    )


def test_progress_follows_each_rows_task_runs_by_tags_and_state_types():
    items = progress.items_for([_row(2, "katie.mp4"), _row(3, "chaplin.mp4"), _row(4, "broken.mp4")])
    assert [(it.number, it.row) for it in items] == [(1, 2), (2, 3), (3, 4)]
    snap = progress.Snapshot(flow_run_id="f", items=items)
    task_runs = [
        _tr("validate", (), "COMPLETED"),
        _tr("ingest", [2], "COMPLETED"),
        _tr("ingest", [3], "COMPLETED"),
        _tr("ingest", [4], "COMPLETED"),
        _tr("ingest", [2, 3, 4], "COMPLETED"),  # the shared audio
        _tr("normalize_audio", [2, 3, 4], "RUNNING"),
        _tr("track_faces", [2], "COMPLETED"),
        _tr("lipsync", [2], "COMPLETED"),
        _tr("blend", [2], "RUNNING"),
        _tr("track_faces", [3], "RUNNING"),
        _tr("track_faces", [4], "FAILED"),
        _tr(None, [3], "FAILED"),  # a task run without a stage tag is not ours: ignored
    ]
    _apply(task_runs, snap, failures={})
    katie, chaplin, broken = items
    assert (katie.status, katie.stage, katie.stage_key) == ("working", "drawing the new mouth", "blend")
    assert (chaplin.status, chaplin.stage) == ("working", "finding the face")
    assert (broken.status, broken.stage_key, broken.message) == ("failed", "track_faces", "")
    assert snap.global_stage == "Preparing the audio…"  # the run's own stage, not a row's
    assert snap.lines() == ["1/3: katie.mp4 — drawing the new mouth", "2/3: chaplin.mp4 — finding the face"]
    assert 0 < snap.fraction < 1 and snap.finished == 1
    # the failed row's own words arrive with the flow's failures artifact, a poll later
    _apply(task_runs, snap, failures={4: "broken.mp4: corrupt or truncated MP4"})
    assert broken.message == "broken.mp4: corrupt or truncated MP4"
    # a row between two tasks is said to be at the next one; published is done
    _apply([_tr("mux", [2], "COMPLETED"), _tr("publish", [3], "COMPLETED")], snap)
    assert (katie.status, katie.stage) == ("working", "checking the result") and chaplin.status == "done"

    progress.finish_items(
        items,
        {
            "rows": [
                {
                    "row": 2,
                    "output": "katie_de.mp4",
                    "status": "done",
                    "key": "runs/r/videos/katie_de.mp4",
                    "message": "",
                    "flagged": False,
                },
                {
                    "row": 3,
                    "output": "chaplin_de.mp4",
                    "status": "done",
                    "key": "runs/r/videos/chaplin_de.mp4",
                    "message": "",
                    "flagged": False,
                },
                {
                    "row": 4,
                    "output": "broken_de.mp4",
                    "status": "failed",
                    "key": None,
                    "message": "broken.mp4: bad",
                    "flagged": False,
                },
            ]
        },
    )
    assert [it.status for it in items] == ["done", "done", "failed"]
    assert katie.key == "runs/r/videos/katie_de.mp4" and broken.message == "broken.mp4: bad"
    assert katie.message == ""

    # a finished video that QA flags (here: a source whose mouth barely opens) says why in the table
    progress.finish_items(
        items,
        {
            "rows": [
                {
                    "row": 2,
                    "output": "katie_de.mp4",
                    "status": "done",
                    "key": "runs/r/videos/katie_de.mp4",
                    "flagged": True,
                    "message": "the source's mouth barely opens",
                }
            ]
        },
    )
    assert katie.status == "done" and katie.message == "flagged: the source's mouth barely opens"
    from webapp.tabs.common import table

    assert "katie_de.mp4 (flagged: the source's mouth barely opens)" in [row[3] for row in table(items)]


def test_progress_reads_no_task_run_names_and_every_stage_has_words():
    """The same task runs under other names give the same picture: names are never read."""
    items = progress.items_for([_row(1, "a.mp4")])
    snap = progress.Snapshot(flow_run_id="f", items=items)
    _apply([_tr("ingest", [1], "COMPLETED", name="x"), _tr("track_faces", [1], "RUNNING", name="y")], snap)
    assert (items[0].status, items[0].stage) == ("working", "finding the face")
    assert set(progress.STAGE_WORDS) == set(runs.STAGES)
    assert set(progress.ITEM_STAGES) <= set(runs.STAGES) and set(progress.RUN_STAGES) <= set(runs.STAGES)
    # retries wait as SCHEDULED, a row behind a failed one as PENDING: neither is a failure
    items = progress.items_for([_row(1, "a.mp4")])
    _apply(
        [
            _tr("ingest", [1], "COMPLETED"),
            _tr("track_faces", [1], "SCHEDULED"),
            _tr("lipsync", [1], "PENDING"),
            _tr("blend", [1], "CRASHED"),
        ],
        progress.Snapshot(flow_run_id="f", items=items),
    )
    assert items[0].status == "failed" and items[0].stage_key == "blend"
    # the artifact's versions (JSON text, as the API returns a table) back to row -> message
    assert progress.failures_from('[{"row": 3, "output": "x.mp4", "message": "x: bad"}]') == {3: "x: bad"}
    assert progress.failures_from("not json") == {} and progress.failures_from([{"row": "3"}]) == {}


def test_the_web_app_reads_no_prefect_wording():
    """No task-run name literal and no pattern over Prefect's messages anywhere in webapp/."""
    import re

    for path in sorted((REPO / "webapp").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "Task run encountered" not in text, path
        assert not re.search(r"\.name\.split\(|tr\.name\b|state\.message", text), path
        assert not re.search(r"f\"(ingest|track faces|lipsync|blend|mux|qa|publish|package) \{", text), path


class _FakeState:
    def __init__(self, value):
        self.value = value
        self.state_details = SimpleNamespace(flow_run_id="00000000-0000-0000-0000-000000000000")
        self.name = "Completed"

    def is_completed(self):
        return True

    def result(self, raise_on_failure=True, _sync=None):  # as Prefect's State.result
        return self.value


def test_jobs_never_run_more_at_once_than_the_concurrency(ctx, monkeypatch):
    running, peak, order = [0], [0], []
    lock = threading.Lock()

    def fake_flow(name, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            order.append(name)
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return _FakeState({"run_id": name})

    monkeypatch.setattr(jobs.FlowJob, "_flow", lambda self: fake_flow)
    started = []
    for i in range(4):
        started.append(jobs.FlowJob(ctx, "single", {"name": f"job{i}"}).start())
        time.sleep(0.05)
    for job in started:
        assert job.done.wait(10)
    assert peak[0] == 1 and order == [f"job{i}" for i in range(4)]  # first come, first served
    assert [job.summary()["run_id"] for job in started] == [f"job{i}" for i in range(4)]
    assert ctx.line.running() == 0 and ctx.line.place(started[-1].ticket).ahead == 0


def test_a_job_whose_page_left_before_its_turn_never_runs(ctx, monkeypatch):
    ran, release = [], threading.Event()

    def fake_flow(name, **kwargs):
        ran.append(name)
        release.wait(10)
        return _FakeState({"run_id": name})

    monkeypatch.setattr(jobs.FlowJob, "_flow", lambda self: fake_flow)
    first = jobs.FlowJob(ctx, "single", {"name": "first"}).start()
    assert first.started.wait(5)
    left = jobs.FlowJob(ctx, "single", {"name": "left"}).start()
    last = jobs.FlowJob(ctx, "single", {"name": "last"}).start()
    assert (left.place().running, left.place().ahead, last.place().ahead) == (1, 0, 1)
    left.abandon()
    assert left.done.wait(5) and left.state is None
    assert last.place().ahead == 0  # it moved up
    release.set()
    assert first.done.wait(10) and last.done.wait(10)
    assert ran == ["first", "last"]


def test_a_crashing_flow_is_a_plain_message(ctx, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs.FlowJob, "_flow", lambda self: boom)
    job = jobs.FlowJob(ctx, "single", {}).start()
    assert job.done.wait(10)
    with pytest.raises(jobs.HeygemError, match="something went wrong on our side .*disk on fire"):
        job.summary()


# ----------------------------------------------------------------------------- history


def _run(ctx, run_id: str, created: str | None, done=1, failed=0, size=1000):
    prefix = f"runs/{run_id}"
    ctx.store.put_bytes(f"{prefix}/videos/a.mp4", b"v" * size)
    if created:
        ctx.store.put_bytes(
            f"{prefix}/manifest.json",
            json.dumps(
                {
                    "run_id": run_id,
                    "created": created,
                    "kind": run_id.split("-")[0],
                    "counts": {"done": done, "failed": failed},
                    "entries": [],
                }
            ).encode(),
        )
    ctx.store.put_bytes(f"{prefix}/{run_id}.zip", b"z")


def test_history_lists_sizes_deletes_and_cleans_up(ctx):
    from webapp.tabs import history

    _run(ctx, "single-20240101-100000-aaaaaaaa", "2024-01-01T10:00:00+00:00")
    _run(ctx, "batch-20240301-100000-bbbbbbbb", "2024-03-01T10:00:00+00:00", done=2, failed=1, size=3000)
    _run(ctx, "course-spring-20240401-100000-cccccccc", None)  # no manifest: time from the run id
    ctx.store.put_bytes("uploads/2024-01-01/abc/old.mp4", b"u" * 10)
    ctx.store.put_bytes(f"uploads/{datetime.now(timezone.utc):%Y-%m-%d}/def/new.mp4", b"u" * 20)
    ctx.store.put_bytes("cache/blend/x.mp4", b"c" * 5)

    found = runs.list_runs(ctx.store)
    assert [r.run_id[:6] for r in found] == ["course", "batch-", "single"]
    assert [history.kind_words(r.kind) for r in found] == ["course “spring”", "many videos", "one video"]
    assert (found[1].done, found[1].failed) == (2, 1) and found[1].zip.endswith(".zip")
    usage = jobs.disk_usage(ctx)
    assert usage["uploads"] == 30 and usage["cache"] == 5 and usage["runs"] == sum(r.size for r in found)
    usage_md, table, picker, ids = history.overview(ctx)
    assert "3 results" in usage_md and ids == [r.run_id for r in found] and picker["value"] == ids[0]
    assert table[0][1:] == ["course “spring”", 1, 0, "1001 bytes"]  # a video and a zip, no manifest yet
    january = found[2].size

    assert runs.delete_run(ctx.store, "batch-20240301-100000-bbbbbbbb") == 3
    with pytest.raises(InputError):
        runs.delete_run(ctx.store, "../cache")
    assert history.open_run(ctx, "batch-20240301-100000-bbbbbbbb")[-1] == "That result is gone (deleted or cleaned up)."
    deleted, freed = jobs.cleanup(ctx, 30, now=datetime(2024, 4, 15, tzinfo=timezone.utc))
    assert deleted == 1 and freed == january + 10  # the January run and January's uploads
    assert [r.run_id[:6] for r in runs.list_runs(ctx.store)] == ["course"]
    assert not ctx.store.exists("uploads/2024-01-01/abc/old.mp4") and ctx.store.exists("cache/blend/x.mp4")
    with pytest.raises(InputError):
        jobs.cleanup(ctx, -1)


@pytest.mark.slow
def test_the_login_guards_the_app(ctx):
    """The app served with a login: nothing but the login page without it (Gradio in-process)."""
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request
    from http.cookiejar import CookieJar

    from webapp.app import create_app, launch

    ui = UISettings.from_env({"HEYGEM_UI_USER": "teacher", "HEYGEM_UI_PASSWORD": "correct horse"})
    demo = create_app(ctx, ui)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(demo, ctx, ui, "127.0.0.1", port, login_for("127.0.0.1", ui), block=False)
    base = f"http://127.0.0.1:{port}"
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/config", timeout=10)
        assert denied.value.code == 401

        def login(password):
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
            body = urllib.parse.urlencode({"username": "teacher", "password": password}).encode()
            try:
                opener.open(f"{base}/login", data=body, timeout=10)
            except urllib.error.HTTPError as err:
                return opener, err.code
            return opener, 200

        _, code = login("wrong")
        assert code in (400, 401)
        opener, code = login("correct horse")
        assert code == 200
        config = json.loads(opener.open(f"{base}/config", timeout=10).read())
        assert config.get("max_file_size") == ui.max_upload_bytes
    finally:
        demo.close()


def test_history_says_which_files_and_languages_a_run_made(ctx):
    """Issue 27 item 8: every run read "one video · 1 video"."""
    from webapp.tabs import history

    run_id = "batch-20240501-100000-dddddddd"
    entries = [
        {
            "lecturer": who,
            "language": lang,
            "output_name": f"{who}_{lang}.mp4",
            "status": "done" if who != "empty_lecture" else "failed",
        }
        for who in ("katie", "chaplin", "week1-lecture", "empty_lecture")
        for lang in ("de",)
    ]
    ctx.store.put_bytes(
        f"runs/{run_id}/manifest.json",
        json.dumps(
            {
                "run_id": run_id,
                "created": "2024-05-01T10:00:00+00:00",
                "kind": "batch",
                "counts": {"done": 3, "failed": 1},
                "entries": entries,
            }
        ).encode(),
    )
    [run] = [r for r in runs.list_runs(ctx.store) if r.run_id == run_id]
    assert history.what_words(run) == "many videos: katie, chaplin +2 more (de)"
    assert history.run_title(run).endswith("· many videos: katie, chaplin +2 more (de) · 3 made, 1 failed")


def test_a_file_refused_on_upload_starts_no_flow_run(ctx, tmp_path):
    """Issue 27 item 8: a truncated video the page had refused on upload still started a flow run
    on Generate. Now Generate refuses it in the same words, before anything runs."""
    from webapp.tabs import single

    from tests.paths import LANGUAGE_AUDIO, VIDEOS

    cut = tmp_path / "cut_short.mp4"
    cut.write_bytes(VIDEOS["katie_8s"].read_bytes()[:20_000])
    ok, said = jobs.describe_upload(str(cut), "video", ctx)
    assert not ok
    steps = single.prepare(ctx, str(cut), str(LANGUAGE_AUDIO["de"]), "de", "")
    with pytest.raises(InputError) as err:
        next(steps)
    assert str(err.value) == said and "cut_short.mp4" in said
