"""Phone and viseme timing of speech audio.

    align(pcm, sr, transcript=None, language="en") -> list[Phone]
    synthesize(text, language="en", ...) -> (pcm, sr, phones)   # espeak-ng, true timings
"""
from .aligner import align
from .espeak import synthesize
from .types import VISEMES, Phone

__all__ = ["Phone", "VISEMES", "align", "synthesize"]
