"""Phones kept on disk by content: an audio is aligned once, whatever asks for it again."""
import logging

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
    pcm = fixture_audio("en_radio_8s.wav")[:4 * 16000]
    assert cache.aligned(pcm, 16000) == cache.aligned(pcm, 16000)
    assert len(counted) == 2


def test_a_damaged_entry_is_aligned_again(fixture_audio, tmp_path, counted, caplog):
    pcm = fixture_audio("en_radio_8s.wav")[:4 * 16000]
    first = cache.aligned(pcm, 16000, cache_dir=tmp_path)
    [path] = (tmp_path / "phones").rglob("*.json")
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger=cache.__name__):
        assert cache.aligned(pcm, 16000, cache_dir=tmp_path) == first
    assert "unreadable phone cache" in caplog.text and len(counted) == 2
    assert cache.aligned(pcm, 16000, cache_dir=tmp_path) == first and len(counted) == 2  # rewritten
