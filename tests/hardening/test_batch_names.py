"""``heygem batch week1/lecture.mp4 week2/lecture.mp4``: two lecturers' files with the same name
are normal; both are made, named after their folders (issue 27, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import short_batch_inputs
from tests.paths import REPO


@pytest.mark.slow
def test_batch_of_same_named_videos_from_two_folders(tmp_path, media_factory, prefect_api):
    clip, audio, _ = short_batch_inputs(media_factory, tmp_path)
    for week in ("week1", "week2"):
        (tmp_path / week).mkdir()
        (tmp_path / week / "lecture.mp4").write_bytes(clip.read_bytes())
    env = {
        **os.environ,
        **prefect_api,
        "HEYGEM_STORE": "local",
        "HEYGEM_ARTIFACT_DIR": str(tmp_path / "store"),
        "HEYGEM_CACHE_DIR": str(tmp_path / "cache"),
        "HEYGEM_INPUT_ROOTS": str(tmp_path),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "batch",
            "--audio",
            str(audio),
            "--language",
            "de",
            str(tmp_path / "week1" / "lecture.mp4"),
            str(tmp_path / "week2" / "lecture.mp4"),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 done, 0 failed" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out" / "videos").iterdir()) == [
        "week1-lecture_de.mp4",
        "week2-lecture_de.mp4",
    ]
