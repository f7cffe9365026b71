"""Blind aligner (pocketsphinx all-phone + closure cue) on audio with known bilabials.

Measured on these two recordings (espeak f3 voice): pocketsphinx defaults find 33% (en) and
48% (de) of the bilabials; the shipped settings 78% and 95%. Precision is printed with the
espeak events as truth and with p/b allowed to start 80 ms early (their closure, where the
lips are already shut), see metrics.with_lip_closures.
"""

import numpy as np
import pytest

from heygem_core.phonetics import align
from heygem_core.phonetics.blind import POCKETSPHINX_DEFAULTS, align_blind
from heygem_core.phonetics.visemes import sphinx_viseme

from .conftest import assert_timeline
from .metrics import pooled_scores, with_lip_closures


def test_recall_beats_pocketsphinx_defaults(recordings):
    runs = {"defaults": [], "shipped": []}
    for rec in recordings.values():
        runs["defaults"].append((rec.truth, align_blind(rec.pcm, rec.sr, POCKETSPHINX_DEFAULTS)))
        runs["shipped"].append((rec.truth, align_blind(rec.pcm, rec.sr)))
    scores = {}
    for name, pairs in runs.items():
        recall, precision = pooled_scores(pairs)
        lip_recall, lip_precision = pooled_scores([(with_lip_closures(t), a) for t, a in pairs])
        scores[name] = (recall, lip_precision)
        print(
            f"blind {name}: bilabial recall {recall:.2f} precision {precision:.2f}"
            f" (lip-closure truth: recall {lip_recall:.2f} precision {lip_precision:.2f})"
        )
    assert scores["defaults"][0] < 0.55  # the weakness being fixed is still there to see
    assert scores["shipped"][0] >= 0.70
    assert scores["shipped"][0] >= scores["defaults"][0] + 0.25
    assert scores["shipped"][1] >= 0.70  # most PP it draws are on real lip closures


def test_english_fixture(fixture_audio):
    pcm = fixture_audio("en_radio_8s.wav")
    phones = align(pcm, 16000)
    assert_timeline(phones, 8.0)
    speech = [p for p in phones if p.viseme != "sil"]
    assert len(speech) > 50
    assert all(p.viseme == sphinx_viseme(p.label) or p.label == "pcl" for p in speech)
    assert 3 <= sum(p.viseme == "PP" for p in phones) <= 40


def test_non_english_fixture(fixture_audio):
    pcm = fixture_audio("de_9s.wav")
    phones = align(pcm, 16000, language="de")  # no transcript: English phones, still shapes
    assert_timeline(phones, len(pcm) / 16000)
    assert sum(p.viseme != "sil" for p in phones) > 50
    # the clip opens with ~1.2 s of room tone
    assert phones[0].viseme == "sil" and phones[0].end > 0.5


@pytest.mark.parametrize("signal", ["zeros", "hiss"])
def test_silence_gives_only_silence(signal):
    sr = 22050
    pcm = np.zeros(3 * sr, np.float32)
    if signal == "hiss":
        pcm += np.random.default_rng(0).normal(0, 3e-3, len(pcm)).astype(np.float32)
    phones = align(pcm, sr)
    assert [(p.label, p.viseme) for p in phones] == [("sil", "sil")]
    assert phones[0].end == pytest.approx(3.0)


def test_blank_transcript_means_blind(recordings):
    rec = recordings["en"]
    labels = {p.label for p in align(rec.pcm, rec.sr, transcript="  ")}
    assert labels & {"P", "B", "M", "AH", "IY"} and not labels & {"@", "i:", "_:"}
