"""Refused before any work, in one line, by the real ``heygem`` command (issue 27, items 1, 3 and
7): an output that is one of the inputs (the same path, a symbolic link, a hard link), an output
that is not a video file or is a folder, a folder that cannot be written, a transcript too big
or too long for its audio or in the wrong script, a bad flag named as the flag, an unknown
``--language``, a port out of range. Each asserts exit 2, one line, no traceback, every input's
bytes unchanged and nothing left in the output folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS

HEYGEM = [sys.executable, "-m", "cli"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def job(tmp_path):
    """Private copies of a video (2 s) and an audio (9 s) in ``in/``, an empty ``out/``."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    video = src / "katie.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(VIDEOS["katie_8s"]), "-t", "2", "-c", "copy", str(video)], check=True
    )
    audio = Path(shutil.copy(LANGUAGE_AUDIO["de"], src / "de.wav"))
    return {"video": video, "audio": audio, "out": out, "env": {**os.environ, "HEYGEM_CACHE_DIR": str(tmp_path / "c")}}


def refused(
    job, *extra: str, output: Path | None = None, transcript: Path | None = None, language: str | None = None
) -> str:
    inputs = [p for p in job["video"].parent.iterdir()]
    before = {p: _digest(p) for p in inputs}
    out_before = sorted(job["out"].iterdir())
    args = [
        "lipsync",
        "--video",
        str(job["video"]),
        "--audio",
        str(job["audio"]),
        "-o",
        str(output or job["out"] / "talk.mp4"),
        *extra,
    ]
    if transcript is not None:
        args += ["--transcript", str(transcript)]
    if language is not None:
        args += ["--language", language]
    done = subprocess.run([*HEYGEM, *args], capture_output=True, text=True, cwd=REPO, env=job["env"], timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert {p: _digest(p) for p in inputs} == before  # no input touched
    assert sorted(job["out"].iterdir()) == out_before  # nothing left in the output folder
    assert not [p for p in job["video"].parent.iterdir() if p not in before]  # nothing beside the inputs
    return done.stderr


def test_an_output_that_is_an_input_is_refused_whatever_its_name(job):
    same = refused(job, output=job["video"])
    assert "is an input of this job" in same and "never overwrites an input" in same
    link = job["out"] / "link.mp4"
    link.symlink_to(job["audio"])
    assert "is an input of this job" in refused(job, output=link)
    link.unlink()
    hard = job["video"].parent / "hard.mp4"
    os.link(job["video"], hard)
    job_hard = {**job, "out": job["video"].parent}
    assert f"{hard}: is an input of this job" in refused(job_hard, output=hard)


@pytest.mark.parametrize(
    "name, words", [("talk.txt", "not '.txt'"), ("talk", "it has no extension"), ("talk.avi", "not '.avi'")]
)
def test_an_output_that_is_not_a_video_file_is_refused(job, name, words):
    err = refused(job, output=job["out"] / name)
    assert f"{job['out'] / name}: the output must be a video file ending in .mp4, .mov or .mkv ({words})" in err


def test_an_output_that_is_a_folder_is_refused(job):
    assert f"{job['out']}: is a folder" in refused(job, output=job["out"])


def test_a_folder_that_cannot_be_written_is_named_as_given(job, tmp_path):
    """A read-only file system (root may write anywhere else), or a folder without write
    permission for anyone else."""
    ro = tmp_path / "readonly"
    ro.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True
        ).returncode
        == 0
    )
    if os.geteuid() == 0 and not mounted:
        pytest.skip("root without mount: every folder is writable")
    if not mounted:
        ro.chmod(0o500)
    try:
        err = refused(job, output=ro / "talk.mp4")
        assert f"{ro}: cannot write here: " in err and ".part" not in err and "heygem-" not in err
        assert "read-only file system" in err or "permission denied" in err
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        else:
            ro.chmod(0o700)


def test_a_transcript_too_big_is_refused_before_reading(job, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 60_000)  # 300 KB
    err = refused(job, transcript=big)
    assert f"{big}: transcript is 293 KB; the limit is 256 KB" in err


def test_a_transcript_too_long_for_its_audio_is_refused(job, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("Guten Tag " * 500)  # 1000 words for 9 s
    err = refused(job, transcript=long, language="de")
    assert f"{long}: transcript has 1000 words for 9.3 s of audio" in err


def test_a_transcript_in_another_script_is_refused(job, tmp_path):
    japanese = tmp_path / "ja.txt"
    japanese.write_text("今日は良い天気ですね。講義を始めます。")
    err = refused(job, transcript=japanese, language="de")
    assert f"{japanese}: transcript is not written in Latin letters, but the language is 'de'" in err


def test_a_bad_flag_is_named_as_the_flag(job):
    assert "heygem: error: --crf 99: must be a number from 0 to 51" in refused(job, "--crf", "99")


def test_an_unknown_language_is_refused_as_batch_refuses_it(job):
    assert "--language xx: not a language code" in refused(job, language="xx")


def test_a_port_out_of_range_is_refused_in_one_line():
    done = subprocess.run([*HEYGEM, "ui", "--port", "99999"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 2 and done.stderr == "heygem: error: --port 99999: must be from 1 to 65535\n"


@pytest.mark.parametrize("size", ["64k", "2m"])  # full at the face track's write; at the mouth library's
def test_a_full_cache_disk_is_one_line_naming_the_folder_and_its_setting(job, tmp_path, size):
    """Issue 27 item 2: it was a Bus error (exit 135) with a temp folder beside the output and a
    .tmp.npy in the cache. Needs a small file system of its own (root: a tmpfs)."""
    cache = tmp_path / "small-cache"
    cache.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(cache)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs a tmpfs of its own (root)")
    try:
        before = {p: _digest(p) for p in job["video"].parent.iterdir()}
        done = subprocess.run(
            [
                *HEYGEM,
                "lipsync",
                "--video",
                str(job["video"]),
                "--audio",
                str(job["audio"]),
                "-o",
                str(job["out"] / "talk.mp4"),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**job["env"], "HEYGEM_CACHE_DIR": str(cache)},
            timeout=300,
        )
        assert done.returncode == 1, done.stderr
        [line] = [x for x in done.stderr.splitlines() if not x.startswith(("WARNING", " "))]
        assert line == (
            f"heygem: failed: {cache}: no space left on device (disk full) (the cache folder, "
            f"HEYGEM_CACHE_DIR); free space there or set HEYGEM_CACHE_DIR to a folder on another disk"
        )
        assert "Traceback" not in done.stderr
        assert list(job["out"].iterdir()) == []  # no scratch folder, no .part file
        assert not [p for p in cache.rglob("*") if ".tmp" in p.name or ".part" in p.name]
        assert {p: _digest(p) for p in job["video"].parent.iterdir()} == before
    finally:
        subprocess.run(["umount", str(cache)], check=True)
