"""``heygem lipsync`` says how the output came out: a QA line after "wrote", a warning up
front when the source's mouth barely opens, and with ``--strict`` exit 3 for a flagged output."""

import json

import pytest

from heygem_core import quality
from cli import EXIT_FLAGGED, main
from heygem_core.config import Settings
from heygem_core.track import track_video
from tests.paths import LANGUAGE_AUDIO, VIDEOS


@pytest.mark.slow
def test_the_source_check_tells_a_quiet_source_from_speaking_ones(quiet_source, tmp_path):
    settings = Settings(cache_dir=tmp_path)
    quiet = track_video(quiet_source, settings)
    assert quality.source_range(quiet) < quality.MIN_SOURCE_RANGE
    assert "barely opens" in quality.source_warning(quiet)
    for name in ("katie_8s", "chaplin_7s"):  # the fixtures' speaking faces
        assert quality.source_warning(track_video(VIDEOS[name], settings)) is None


def _lipsync(tmp_path, video, *extra):
    out = tmp_path / "out.mp4"
    code = main(
        [
            "lipsync",
            "--cache-dir",
            str(tmp_path / "c"),
            "--video",
            str(video),
            "--audio",
            str(LANGUAGE_AUDIO["de"]),
            "--language",
            "de",
            "-o",
            str(out),
            *extra,
        ]
    )
    return code, out


@pytest.mark.slow
def test_a_normal_job_prints_its_qa_line(tmp_path, capsys):
    code, out = _lipsync(tmp_path, VIDEOS["katie_8s"], "--strict")
    said = capsys.readouterr()
    assert code == 0 and out.exists()
    qa = [line for line in said.out.splitlines() if line.startswith("QA: ")]
    assert len(qa) == 1 and "not flagged" in qa[0], said.out
    assert float(qa[0].split()[2]) >= Settings().qa_min_sync
    assert "warning" not in said.err and not out.with_suffix(".qa.json").exists()


@pytest.mark.slow
def test_a_quiet_source_is_said_up_front_and_strict_exits_3(tmp_path, capsys, quiet_source):
    code, out = _lipsync(tmp_path, quiet_source)
    said = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "heygem: warning: the source's mouth barely opens" in said.err
    assert "use a take where the lecturer speaks" in said.err
    assert "FLAGGED" in said.out and "barely opens" in said.out

    code, out = _lipsync(tmp_path, quiet_source, "--strict")
    said = capsys.readouterr()
    assert code == EXIT_FLAGGED == 3
    assert out.exists(), "a flagged output is kept"
    figures = json.loads(out.with_suffix(".qa.json").read_text())
    assert figures["flagged"] and any("barely opens" in r for r in figures["reasons"])
    assert "Traceback" not in said.err
