"""A real web job followed as the page follows it: ``FlowJob`` runs the batch flow on the
session's Prefect server, ``follow`` reads its task runs' tags and states and the flow's
failures artifact; what it shows must agree with the flow's own summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import short_batch_inputs

pytestmark = pytest.mark.slow


def test_a_batch_job_is_followed_from_the_task_map_states_and_the_failures_artifact(
    tmp_path, media_factory, web_context
):
    from webapp import jobs, progress

    ctx = web_context(20 << 20)
    clip, audio, faceless = short_batch_inputs(media_factory, tmp_path)

    aref = jobs.stage_upload(jobs.check_upload(audio, "an audio file", jobs.AUDIO_EXTENSIONS, ctx), ctx)
    vrefs = [
        jobs.stage_upload(jobs.check_upload(v, "a video", jobs.VIDEO_EXTENSIONS, ctx), ctx) for v in (clip, faceless)
    ]
    rows = jobs.check_jobs(
        [
            {
                "lecturer": Path(v).stem,
                "video": v,
                "language": "de",
                "audio": aref,
                "transcript": "",
                "title": "",
                "output": "",
            }
            for v in vrefs
        ],
        ctx,
    )
    items = progress.items_for(rows)
    job = jobs.FlowJob(ctx, "batch", dict(audio=aref, videos=vrefs, language="de", transcript=None)).start()
    seen = []  # (item, status, stage_key) as the page saw them
    for snap in jobs.follow(job, items, every=0.5):
        seen += [(it.title, it.status, it.stage_key) for it in snap.items]
    summary = job.summary()

    good, bad = items
    # the last picture, before the summary is read, already agrees with it
    assert snap.flow_run_id == summary["flow_run_id"] == job.flow_run_id
    assert (good.status, good.stage_key) == ("done", "publish"), seen
    [failure] = summary["failures"]
    assert (bad.status, bad.stage_key) == ("failed", "track_faces")
    assert bad.message == failure["message"] and "no face" in bad.message  # the flow's words, from its artifact
    assert any(
        title == good.title and status == "working" and stage in progress.ITEM_STAGES for title, status, stage in seen
    ), seen
    progress.finish_items(items, summary)
    assert good.key == summary["outputs"][0] and bad.message == failure["message"]


def test_a_refused_upload_is_a_failed_row_of_the_run(tmp_path, media_factory, web_context):
    """Issue 27 item 6: an empty video refused at upload was shown failed on the page but was
    missing from report.csv, the manifest, the zip and History's failure count."""
    import zipfile

    from flows import runs
    from webapp import jobs, progress
    from webapp.tabs import batch as batch_tab

    ctx = web_context(20 << 20)
    clip, audio, _ = short_batch_inputs(media_factory, tmp_path)
    empty = tmp_path / "empty_lecture.mp4"
    empty.write_bytes(b"")
    steps = batch_tab.prepare(ctx, str(audio), [str(clip), str(empty)], "de", "")
    try:
        while True:
            next(steps)
    except StopIteration as stop:
        sub = stop.value
    assert sub.kwargs["refused"] and sub.kwargs["refused"][0]["name"] == "empty_lecture.mp4"
    job = jobs.FlowJob(ctx, "batch", sub.kwargs).start()
    job.done.wait(600)
    summary = job.summary()
    assert (summary["done"], summary["failed"]) == (1, 1)
    [failure] = summary["failures"]
    assert failure["row"] == 2 and failure["output"] == "empty_lecture_de.mp4" and "empty" in failure["message"]
    progress.finish_items(sub.items, summary)
    assert [it.status for it in sub.items] == ["done", "failed"]

    report = ctx.store.get_bytes(summary["report.csv"]).decode()
    assert "empty_lecture_de.mp4" in report and "failed" in report
    with zipfile.ZipFile(ctx.store.local_path(summary["zip"])) as z:
        manifest = z.read("manifest.json").decode()
    assert "empty_lecture_de.mp4" in manifest
    [run] = [r for r in runs.list_runs(ctx.store) if r.run_id == summary["run_id"]]
    assert (run.done, run.failed) == (1, 1)  # what History shows
