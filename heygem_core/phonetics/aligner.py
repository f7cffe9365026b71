"""``align()``: pick the aligner that fits what the caller knows."""

from __future__ import annotations

import numpy as np

from .blind import align_blind
from .scripted import align_scripted
from .types import Phone


def has_script(transcript: str | None) -> bool:
    """Whether ``align`` takes the scripted aligner for this transcript (else the blind one)."""
    return transcript is not None and bool(transcript.strip())


def align(pcm: np.ndarray, sr: int, transcript: str | None = None, language: str = "en") -> list[Phone]:
    """Phones of ``pcm`` (mono float32 in [-1, 1] at ``sr`` Hz), sorted, contiguous, covering
    the whole audio; pauses are 'sil' phones.

    With a transcript the scripted aligner (espeak + DTW) gives language-correct phones.
    Without one the blind aligner (pocketsphinx all-phone, English phones for any language)
    is the fallback; ``language`` is then unused.
    """
    if transcript is not None and has_script(transcript):
        return align_scripted(pcm, sr, transcript, language)
    return align_blind(pcm, sr)
