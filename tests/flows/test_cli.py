"""``heygem run`` / ``heygem batch`` / the single flow, as a user meets them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from heygem_core import media
from tests.flows.conftest import write_sheet
from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "heygem_core.cli"]


def test_run_rejects_a_bad_sheet_before_starting_anything(tmp_path):
    sheet = write_sheet(tmp_path / "bad.csv", [
        {"lecturer": "katie", "video": str(VIDEOS["katie_8s"]), "language": "de", "audio": str(LANGUAGE_AUDIO["de"])},
        {"lecturer": "katie", "video": "nope.mp4", "language": "klingonish", "audio": str(LANGUAGE_AUDIO["de"])},
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["HEYGEM_PREFECT_PORT"] = "1"  # nothing may be started for a bad sheet
    done = subprocess.run([*HEYGEM, "run", str(sheet), "--input-root", str(VIDEOS["katie_8s"].parents[1]),
                           "--input-root", str(tmp_path)], capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 2
    assert "row 3, column 'video'" in done.stderr and "klingonish" in done.stderr
    assert "Traceback" not in done.stderr and "starting a local Prefect server" not in done.stderr


@pytest.mark.slow
def test_batch_command_writes_videos_zip_and_report(heygem_env, prefect_api):
    out = heygem_env / "out"
    env = {**os.environ, **prefect_api}
    done = subprocess.run([*HEYGEM, "batch", "--audio", str(LANGUAGE_AUDIO["fr"]), "--language", "fr",
                           str(VIDEOS["katie_8s"]), "-o", str(out)], capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "dashboard: http://127.0.0.1" in done.stdout and "/runs/flow-run/" in done.stdout
    video = out / "videos" / "katie_8s_fr.mp4"
    info = media.probe_video(video)
    assert abs(info.duration - media.probe_audio(LANGUAGE_AUDIO["fr"]).duration) < 0.2
    assert (out / "report.csv").read_text().count("done") == 1
    summary = json.loads((out / "summary.json").read_text())
    assert (out / f"{summary['run_id']}.zip").is_file()


@pytest.mark.slow
def test_single_flow_on_the_s3_store(s3_env):
    from flows.single import single
    from heygem_core.config import Settings
    from heygem_core.store import open_store

    summary = single(video=str(VIDEOS["chaplin_7s"]), audio=str(LANGUAGE_AUDIO["en"]), language="en",
                     lecturer="Charlie Chaplin")
    assert summary["done"] == 1 and summary["store"].startswith("s3")
    store = open_store(Settings.from_env())
    key = summary["outputs"][0]
    assert key.endswith("/videos/Charlie_Chaplin_en.mp4")
    info = media.probe_video(store.local_path(key))
    assert (info.width, info.height) == (media.probe_video(VIDEOS["chaplin_7s"]).width, 480)
    assert summary["zip_url"].startswith("http://127.0.0.1") and "X-Amz-Signature" in summary["zip_url"]
