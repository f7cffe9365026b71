"""``heygem run`` / ``heygem batch`` / the single flow, as a user meets them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from heygem_core import media
from tests.flows.conftest import write_sheet
from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "cli"]


def test_run_rejects_a_bad_sheet_before_starting_anything(tmp_path):
    sheet = write_sheet(
        tmp_path / "bad.csv",
        [
            {
                "lecturer": "katie",
                "video": str(VIDEOS["katie_8s"]),
                "language": "de",
                "audio": str(LANGUAGE_AUDIO["de"]),
            },
            {"lecturer": "katie", "video": "nope.mp4", "language": "klingonish", "audio": str(LANGUAGE_AUDIO["de"])},
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["HEYGEM_PREFECT_PORT"] = "1"  # nothing may be started for a bad sheet
    done = subprocess.run(
        [*HEYGEM, "run", str(sheet), "--input-root", str(VIDEOS["katie_8s"].parents[1]), "--input-root", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 2
    assert "row 3, column 'video'" in done.stderr and "klingonish" in done.stderr
    assert "Traceback" not in done.stderr and "starting a local Prefect server" not in done.stderr


@pytest.mark.slow
def test_run_with_skip_invalid_runs_the_valid_rows_and_lists_the_others(heygem_env, prefect_api):
    sheet = write_sheet(
        heygem_env / "mixed.csv",
        [
            {
                "lecturer": "katie",
                "video": str(VIDEOS["katie_8s"]),
                "language": "de",
                "audio": str(LANGUAGE_AUDIO["de"]),
            },
            {"lecturer": "katie", "video": "nope.mp4", "language": "fr", "audio": str(LANGUAGE_AUDIO["fr"])},
        ],
    )
    out = heygem_env / "out"
    done = subprocess.run(
        [*HEYGEM, "run", str(sheet), "--skip-invalid", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **prefect_api},
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "row 3 (katie_fr.mp4) will not be run: video: file not found" in done.stderr
    assert "1 done, 1 failed" in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert [p.name for p in (out / "videos").iterdir()] == ["katie_de.mp4"]
    assert "file not found" in (out / "report.csv").read_text()


@pytest.mark.slow
def test_batch_command_runs_the_good_videos_and_names_the_bad_ones(heygem_env, prefect_api, quiet_source):
    out = heygem_env / "out"
    empty = heygem_env / "empty.mp4"
    empty.write_bytes(b"")
    faceless = heygem_env / "faceless.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-pix_fmt",
            "yuv420p",
            str(faceless),
        ],
        check=True,
    )
    quiet = shutil.copy(quiet_source, heygem_env / quiet_source.name)  # inside the allowed input folders
    env = {**os.environ, **prefect_api}
    done = subprocess.run(
        [
            *HEYGEM,
            "batch",
            "--audio",
            str(LANGUAGE_AUDIO["fr"]),
            "--language",
            "fr",
            str(VIDEOS["katie_8s"]),
            str(empty),
            str(VIDEOS["chaplin_7s"]),
            str(faceless),
            str(quiet),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 1, said[-3000:]  # documented: 1 = finished, some videos failed
    assert "3 done, 2 failed" in done.stdout
    assert "Traceback" not in said
    for bad, why in ((empty, "file is empty"), (faceless, "no face")):
        lines = [line for line in said.splitlines() if bad.stem in line]
        assert 1 <= len(lines) <= 6 and any(why in line for line in lines), said[-3000:]
    assert "dashboard: http://127.0.0.1" in done.stdout and "/runs/flow-run/" in done.stdout
    video = out / "videos" / "katie_8s_fr.mp4"
    info = media.probe_video(video)
    assert abs(info.duration - media.probe_audio(LANGUAGE_AUDIO["fr"]).duration) < 0.2
    assert sorted(p.name for p in (out / "videos").iterdir()) == [
        "chaplin_7s_fr.mp4",
        "katie_8s_fr.mp4",
        "quiet_katie_fr.mp4",
    ]
    report = (out / "report.csv").read_text()
    assert report.count(",done,") == 3 and "file is empty" in report and "no face" in report
    # the quiet source is made, but flagged, and says why (here and in the report), alone
    flagged = [line for line in done.stdout.splitlines() if line.strip().startswith("flagged:")]
    assert len(flagged) == 1 and "quiet_katie_fr.mp4" in flagged[0] and "barely opens" in flagged[0], done.stdout
    assert report.count("barely opens") == 1
    summary = json.loads((out / "summary.json").read_text())
    assert (out / f"{summary['run_id']}.zip").is_file()


@pytest.mark.slow
def test_single_flow_on_the_s3_store(s3_env):
    from flows.single import single
    from heygem_core.config import Settings
    from heygem_core.store import open_store

    summary = single(
        video=str(VIDEOS["chaplin_7s"]), audio=str(LANGUAGE_AUDIO["en"]), language="en", lecturer="Charlie Chaplin"
    )
    assert summary["done"] == 1 and summary["store"].startswith("s3")
    store = open_store(Settings.from_env())
    key = summary["outputs"][0]
    assert key.endswith("/videos/Charlie_Chaplin_en.mp4")
    info = media.probe_video(store.local_path(key))
    assert (info.width, info.height) == (media.probe_video(VIDEOS["chaplin_7s"]).width, 480)
    assert summary["zip_url"].startswith("http://127.0.0.1") and "X-Amz-Signature" in summary["zip_url"]
