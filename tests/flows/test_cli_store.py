"""``heygem store put|ls`` and ``heygem run store:KEY``: a new operator gets a sheet and its media
into the artifact store (moto's S3 server, or a local folder) without another tool, and every
error names the store key, never a worker's local copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import short_batch_inputs
from tests.paths import REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "cli"]


def heygem(*args: str, **extra: str) -> subprocess.CompletedProcess:
    # the store's settings come from the fixture; no Prefect server may be started (a dead API
    # unless the test gives the session's own)
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api", **extra}
    return subprocess.run([*HEYGEM, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


def one_line_error(done: subprocess.CompletedProcess, code: int = 2) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


@pytest.mark.slow
def test_put_and_ls_on_s3(s3_env, tmp_path):
    sheet = tmp_path / "course.csv"
    sheet.write_text("lecturer,video,language,audio\n")
    done = heygem("store", "put", str(sheet), str(VIDEOS["chaplin_7s"]), "--prefix", "week1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [l for l in done.stdout.splitlines() if l.startswith("store:week1/")]
    assert "store:week1/course.csv" in done.stdout and "store:week1/chaplin_7s.mp4" in done.stdout

    listed = heygem("store", "ls", "week1/")
    assert listed.returncode == 0
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == [
        "store:week1/chaplin_7s.mp4",
        "store:week1/course.csv",
    ]
    again = heygem("store", "put", str(sheet), "--prefix", "week1/")
    assert again.returncode == 0 and "already stored" in again.stdout

    sheet.write_text("lecturer,video,language,audio\nKatie,store:x.mp4,de,store:y.wav\n")
    refused = one_line_error(heygem("store", "put", str(sheet), "--prefix", "week1/"))
    assert "store:week1/course.csv already holds a different file" in refused and "--replace" in refused
    replaced = heygem("store", "put", str(sheet), "--prefix", "week1/", "--replace")
    assert replaced.returncode == 0, replaced.stderr


def test_put_checks_every_file_before_storing_any(s3_env, tmp_path):
    good = tmp_path / "a.csv"
    good.write_text("x\n")
    err = one_line_error(heygem("store", "put", str(good), str(tmp_path / "missing.wav"), "--prefix", "p/"))
    assert "missing.wav: no such file" in err
    assert heygem("store", "ls", "p/").stdout == ""  # the good one was not stored either


def test_run_names_the_store_key(s3_env, tmp_path):
    err = one_line_error(heygem("run", "store:sheets/nothere.csv"))
    assert err.count("\n") == 1 and "store:sheets/nothere.csv: not in the artifact store" in err

    sheet = tmp_path / "paths.csv"
    sheet.write_text(f"lecturer,video,language,audio\nKatie,{VIDEOS['katie_8s']},de,{VIDEOS['katie_8s']}\n")
    assert heygem("store", "put", str(sheet), "--prefix", "sheets/").returncode == 0
    err = one_line_error(heygem("run", "store:sheets/paths.csv", HEYGEM_INPUT_ROOTS=""))
    assert err.startswith("heygem: error: store:sheets/paths.csv: ")
    assert "names its files as store:KEY" in err and "store-objects" not in err and "heygem-sheet-" not in err


@pytest.mark.slow
def test_run_a_sheet_of_store_keys(s3_env, tmp_path, media_factory, prefect_api):
    clip, audio, _ = short_batch_inputs(media_factory, tmp_path)
    assert heygem("store", "put", str(clip), str(audio), "--prefix", "media/").returncode == 0
    sheet = tmp_path / "store_course.csv"
    sheet.write_text(f"lecturer,video,language,audio\nKatie,store:media/{clip.name},de,store:media/{audio.name}\n")
    assert heygem("store", "put", str(sheet), "--prefix", "sheets/").returncode == 0
    done = heygem(
        "run",
        "store:sheets/store_course.csv",
        "-o",
        str(tmp_path / "out"),
        PREFECT_API_URL=prefect_api["PREFECT_API_URL"],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 done, 0 failed" in done.stdout
    [video] = (tmp_path / "out" / "videos").glob("*.mp4")
    assert video.name == "Katie_de.mp4" and video.stat().st_size > 10_000
    assert Path(REPO / "examples" / "course_store.csv").read_text().count("store:media/") == 8
