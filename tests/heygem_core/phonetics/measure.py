"""Measured figures for the phonetics aligners (not a test: prints a report).

    python3 -m tests.heygem_core.phonetics.measure [--languages en,de,es]

"Recordings" are espeak sentences dense in /p b m/ spoken by another voice variant, rate and
pitch than the aligners' own, padded with 0.4 s of silence and -55 dB noise, so the true
phone timings are known (see metrics.fake_recording).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from heygem_core.phonetics import Phone
from heygem_core.phonetics.blind import POCKETSPHINX_DEFAULTS, SphinxSettings, align_blind
from heygem_core.phonetics.scripted import align_scripted
from heygem_core.phonetics.visemes import sphinx_viseme

from .metrics import (
    BILABIAL_TEXTS,
    boundary_errors,
    fake_recording,
    load_fixture,
    pooled_scores,
    viseme_precision,
    viseme_recall,
    with_lip_closures,
)

VOICES = [("f3", 140, 70), ("m3", 200, 30), ("klatt", 160, 50), ("f1", 150, 60)]
BLIND_CONFIGS = {
    "pocketsphinx defaults": POCKETSPHINX_DEFAULTS,
    "+ noise floor": SphinxSettings(language_weight=6.5, phone_lm="trigram", topn=4, use_closures=False),
    "+ lw 1.0": SphinxSettings(phone_lm="trigram", topn=4, use_closures=False),
    "+ bigram LM": SphinxSettings(topn=4, use_closures=False),
    "+ topn 2": SphinxSettings(use_closures=False),
    "+ closure cue (shipped)": SphinxSettings(),
}


def _recordings(language: str, voices=VOICES):
    return [fake_recording(BILABIAL_TEXTS[language], language, v, r, p) for v, r, p in voices]


def report_scripted(languages) -> None:
    print("scripted aligner (espeak + DTW): bilabial recall/precision, |start error| ms")
    for language in languages:
        for (variant, rate, pitch), rec in zip(VOICES, _recordings(language)):
            t0 = time.perf_counter()
            phones = align_scripted(rec.pcm, rec.sr, BILABIAL_TEXTS[language], language)
            took = time.perf_counter() - t0
            err = boundary_errors(rec.truth, phones) * 1000
            recall = viseme_recall(rec.truth, phones)
            precision = viseme_precision(rec.truth, phones)
            print(
                f"  {language} {variant:5s} rate {rate}: recall {recall:.2f}"
                f"  precision {precision:.2f}  error mean {err.mean():4.1f}"
                f"  median {np.median(err):4.1f}  p90 {np.percentile(err, 90):5.1f}"
                f"  (n={len(err)}, {took:.2f} s)"
            )


def report_blind(languages) -> None:
    print(
        "blind aligner (pocketsphinx all-phone): bilabial recall R / precision P, pooled over"
        " 4 voices;\n  'strict' = espeak events as truth, 'lip' = p/b start 80 ms earlier"
        " (their closure)"
    )
    recordings = {language: _recordings(language) for language in languages}
    for name, settings in BLIND_CONFIGS.items():
        cells = []
        for language in languages:
            runs = [(rec.truth, align_blind(rec.pcm, rec.sr, settings)) for rec in recordings[language]]
            strict = pooled_scores(runs)
            lip = pooled_scores([(with_lip_closures(t), a) for t, a in runs])
            cells.append(f"{language} strict R {strict[0]:.2f} P {strict[1]:.2f}, lip R {lip[0]:.2f} P {lip[1]:.2f}")
        print(f"  {name:24s} " + " | ".join(cells))


def sphinx_reference(pcm16k: np.ndarray) -> tuple[str, list[Phone]]:
    """pocketsphinx's own English transcript and its forced phone alignment.

    Not ground truth: the transcript has recognition errors and the reference shares the
    blind aligner's acoustic model (so it flatters it). It is the only real-speech
    reference available offline.
    """
    from pocketsphinx import Decoder

    raw = (np.clip(pcm16k, -1, 1) * 32767).astype("<i2").tobytes()
    decoder = Decoder(loglevel="FATAL")
    for _ in range(2):  # first pass: words; second pass: phone alignment of those words
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        if decoder.get_alignment() is None:
            text = decoder.hyp().hypstr
            decoder.set_alignment()
    phones = [
        Phone(p.start / 100, (p.start + p.duration) / 100, p.name, sphinx_viseme(p.name))
        for p in decoder.get_alignment().phones()
    ]
    return text, phones


def report_real_speech() -> None:
    print("real English fixtures vs pocketsphinx forced alignment of its own transcript (biased reference):")
    for name in ("en_radio_8s.wav", "en_lecture_60s.wav"):
        pcm = load_fixture(name)
        text, reference = sphinx_reference(pcm)
        cells = []
        for label, run in (
            ("scripted", lambda: align_scripted(pcm, 16000, text, "en")),
            ("blind defaults", lambda: align_blind(pcm, 16000, POCKETSPHINX_DEFAULTS)),
            ("blind shipped", lambda: align_blind(pcm, 16000)),
        ):
            t0 = time.perf_counter()
            phones = run()
            took = time.perf_counter() - t0
            r, p = pooled_scores([(reference, phones)])
            cells.append(f"{label} R {r:.2f} P {p:.2f} ({took:.2f} s)")
        n_pp = sum(p.viseme == "PP" for p in reference)
        print(f"  {name} ({n_pp} reference bilabials): " + " | ".join(cells))


def report_timings() -> None:
    print("timings (wall clock, this machine)")
    for repeats in (1, 7):
        text = " ".join([BILABIAL_TEXTS["en"]] * repeats)
        rec = fake_recording(text, "en")
        seconds = len(rec.pcm) / rec.sr
        t0 = time.perf_counter()
        align_scripted(rec.pcm, rec.sr, text, "en")
        t1 = time.perf_counter()
        align_blind(rec.pcm, rec.sr)
        t2 = time.perf_counter()
        print(f"  {seconds:5.1f} s audio: scripted {t1 - t0:.2f} s, blind {t2 - t1:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="en,de,es")
    args = parser.parse_args()
    languages = args.languages.split(",")
    report_scripted(languages)
    report_blind(languages)
    report_real_speech()
    report_timings()


if __name__ == "__main__":
    main()
