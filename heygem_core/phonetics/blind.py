"""Blind aligner: no transcript, any language. English phones from pocketsphinx, corrected
for lip closures by the loudness cue in ``closures``.

pocketsphinx's all-phone search (en-us acoustic model + phone bigram LM) gives a phone
string for any audio; on other languages it is an English-phone approximation, which is
still the right mouth shape most of the time. Its weakness for lip-sync is the bilabial
stops: it hears many p/b as TH, K or G or merges them into vowels. Two changes, measured in
tests/heygem_core/phonetics/measure.py:
  * a lower language weight (lw 6.5 -> 1.0) so the acoustics outvote the phone LM, which at
    that weight needs no trigrams (a third of the decoding time; see sphinx.PHONE_LM);
  * every closure whose burst sounds bilabial is drawn as PP, whatever sphinx said there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import sphinx
from . import allphone, timeline
from .closures import find_closures
from .features import FEATURE_RATE, check_pcm, resample, speech_bounds
from .types import Phone
from .visemes import sphinx_viseme

_FRAME_S = 0.01  # pocketsphinx frate 100
_NOISE_FLOOR_RMS = 1e-3  # -60 dBFS: see _with_noise_floor
_BURST_S = 0.02  # lips are still near closed for the first 20 ms of the release
CLOSURE_LABEL = "pcl"  # TIMIT's name for a p closure: a PP phone found by the closure cue


@dataclass(frozen=True)
class SphinxSettings:
    language_weight: float = sphinx.LANGUAGE_WEIGHT  # pocketsphinx default 6.5
    word_insertion_penalty: float = sphinx.WORD_INSERTION_PENALTY
    phone_lm: str = sphinx.PHONE_LM
    topn: int = sphinx.TOPN  # pocketsphinx default 4
    noise_floor: bool = True
    use_closures: bool = True


DEFAULTS = SphinxSettings()
POCKETSPHINX_DEFAULTS = SphinxSettings(
    language_weight=6.5, phone_lm="trigram", topn=4, noise_floor=False, use_closures=False
)


def align_blind(pcm: np.ndarray, sr: int, settings: SphinxSettings = DEFAULTS) -> list[Phone]:
    audio = resample(check_pcm(pcm, sr), sr)
    duration = len(pcm) / sr
    if speech_bounds(audio, FEATURE_RATE) is None:
        return timeline.tidy([], duration)  # silence, or a constant hum: nothing to say
    decodable = _with_noise_floor(audio) if settings.noise_floor else audio
    phones = decode_allphone(decodable, settings)
    if settings.use_closures:
        phones = overlay_labial_closures(phones, audio)
    return timeline.tidy(phones, duration)


def _with_noise_floor(audio: np.ndarray) -> np.ndarray:
    # Digital silence (TTS, gated recordings) breaks sphinx's cepstral mean normalisation:
    # on clean espeak audio it decoded 5 phones for a 7 s sentence. A fixed, seeded -60 dBFS
    # hiss keeps the result deterministic and is far below any real room tone.
    rng = np.random.default_rng(0)
    return audio + rng.normal(0.0, _NOISE_FLOOR_RMS, len(audio)).astype(np.float32)


def decode_allphone(audio: np.ndarray, settings: SphinxSettings = DEFAULTS) -> list[Phone]:
    """pocketsphinx all-phone decoding of 16 kHz mono float audio (long audio over all cores)."""
    params = sphinx.Params(settings.language_weight, settings.word_insertion_penalty, settings.phone_lm, settings.topn)
    return [
        Phone(start * _FRAME_S, (end + 1) * _FRAME_S, label, sphinx_viseme(label))
        for start, end, label in allphone.decode(audio, params)
    ]


def overlay_labial_closures(phones: list[Phone], audio: np.ndarray) -> list[Phone]:
    """Draw PP from each bilabial-sounding closure onset to just after its burst."""
    for closure in find_closures(audio, FEATURE_RATE):
        if closure.labial:
            phones = overlay(phones, Phone(closure.start, closure.release + _BURST_S, CLOSURE_LABEL, "PP"))
    return phones


def overlay(phones: list[Phone], top: Phone) -> list[Phone]:
    """Put ``top`` over ``phones``, cutting back whatever it covers."""
    out = []
    for p in phones:
        if p.end <= top.start or p.start >= top.end:
            out.append(p)
            continue
        if p.start < top.start:
            out.append(Phone(p.start, top.start, p.label, p.viseme))
        if p.end > top.end:
            out.append(Phone(top.end, p.end, p.label, p.viseme))
    out.append(top)
    return sorted(out, key=lambda p: p.start)
