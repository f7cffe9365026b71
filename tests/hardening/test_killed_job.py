"""A real ``heygem lipsync`` killed mid-render (SIGKILL: no ``finally`` runs) leaves a ``.part``
file beside its output and a scratch folder in the cache; ``heygem gc`` removes the scratch
folder, and the next job writing that output removes the ``.part`` file (issue 27, item 4).
Scratch never lives beside the output. The inputs' bytes never change."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import LECTURE_60S, REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "cli"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_killed_job_leaves_nothing_the_next_one_and_gc_do_not_remove(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    video = Path(shutil.copy(VIDEOS["katie_8s"], src / "katie.mp4"))
    audio = Path(shutil.copy(LECTURE_60S, src / "lecture.wav"))
    before = {p: _digest(p) for p in (video, audio)}
    out, cache = tmp_path / "out", tmp_path / "cache"
    out.mkdir()
    env = {**os.environ, "HEYGEM_CACHE_DIR": str(cache)}
    cmd = [*HEYGEM, "lipsync", "--video", str(video), "--audio", str(audio), "-o", str(out / "talk.mp4"), "--no-qa"]

    job = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 300
    while not list(out.glob(".talk.*.part.mp4")):  # rendering: the output's temp file exists
        assert job.poll() is None, "the job ended before it was killed"
        assert time.monotonic() < end, "no .part file appeared"
        time.sleep(0.2)
    time.sleep(0.5)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    parts = list(out.glob(".talk.*.part.mp4"))
    scratch = [p for p in (cache / "work").iterdir()]
    assert parts and scratch, (parts, scratch)  # what a killed job leaves
    assert sorted(p.name for p in out.iterdir()) == [parts[0].name]  # scratch is not beside the output

    gc = subprocess.run(
        [*HEYGEM, "gc", "--older-than", "3650d"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert gc.returncode == 0, gc.stderr
    assert list((cache / "work").iterdir()) == []  # gc swept the dead job's scratch

    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["talk.mp4"]  # the .part file is gone
    assert list((cache / "work").iterdir()) == []
    assert {p: _digest(p) for p in (video, audio)} == before
