import threading

import numpy as np
import pytest

from heygem_core.errors import InputError
from heygem_core.phonetics import VISEMES, synthesize
from heygem_core.phonetics.espeak import voice_names


def test_bob_bought_a_map_has_timed_bilabials():
    pcm, sr, phones = synthesize("Bob bought a map.")
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert sr == 22050
    assert 0.05 < np.abs(pcm).max() <= 1.0
    duration = len(pcm) / sr
    assert 0.5 < duration < 2.0
    starts = [p.start for p in phones]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(0.0 <= p.start < p.end <= duration + 1e-9 for p in phones)
    assert phones[-1].end == pytest.approx(duration)
    assert all(p.viseme in VISEMES for p in phones)
    labels = [p.label for p in phones]
    # B-o-b b-ough-t a m-a-p: four b/p/m stops and one m, in this order.
    bilabials = [p.label for p in phones if p.viseme == "PP"]
    assert bilabials == ["b", "b", "b", "m", "p"], labels


def test_phone_timings_follow_the_audio():
    # The p of "map" is a burst after silence: the sound there must be far louder than
    # in the closure just before it, or the events are not aligned with the samples.
    pcm, sr, phones = synthesize("Bob bought a map.")
    p = [ph for ph in phones if ph.label == "p"][-1]
    burst = pcm[int(p.start * sr) : int((p.start + 0.02) * sr)]
    closure = pcm[int((p.start - 0.025) * sr) : int((p.start - 0.005) * sr)]
    assert np.sqrt(np.mean(burst**2)) > 5 * np.sqrt(np.mean(closure**2)) + 1e-6


def test_rate_pitch_and_variant_change_the_audio():
    slow = synthesize("Peter picked a pepper.", rate=120)[0]
    fast = synthesize("Peter picked a pepper.", rate=260)[0]
    assert len(slow) > 1.5 * len(fast)
    default_pcm, _, default = synthesize("Mama", "de")
    female_pcm, _, female = synthesize("Mama", "de", voice_variant="f3", pitch=80)
    # Same phonemes (pauses may differ), different sound.
    assert [p.label for p in default if p.viseme != "sil"] == ["m", "A", "m", "A:"]
    assert [p.label for p in female if p.viseme != "sil"] == ["m", "A", "m", "A:"]
    n = min(len(default_pcm), len(female_pcm))
    assert np.abs(default_pcm[:n] - female_pcm[:n]).mean() > 0.01


@pytest.mark.parametrize(
    "language, text",
    [
        ("de", "Mama bringt Brot."),
        ("es", "Pablo bebe vino."),
        ("fr", "Le bébé mange."),
        ("cmn", "妈妈"),
        ("ja", "まめ"),
    ],
)
def test_other_languages_have_bilabials(language, text):
    phones = synthesize(text, language)[2]
    assert any(p.viseme == "PP" for p in phones), [p.label for p in phones]


def test_errors_are_typed_and_actionable():
    with pytest.raises(InputError, match="empty"):
        synthesize("   ")
    with pytest.raises(InputError, match="espeak-ng --voices"):
        synthesize("hello", language="xx-nope")
    with pytest.raises(InputError, match="80..450"):
        synthesize("hello", rate=5)


def test_regional_codes_fall_back_on_the_language():
    assert voice_names("de-DE") == ["de-de", "de"]
    assert voice_names("en", "f3") == ["en+f3"]
    assert synthesize("Hallo", "de-DE")[2]


def test_concurrent_calls_do_not_mix():
    # The library is one global synthesizer; the lock must keep calls apart.
    expected = synthesize("Bob bought a map.")[2]
    results: list[list[str]] = []

    def work():
        results.append([p.label for p in synthesize("Bob bought a map.")[2]])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[p.label for p in expected]] * 4
