"""Phones kept on disk by content: an audio is aligned once, whatever asks for it again."""

import logging

import numpy as np

import pytest

from heygem_core.phonetics import cache
from heygem_core.phonetics.types import Phone

TEXT = "Guten Tag, meine Damen und Herren."


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = cache.align

    def align(pcm, sr, transcript=None, language="en"):
        calls.append((transcript, language))
        return real(pcm, sr, transcript=transcript, language=language)

    monkeypatch.setattr(cache, "align", align)
    return calls


def test_an_audio_is_aligned_once(fixture_audio, tmp_path, counted):
    pcm = fixture_audio("de_9s.wav")
    first = cache.aligned(pcm, 16000, cache_dir=tmp_path)
    again = cache.aligned(pcm, 16000, language="de", cache_dir=tmp_path)  # blind: language unused
    assert again == first and len(counted) == 1
    assert all(isinstance(p, Phone) for p in again) and len(again) > 20
    scripted = cache.aligned(pcm, 16000, TEXT, "de", cache_dir=tmp_path)
    assert cache.aligned(pcm, 16000, TEXT, "de", cache_dir=tmp_path) == scripted
    assert len(counted) == 2 and scripted != first
    cache.aligned(pcm, 16000, TEXT, "en", cache_dir=tmp_path)  # another language, another plan
    cache.aligned(pcm[16000:], 16000, cache_dir=tmp_path)  # another audio
    assert len(counted) == 4


def test_without_a_cache_dir_it_aligns_every_time(fixture_audio, counted):
    pcm = fixture_audio("en_radio_8s.wav")[: 4 * 16000]
    assert cache.aligned(pcm, 16000) == cache.aligned(pcm, 16000)
    assert len(counted) == 2


def test_a_damaged_entry_is_aligned_again(fixture_audio, tmp_path, counted, caplog):
    pcm = fixture_audio("en_radio_8s.wav")[: 4 * 16000]
    first = cache.aligned(pcm, 16000, cache_dir=tmp_path)
    [path] = (tmp_path / "phones").rglob("*.json")
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger=cache.__name__):
        assert cache.aligned(pcm, 16000, cache_dir=tmp_path) == first
    assert "ignoring damaged phone cache" in caplog.text and len(counted) == 2
    assert cache.aligned(pcm, 16000, cache_dir=tmp_path) == first and len(counted) == 2  # rewritten


def test_the_key_follows_what_decides_the_phones(fixture_audio, monkeypatch):
    from heygem_core import sphinx

    pcm = fixture_audio("en_radio_8s.wav")  # 8 s: two parts on two cores, one on one
    base = cache.phones_key(pcm, 16000, None, "en")
    assert cache.phones_key(pcm, 16000, None, "de") == base  # blind: language unused
    assert cache.phones_key(pcm, 16000, "", "en") == base  # an empty script is no script
    assert cache.phones_key(pcm[1:], 16000, None, "en") != base
    scripted = cache.phones_key(pcm, 16000, TEXT, "de")
    assert scripted != base and cache.phones_key(pcm, 16000, TEXT, "en") != scripted
    short = cache.phones_key(pcm[:16000], 16000, None, "en")
    monkeypatch.setattr(sphinx, "cores", lambda: 1)  # cut in fewer parts: decoded otherwise
    assert cache.phones_key(pcm, 16000, None, "en") != base
    assert cache.phones_key(pcm[:16000], 16000, None, "en") == short  # one part either way
    monkeypatch.undo()
    monkeypatch.setattr(cache, "_code_digest", lambda: "edited")  # the aligners' code changed
    assert cache.phones_key(pcm, 16000, None, "en") != base
    assert cache.phones_key(pcm, 16000, TEXT, "de") != scripted


def test_the_pipeline_keeps_the_phones_under_its_cache_dir(tmp_path, counted):
    from heygem_core import pipeline
    from heygem_core.config import Settings
    from tests.paths import LANGUAGE_AUDIO

    settings = Settings(cache_dir=tmp_path / "cache", planner="phones")
    wav = pipeline.prepare_audio(LANGUAGE_AUDIO["fr"], tmp_path / "fr.wav", settings)
    first, n, _ = pipeline.analyse_audio(wav, 25.0, None, "fr", settings)
    again, n_again, _ = pipeline.analyse_audio(wav, 25.0, None, "fr", settings)
    assert len(counted) == 1 and n == n_again
    assert np.array_equal(first.opening, again.opening) and first.viseme == again.viseme
    assert list((tmp_path / "cache" / "phones").rglob("*.json"))
