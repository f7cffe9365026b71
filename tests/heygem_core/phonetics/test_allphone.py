"""Long audio decoded in parts over several processes: cut in a pause, times put back in
place, a failed helper replaced by decoding here."""
import logging
import sys

import numpy as np

from heygem_core.phonetics import allphone
from heygem_core.phonetics.blind import DEFAULTS, _with_noise_floor

PARAMS = allphone.Decoding(DEFAULTS.language_weight, DEFAULTS.word_insertion_penalty)
SR = allphone.SR


def _speech_with_pause(fixture_audio, pause_at_s: float) -> np.ndarray:
    """Real speech (three recordings, 24 s) with 0.6 s of silence near ``pause_at_s``."""
    speech = np.concatenate([fixture_audio(n) for n in ("en_radio_8s.wav", "de_9s.wav", "fr_7s.wav")])
    at = int(pause_at_s * SR)
    return np.concatenate([speech[:at], np.zeros(int(0.6 * SR), np.float32), speech[at:]])


def _labels(segments, n_frames):
    out = np.full(n_frames, "", dtype=object)
    for start, end, label in segments:
        out[start:end + 1] = label
    return out


def test_cut_falls_in_the_pause(fixture_audio):
    audio = _speech_with_pause(fixture_audio, 10.5)  # 2 s from the even split at 12.3 s
    pcm16 = (audio * 32767).astype("<i2")
    [cut] = allphone.cut_points(pcm16, 2)
    assert cut % allphone.FRAME == 0
    assert 10.5 <= cut / SR <= 11.1, cut / SR


def test_parts_decode_like_one_piece(fixture_audio):
    audio = _with_noise_floor(_speech_with_pause(fixture_audio, 12.0))
    n_frames = len(audio) // allphone.FRAME
    whole = allphone.decode(audio, PARAMS, parts=1)
    parts = allphone.decode(audio, PARAMS, parts=2)
    starts = [s for s, _, _ in parts]
    assert starts == sorted(starts) and parts[0][0] == 0
    assert parts[-1][1] >= n_frames - 2  # the helper's times were shifted back into place
    late = [label for s, _, label in parts if s * 0.01 > 16.0 and label != "SIL"]
    assert len(late) > 50, "the helper's half has phones"
    agree = float(np.mean(_labels(whole, n_frames) == _labels(parts, n_frames)))
    print(f"frame agreement, 2 parts vs 1: {agree:.3f}")
    assert agree > 0.85


def test_failed_helper_is_decoded_here(fixture_audio, monkeypatch, caplog):
    audio = _with_noise_floor(_speech_with_pause(fixture_audio, 12.0))
    normal = allphone.decode(audio, PARAMS, parts=2)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger=allphone.__name__):
        fallback = allphone.decode(audio, PARAMS, parts=2)
    assert fallback == normal
    assert "helper failed" in caplog.text and "/nonexistent/python" in caplog.text


def test_short_audio_is_one_piece():
    assert allphone._default_parts(8 * SR) == 1
    assert allphone._default_parts(int(allphone.PARALLEL_MIN_S * SR)) == min(2, allphone._cores())
