"""A real web job followed as the page follows it: ``FlowJob`` runs the batch flow on the
session's Prefect server, ``follow`` reads its task runs' tags and states and the flow's
failures artifact; what it shows must agree with the flow's own summary."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import short_batch_inputs

pytestmark = pytest.mark.slow


def test_a_batch_job_is_followed_from_the_task_map_states_and_the_failures_artifact(tmp_path, media_factory,
                                                                                     web_context):
    from webapp import jobs, progress

    ctx = web_context(20 << 20)
    clip, audio, faceless = short_batch_inputs(media_factory, tmp_path)

    aref = jobs.stage_upload(jobs.check_upload(audio, "an audio file", jobs.AUDIO_EXTENSIONS, ctx), ctx)
    vrefs = [jobs.stage_upload(jobs.check_upload(v, "a video", jobs.VIDEO_EXTENSIONS, ctx), ctx)
             for v in (clip, faceless)]
    rows = jobs.check_jobs([{"lecturer": Path(v).stem, "video": v, "language": "de", "audio": aref,
                             "transcript": "", "title": "", "output": ""} for v in vrefs], ctx)
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
    assert any(title == good.title and status == "working" and stage in progress.ITEM_STAGES
               for title, status, stage in seen), seen
    progress.finish_items(items, summary)
    assert good.key == summary["outputs"][0] and bad.message == failure["message"]
