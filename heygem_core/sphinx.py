"""One pocketsphinx all-phone utterance, and the helper process that decodes one
(``python -m heygem_core.sphinx``).

Kept apart from ``heygem_core.phonetics`` on purpose: this module imports neither numpy nor
that package (~0.2 s), so a helper is decoding ~0.1 s after it is started.
"""
from __future__ import annotations

import json
import os
import sys

from . import errors


def model_paths() -> tuple[str, str]:
    """The en-us acoustic model and phone language model shipped in pocketsphinx's wheel."""
    try:
        from pocketsphinx import get_model_path
    except ImportError as err:
        raise errors.ModelMissing(
            "pocketsphinx is not installed; install it with: pip install 'pocketsphinx>=5'"
        ) from err
    base = os.path.join(get_model_path(), "en-us")
    hmm, phone_lm = os.path.join(base, "en-us"), os.path.join(base, "en-us-phone.lm.bin")
    for path in (hmm, phone_lm):
        if not os.path.exists(path):
            raise errors.ModelMissing(
                f"pocketsphinx model file {path} is missing; reinstall pocketsphinx (its wheel "
                "ships the en-us acoustic model and phone LM)"
            )
    return hmm, phone_lm


def decode_raw(pcm16le: bytes, language_weight: float, word_insertion_penalty: float) -> list[tuple[int, int, str]]:
    """(start frame, end frame inclusive, phone) of 16 kHz mono little-endian int16 PCM, in
    frames of 10 ms."""
    from pocketsphinx import Decoder

    hmm, phone_lm = model_paths()
    decoder = Decoder(hmm=hmm, allphone=phone_lm, lm=None, loglevel="FATAL",
                      lw=language_weight, wip=word_insertion_penalty)
    decoder.start_utt()
    decoder.process_raw(pcm16le, full_utt=True)
    decoder.end_utt()
    return [(seg.start_frame, seg.end_frame, seg.word) for seg in decoder.seg()]


def _serve() -> None:
    """Helper process: a JSON line of decoding parameters, then the PCM, on stdin; the
    segments as JSON on stdout."""
    stream = sys.stdin.buffer
    params = json.loads(stream.readline())
    json.dump(decode_raw(stream.read(), params["language_weight"], params["word_insertion_penalty"]), sys.stdout)


if __name__ == "__main__":
    _serve()
