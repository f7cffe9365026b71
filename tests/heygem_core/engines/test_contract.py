"""The engine contract: an engine is one class and one registry line, it gets the new audio,
it is built once per process, and its version keys its own cached motions."""
from dataclasses import replace

import numpy as np
import pytest

from heygem_core import engines, media, pipeline
from heygem_core.config import Settings
from heygem_core.engines import EngineJob, Motion
from tests.paths import LANGUAGE_AUDIO, VIDEOS


class LoudnessEngine:
    """A trivial engine: it decides nothing but records the new audio's level per frame
    (proving drive() hears the sound), and keeps every frame as recorded."""

    name = "loudness"
    version = "loudness-1"
    built = 0

    def __init__(self, settings: Settings):
        type(self).built += 1

    def drive(self, job: EngineJob) -> Motion:
        assert job.sound is not None and job.sound.sr > 0
        per_frame = np.array_split(job.sound.pcm, len(job.base_index))
        level = np.array([float(np.sqrt(np.mean(c.astype(np.float64) ** 2))) if len(c) else 0.0 for c in per_frame])
        return Motion(engine=self.version, base_index=np.asarray(job.base_index, np.int64),
                      arrays={"level": level.astype(np.float32)})

    def patches(self, job, motion):
        for _ in range(motion.n_frames):
            yield None


@pytest.fixture
def loudness_engine(monkeypatch):
    monkeypatch.setitem(engines.ENGINES, "loudness", LoudnessEngine)  # the one registry line
    engines._built.cache_clear()
    LoudnessEngine.built = 0
    yield LoudnessEngine
    engines._built.cache_clear()


def test_a_new_engine_runs_end_to_end_and_hears_the_audio(tmp_path, loudness_engine):
    settings = Settings(cache_dir=tmp_path / "cache", engine="loudness")
    out = tmp_path / "out.mp4"
    result = pipeline.lipsync(VIDEOS["katie_8s"], LANGUAGE_AUDIO["de"], out, settings=settings)
    assert result.engine == "loudness-1"
    assert out.exists() and result.n_frames > 200
    # built once for the whole job (drive and render both asked for it)
    assert loudness_engine.built == 1
    info = media.probe_video(VIDEOS["katie_8s"])
    motion = pipeline.drive(info, pipeline.track_video(info, settings), LANGUAGE_AUDIO["de"], transcript=None,
                            language="de", settings=settings)
    level = motion.arrays["level"]
    assert len(level) == motion.n_frames and level.max() > 5 * max(level.min(), 1e-6)
    assert loudness_engine.built == 1


def test_engines_are_built_once_per_settings(loudness_engine, tmp_path):
    a = Settings(cache_dir=tmp_path, engine="loudness")
    assert engines.get_engine("loudness", a) is engines.get_engine("loudness", replace(a))
    other = engines.get_engine("loudness", replace(a, max_open_stretch=1.1))
    assert other is not engines.get_engine("loudness", a)
    assert loudness_engine.built == 2


def test_an_unknown_engine_is_named():
    from heygem_core.errors import InputError

    with pytest.raises(InputError, match="unknown engine 'nope'.*exemplar"):
        engines.get_engine("nope", Settings())
