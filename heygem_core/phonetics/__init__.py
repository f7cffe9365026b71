"""Phone and viseme timing of speech audio.

    align(pcm, sr, transcript=None, language="en") -> list[Phone]
    aligned(pcm, sr, transcript=None, language="en", cache_dir=None)  # the same, kept on disk
    synthesize(text, language="en", voice_variant=None, rate=175, pitch=50)
        -> (pcm float32, sample rate, list[Phone])   # espeak-ng, its own phone timings

Labels: with a transcript, espeak-ng mnemonics of ``language`` ("b", "aI", "t_s\\" ...);
without one, pocketsphinx ARPAbet phones ("B", "AY" ...) plus "pcl" for a lip closure found
from loudness. Every silence is a phone labelled "sil" with viseme "sil".
"""

from .aligner import align, has_script
from .cache import aligned
from .espeak import synthesize
from .types import VISEMES, Phone

__all__ = ["Phone", "VISEMES", "align", "aligned", "has_script", "synthesize"]
