"""The probing module on its own (its answers are tested with the media I/O, test_media.py)."""

import subprocess
import sys

import pytest

from heygem_core import media, pipeline, probe
from heygem_core.config import Settings
from tests.paths import LANGUAGE_AUDIO, VIDEOS


def test_probing_loads_neither_numpy_nor_opencv():
    # The command line starts its probes before it loads the rest of heygem: that only
    # saves time while probing needs none of it.
    code = (
        "import sys, heygem_core.probe as p; p.probe_video(sys.argv[1]); "
        "print(sorted(m for m in ('numpy', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(VIDEOS["katie_8s"])], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_media_hands_out_the_same_probes():
    assert media.probe_video is probe.probe_video and media.VideoInfo is probe.VideoInfo


@pytest.mark.slow
def test_a_job_given_its_probes_does_not_probe_again(tmp_path, monkeypatch):
    info = media.probe_video(VIDEOS["katie_8s"])
    sound = media.probe_audio(LANGUAGE_AUDIO["fr"])

    def no_probe(path):
        pytest.fail(f"probed {path} again")

    monkeypatch.setattr(media, "probe_video", no_probe)
    monkeypatch.setattr(media, "probe_audio", no_probe)
    result = pipeline.lipsync(info, sound, tmp_path / "out.mp4", settings=Settings(cache_dir=tmp_path / "c"))
    assert result.n_frames == round(sound.duration * 25)
