"""A real web job followed as the page follows it: ``FlowJob`` runs the batch flow on the
session's Prefect server, ``follow`` reads its task runs' tags and states and the flow's
failures artifact; what it shows must agree with the flow's own summary."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.paths import FIXTURES, LANGUAGE_AUDIO, VIDEOS

pytestmark = pytest.mark.slow


def test_a_batch_job_is_followed_from_tags_states_and_the_failures_artifact(tmp_path, media_factory, prefect_api,
                                                                             monkeypatch):
    from webapp import jobs, progress

    for name, value in prefect_api.items():  # the flow runs in a worker thread, which reads Prefect's env
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HEYGEM_STORE", "local")
    monkeypatch.setenv("HEYGEM_ARTIFACT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("HEYGEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HEYGEM_INPUT_ROOTS", str(FIXTURES))
    ctx = jobs.WebContext.create(prefect_api["PREFECT_API_URL"], max_upload_bytes=20 << 20)
    clip = shutil.copy(media_factory.ffmpeg("katie_2s.mp4", "-i", str(VIDEOS["katie_8s"]), "-t", "2", "-c:v",
                                            "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"), tmp_path)
    audio = shutil.copy(media_factory.ffmpeg("de_2s.wav", "-i", str(LANGUAGE_AUDIO["de"]), "-t", "2"), tmp_path)
    faceless = tmp_path / "faceless.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
                    "-pix_fmt", "yuv420p", str(faceless)], check=True)

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
