"""Every bad input ends in one clear line naming the file, exit code 2, and no output file."""

import subprocess
import sys

import pytest

from cli import main
from tests.paths import LANGUAGE_AUDIO, VIDEOS


@pytest.fixture(scope="module")
def bad(media_factory):
    f = media_factory
    return {
        "zero": f.write_bytes("zero.mp4", b""),
        "garbage": f.write_bytes("garbage.mp4", b"this is not a video at all\n" * 200),
        "truncated": f.truncated("truncated.mp4", VIDEOS["chaplin_7s"], 0.5),
        "audio_only": f.ffmpeg("audio_only.mp4", "-i", str(LANGUAGE_AUDIO["en"]), "-c:a", "aac"),
        "silent": f.ffmpeg("silent.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3"),
        "empty_audio": f.ffmpeg("empty.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0"),
        "faceless": f.ffmpeg(
            "faceless.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-pix_fmt", "yuv420p"
        ),
    }


def _fails(tmp_path, capsys, video, audio, *extra):
    out = tmp_path / "out.mp4"
    code = main(
        [
            "lipsync",
            "--cache-dir",
            str(tmp_path / "c"),
            "--video",
            str(video),
            "--audio",
            str(audio),
            "-o",
            str(out),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert not out.exists(), "no partial output may be left behind"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("heygem-")] == []
    return err


@pytest.mark.parametrize(
    "case, words",
    [
        ("zero", ["zero.mp4", "empty"]),
        ("garbage", ["garbage.mp4"]),
        ("truncated", ["truncated.mp4"]),
        ("audio_only", ["audio_only.mp4", "no video stream"]),
        ("faceless", ["faceless.mp4", "no face"]),
    ],
)
def test_bad_video(tmp_path, capsys, bad, case, words):
    err = _fails(tmp_path, capsys, bad[case], LANGUAGE_AUDIO["en"])
    for w in words:
        assert w in err.lower() or w in err, err


@pytest.mark.parametrize(
    "case, words",
    [
        ("silent", ["silent.wav", "silent"]),
        ("empty_audio", ["empty.wav"]),
    ],
)
def test_bad_audio(tmp_path, capsys, bad, case, words):
    err = _fails(tmp_path, capsys, VIDEOS["katie_8s"], bad[case])
    for w in words:
        assert w in err, err


def test_video_without_sound_as_audio(tmp_path, capsys):
    err = _fails(tmp_path, capsys, VIDEOS["katie_8s"], VIDEOS["sun_silent_22s"])
    assert "sun_silent_22s.mp4" in err and "no audio" in err


def test_missing_files(tmp_path, capsys):
    err = _fails(tmp_path, capsys, tmp_path / "nope.mp4", LANGUAGE_AUDIO["en"])
    assert "nope.mp4" in err
    err = _fails(tmp_path, capsys, VIDEOS["katie_8s"], tmp_path / "gone.wav")
    assert "gone.wav" in err
    err = _fails(tmp_path, capsys, VIDEOS["katie_8s"], LANGUAGE_AUDIO["en"], "--transcript", str(tmp_path / "t.txt"))
    assert "t.txt" in err


def test_help_is_complete():
    out = subprocess.run([sys.executable, "-m", "cli", "lipsync", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--video", "--audio", "--output", "--transcript", "--engine", "--tracker", "--language"):
        assert flag in out.stdout
