"""Scoring helpers shared by the tests and by ``measure.py``."""

from __future__ import annotations

import difflib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heygem_core.phonetics import Phone, synthesize

# Sentences dense in /p b m/, so that closed-lip frames (the ones viewers check) dominate.
BILABIAL_TEXTS = {
    "en": "Peter Piper picked a peck of pickled peppers. Bob's big brown boat bumped "
    "the pier. My mom made more maple muffins by the pool.",
    "de": "Peter packt Pakete mit Bananen und Birnen. Mama bringt bitte mehr Bier und "
    "Brot mit. Papa baut im Mai eine bunte Bank.",
    "es": "Pablo bebe mucho vino blanco. Mi mamá compró pan y papas para el bebé bonito.",
}
PAD_S = 0.4
# The shared media sit next to the repository (see /work/shared/fixtures/README.md).
FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "audio"


@dataclass(frozen=True)
class Recording:
    """A "real" recording whose phone timings we know: espeak with another voice."""

    pcm: np.ndarray
    sr: int
    truth: list[Phone]


def fake_recording(
    text: str,
    language: str,
    variant: str = "f3",
    rate: int = 140,
    pitch: int = 70,
    noise_db: float = -55.0,
    seed: int = 0,
) -> Recording:
    pcm, sr, phones = synthesize(text, language, voice_variant=variant, rate=rate, pitch=pitch)
    pad = np.zeros(int(PAD_S * sr), np.float32)
    padded = np.concatenate([pad, pcm, pad])
    rng = np.random.default_rng(seed)
    noisy = padded + rng.normal(0.0, 10 ** (noise_db / 20), len(padded)).astype(np.float32)
    truth = [Phone(p.start + PAD_S, p.end + PAD_S, p.label, p.viseme) for p in phones]
    return Recording(noisy.astype(np.float32), sr, truth)


def overlap(a: Phone, b: Phone) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def _hit(target: Phone, phones: list[Phone], viseme: str, min_fraction: float) -> bool:
    need = min_fraction * (target.end - target.start)
    got = sum(overlap(target, p) for p in phones if p.viseme == viseme)
    return got >= need and got > 0


def viseme_recall(truth: list[Phone], aligned: list[Phone], viseme: str = "PP", min_fraction: float = 0.3) -> float:
    """Share of true `viseme` phones covered (at least `min_fraction` of them) by aligned ones."""
    targets = [p for p in truth if p.viseme == viseme]
    return sum(_hit(t, aligned, viseme, min_fraction) for t in targets) / max(len(targets), 1)


def viseme_precision(truth: list[Phone], aligned: list[Phone], viseme: str = "PP", min_fraction: float = 0.3) -> float:
    """Share of aligned `viseme` phones that lie (at least `min_fraction`) on true ones."""
    guesses = [p for p in aligned if p.viseme == viseme]
    return sum(_hit(g, truth, viseme, min_fraction) for g in guesses) / max(len(guesses), 1)


def boundary_errors(truth: list[Phone], aligned: list[Phone]) -> np.ndarray:
    """|start error| of every speech phone that both lists share (matched by label order)."""
    t = [p for p in truth if p.viseme != "sil"]
    a = [p for p in aligned if p.viseme != "sil"]
    matcher = difflib.SequenceMatcher(a=[p.label for p in t], b=[p.label for p in a], autojunk=False)
    errors = [abs(t[i + k].start - a[j + k].start) for i, j, size in matcher.get_matching_blocks() for k in range(size)]
    return np.array(errors)


def with_lip_closures(truth: list[Phone], lead_s: float = 0.08) -> list[Phone]:
    """Truth where bilabial stops start up to ``lead_s`` earlier.

    espeak reports a stop at its release, leaving the closure (when the lips are already
    shut) to the phone before. For lip-sync the closure is part of the PP shape, and the
    blind aligner's closure cue draws it there, so it is scored against this variant.
    """
    out = list(truth)
    for k in range(1, len(out)):
        p = out[k]
        if p.viseme == "PP" and p.label[:1] in ("p", "b"):
            prev = out[k - 1]
            start = max(p.start - lead_s, prev.start)
            out[k - 1] = Phone(prev.start, start, prev.label, prev.viseme)
            out[k] = Phone(start, p.end, p.label, p.viseme)
    return [p for p in out if p.end > p.start]


def pooled_scores(pairs) -> tuple[float, float]:
    """Bilabial recall and precision over several (truth, aligned) pairs, pooled by count."""
    hits = right = n_true = n_found = 0.0
    for truth, phones in pairs:
        n_t = sum(p.viseme == "PP" for p in truth)
        n_f = sum(p.viseme == "PP" for p in phones)
        hits += viseme_recall(truth, phones) * n_t
        right += viseme_precision(truth, phones) * n_f
        n_true, n_found = n_true + n_t, n_found + n_f
    return hits / max(n_true, 1), right / max(n_found, 1)


def load_fixture(name: str, sr: int = 16000) -> np.ndarray:
    """Decode a fixture to mono float32 with ffmpeg (argument list, no shell)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(FIXTURES / name), "-f", "f32le", "-ac", "1", "-ar", str(sr), "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4").copy()
