"""The engine contract: an engine is one class and one registry line, it gets the new audio,
it is built once per process, and its version keys its own cached motions."""

from dataclasses import replace

import pytest

from heygem_core import engines, media, pipeline
from heygem_core.config import Settings
from heygem_core.config import SettingsError
from tests.heygem_core.engines.loudness_engine import LoudnessEngine
from tests.paths import LANGUAGE_AUDIO, VIDEOS


@pytest.fixture
def loudness_engine(monkeypatch):
    # the one registry line (as a "module:Class" string, like the shipped engines)
    monkeypatch.setitem(engines.ENGINES.builtin, "loudness", "tests.heygem_core.engines.loudness_engine:LoudnessEngine")
    engines.ENGINES.forget()
    LoudnessEngine.built = 0
    yield LoudnessEngine
    engines.ENGINES.forget()


@pytest.mark.slow
def test_a_new_engine_runs_end_to_end_and_hears_the_audio(tmp_path, loudness_engine):
    settings = Settings(cache_dir=tmp_path / "cache", engine="loudness")
    out = tmp_path / "out.mp4"
    result = pipeline.lipsync(VIDEOS["katie_8s"], LANGUAGE_AUDIO["de"], out, settings=settings)
    assert result.engine == "loudness-1"
    assert out.exists() and result.n_frames > 200
    # built once for the whole job (drive and render both asked for it)
    assert loudness_engine.built == 1
    info = media.probe_video(VIDEOS["katie_8s"])
    motion = pipeline.drive(
        info,
        pipeline.track_video(info, settings),
        LANGUAGE_AUDIO["de"],
        transcript=None,
        language="de",
        settings=settings,
    )
    level = motion.arrays["level"]
    assert len(level) == motion.n_frames and level.max() > 5 * max(level.min(), 1e-6)
    assert loudness_engine.built == 1


def test_engines_are_built_once_per_own_settings(loudness_engine, tmp_path):
    a = Settings(cache_dir=tmp_path, engine="loudness")
    assert engines.get_engine("loudness", a) is engines.get_engine("loudness", replace(a, crf=30))
    other = engines.get_engine("loudness", a.replace(engine_options={"loudness_floor": "0.01"}))
    assert other is not engines.get_engine("loudness", a) and other.options.floor == 0.01
    assert loudness_engine.built == 2


def test_an_engine_reads_its_own_namespaced_settings(loudness_engine):
    env = {"HEYGEM_ENGINE": "loudness", "HEYGEM_LOUDNESS_FLOOR": "0.02"}
    settings = Settings.from_env(env).check()
    assert engines.options_for("loudness", settings).floor == 0.02
    for bad, says in (
        ("abc", "HEYGEM_LOUDNESS_FLOOR=abc: must be a number"),
        ("7", "HEYGEM_LOUDNESS_FLOOR=7.0: must be from 0 to 1"),
    ):
        with pytest.raises(SettingsError, match=says):
            Settings.from_env({**env, "HEYGEM_LOUDNESS_FLOOR": bad}).check()
    with pytest.raises(SettingsError, match="HEYGEM_LOUDNESS_FLOR: engine loudness has no setting 'flor'"):
        Settings.from_env({**env, "HEYGEM_LOUDNESS_FLOR": "1"}).check()


def test_the_old_name_of_an_engine_setting_still_works(caplog, monkeypatch):
    from heygem_core import config

    monkeypatch.setattr(config, "_warned", set())  # said once per process
    settings = Settings.from_env({"HEYGEM_MAX_OPEN_STRETCH": "1.2"})
    assert engines.options_for("exemplar", settings).max_open_stretch == 1.2
    assert "HEYGEM_MAX_OPEN_STRETCH is deprecated: use HEYGEM_EXEMPLAR_MAX_OPEN_STRETCH" in caplog.text
    new = Settings.from_env({"HEYGEM_EXEMPLAR_MAX_OPEN_STRETCH": "1.1"})
    assert engines.options_for("exemplar", new).max_open_stretch == 1.1


def test_an_unknown_engine_is_named():
    from heygem_core.errors import InputError

    with pytest.raises(InputError, match="unknown engine 'nope'.*exemplar"):
        engines.get_engine("nope", Settings())
