"""Audio decoded in parts by helper processes: cut in a pause, times put back in place, a
helper's answer the same whatever it decoded before, a failed helper replaced by decoding
here."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from heygem_core import sphinx
from heygem_core.phonetics import allphone
from heygem_core.phonetics.blind import DEFAULTS, _with_noise_floor

PARAMS = sphinx.Params(DEFAULTS.language_weight, DEFAULTS.word_insertion_penalty, DEFAULTS.phone_lm)
SR = allphone.SR


def _speech_with_pause(fixture_audio, pause_at_s: float) -> np.ndarray:
    """Real speech (three recordings, 24 s) with 0.6 s of silence near ``pause_at_s``."""
    speech = np.concatenate([fixture_audio(n) for n in ("en_radio_8s.wav", "de_9s.wav", "fr_7s.wav")])
    at = int(pause_at_s * SR)
    return np.concatenate([speech[:at], np.zeros(int(0.6 * SR), np.float32), speech[at:]])


def _labels(segments, n_frames):
    out = np.full(n_frames, "", dtype=object)
    for start, end, label in segments:
        out[start : end + 1] = label
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


def test_a_helper_answers_as_a_fresh_decoder_whatever_it_decoded_before(fixture_audio):
    # pocketsphinx carries its cepstral mean from one utterance into the next: a helper
    # that did not reset it would answer a later job differently.
    de = (fixture_audio("de_9s.wav") * 32767).astype("<i2")
    en = (fixture_audio("en_radio_8s.wav") * 32767).astype("<i2")
    fresh = allphone.decode_pcm16(de, PARAMS)
    helper = sphinx.POOL.borrow()
    try:
        answers = []
        for pcm in (en, de, en, de):
            helper.send(pcm.tobytes(), PARAMS)
            answers.append(helper.receive())
    finally:
        sphinx.POOL.give_back(helper)
    assert answers[1] == fresh and answers[3] == fresh
    assert answers[0] == answers[2] != fresh


def test_failed_helper_is_decoded_here(fixture_audio, monkeypatch, caplog):
    audio = _with_noise_floor(_speech_with_pause(fixture_audio, 12.0))
    normal = allphone.decode(audio, PARAMS, parts=2)
    sphinx.POOL.close()  # no loaded helper left: the next ones must be started
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger=allphone.__name__):
        fallback = allphone.decode(audio, PARAMS, parts=2)
    assert fallback == normal
    assert "helper failed" in caplog.text and "/nonexistent/python" in caplog.text


def test_a_helper_that_dies_once_lent_is_decoded_here(fixture_audio, monkeypatch, caplog):
    audio = _with_noise_floor(fixture_audio("de_9s.wav"))
    normal = allphone.decode(audio, PARAMS, parts=1)
    lend = sphinx.POOL.borrow

    def lend_a_dying_one():
        helper = lend()
        helper._proc.kill()
        helper._proc.wait()
        return helper

    monkeypatch.setattr(sphinx.POOL, "borrow", lend_a_dying_one)
    with caplog.at_level(logging.WARNING, logger=allphone.__name__):
        assert allphone.decode(audio, PARAMS, parts=1) == normal
    assert "helper failed" in caplog.text


def test_parts_are_at_least_a_few_seconds_long():
    assert allphone.parts_for(int(allphone.PART_MIN_S * SR) - 1) == 1
    assert allphone.parts_for(8 * SR) == min(2, sphinx.cores())
    assert allphone.parts_for(600 * SR) == sphinx.cores()


def test_a_short_clip_is_cut_near_its_middle(fixture_audio):
    # de_9s pauses after its first word (at ~1.1 s): a cut there would leave one helper
    # nearly all the work.
    pcm16 = (fixture_audio("de_9s.wav") * 32767).astype("<i2")
    [cut] = allphone.cut_points(pcm16, 2)
    assert 0.375 <= cut / len(pcm16) <= 0.625


def test_a_helper_decodes_with_the_parameters_it_is_sent(fixture_audio):
    de = (fixture_audio("de_9s.wav") * 32767).astype("<i2")
    shipped = sphinx.Params(6.5, 0.65, "trigram")  # pocketsphinx's own LM and weight
    here = {p: allphone.decode_pcm16(de, p) for p in (PARAMS, shipped)}
    assert here[PARAMS] != here[shipped]
    helper = sphinx.POOL.borrow()
    try:
        for params in (shipped, PARAMS):
            helper.send(de.tobytes(), params)
            assert helper.receive() == here[params], params
    finally:
        sphinx.POOL.give_back(helper)


def test_the_bigram_phone_lm_is_what_its_script_writes(tmp_path):
    script = Path(__file__).resolve().parents[3] / "scripts" / "phone_bigram.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "lm")], check=True, capture_output=True)
    assert (tmp_path / "lm").read_text() == Path(sphinx.BIGRAM_LM_FILE).read_text()
    assert "ngram 3" not in (tmp_path / "lm").read_text()


def test_the_bigram_phone_lm_is_package_data():
    # A regular (non-editable) install carries only what package-data names.
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["heygem_core"]
    name = Path(sphinx.BIGRAM_LM_FILE).relative_to(Path(sphinx.__file__).parent)
    assert any(name.match(p) for p in patterns), patterns
