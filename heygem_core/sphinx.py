"""pocketsphinx all-phone decoding, and the helper processes that do it beside this one.

A helper (``python -m heygem_core.sphinx``) loads the model once and then answers one
utterance after another; helpers wait in a process-wide pool, so a job finds its phone
recognisers loaded (the CLI starts them while it imports the rest of heygem) and the web app
or a worker loads the model once, not once per job. Decoding in a helper also leaves this
process's GIL free: pocketsphinx holds it for the whole utterance.

Kept apart from ``heygem_core.phonetics`` on purpose: this module imports neither numpy nor
that package (~0.2 s), so a helper is loading its model ~0.05 s after it is started.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from dataclasses import asdict, dataclass, fields

from . import errors
from .workers import HelperFailed, HelperPool, ProcessHelper, cores  # noqa: F401 - where callers find them

# The blind aligner's decoding parameters (phonetics.blind.SphinxSettings takes its defaults
# from here): what a helper loads before it is asked anything.
LANGUAGE_WEIGHT = 1.0  # pocketsphinx default 6.5
WORD_INSERTION_PENALTY = 0.65  # pocketsphinx default; in allphone a "word" is a phone
# pocketsphinx's phone LM without its trigrams (scripts/phone_bigram.py writes it). At this
# language weight the trigrams changed 3.6 % of the 10 ms frames of a 60 s lecture and took
# a third of the decoder's time (4.35 -> 2.97 CPU-s for that minute); bilabial recall and
# precision stayed within a few hundredths either way (tests/heygem_core/phonetics/measure.py).
PHONE_LM = "bigram"
BIGRAM_LM_FILE = os.path.join(os.path.dirname(__file__), "models", "en-us-phone-bigram.lm")
_PHONE_LMS = {"trigram": None, "bigram": BIGRAM_LM_FILE}
# Gaussians scored per codebook and frame (pocketsphinx default 4). At 2 the decoder took 11 %
# less CPU on a 60 s lecture (2.73 -> 2.43 s); 96 % of its 10 ms frames kept their viseme, and
# bilabial closure and opening over four espeak voices stayed within 0.02 (blind, en and de).
TOPN = 2

Segments = list[tuple[int, int, str]]


@dataclass(frozen=True)
class Params:
    """How pocketsphinx decodes: what a loaded decoder is kept under."""

    language_weight: float = LANGUAGE_WEIGHT
    word_insertion_penalty: float = WORD_INSERTION_PENALTY
    phone_lm: str = PHONE_LM  # "bigram", or "trigram": the LM as pocketsphinx ships it
    topn: int = TOPN

    def __post_init__(self) -> None:
        if self.phone_lm not in _PHONE_LMS:
            raise ValueError(f"unknown phone LM {self.phone_lm!r}: use one of {', '.join(_PHONE_LMS)}")


def _package_model_dir() -> str:
    try:
        from pocketsphinx import get_model_path
    except ImportError as err:
        raise errors.ModelMissing(
            "pocketsphinx is not installed; install it with: pip install 'pocketsphinx>=5'"
        ) from err
    return os.path.join(get_model_path(), "en-us")


def phone_lm_path(name: str = PHONE_LM) -> str:
    """The phone LM called ``name`` (see Params.phone_lm)."""
    path = _PHONE_LMS[name] or os.path.join(_package_model_dir(), "en-us-phone.lm.bin")
    if not os.path.exists(path):
        raise errors.ModelMissing(f"phone language model {path} is missing; reinstall heygem and pocketsphinx")
    return path


def model_paths(phone_lm: str = PHONE_LM) -> tuple[str, str]:
    """The en-us acoustic model shipped in pocketsphinx's wheel, and the phone LM."""
    hmm = os.path.join(_package_model_dir(), "en-us")
    if not os.path.exists(hmm):
        raise errors.ModelMissing(
            f"pocketsphinx model folder {hmm} is missing; reinstall pocketsphinx (its wheel "
            "ships the en-us acoustic model and phone LM)"
        )
    return hmm, phone_lm_path(phone_lm)


class _Decoders:
    """Loaded decoders by parameters, each reset after an utterance: pocketsphinx carries its
    cepstral mean and feature state from one utterance into the next, and every answer must
    be what a fresh decoder gives, whatever was decoded before."""

    def __init__(self) -> None:
        self._loaded: dict[Params, tuple[object, str]] = {}

    def decode(self, pcm16le: bytes, params: Params) -> Segments:
        decoder, cmn = self.load(params)
        try:
            decoder.start_utt()
            decoder.process_raw(pcm16le, full_utt=True)
            decoder.end_utt()
            return [(seg.start_frame, seg.end_frame, seg.word) for seg in decoder.seg()]
        finally:
            decoder.reinit_feat()
            decoder.set_cmn(cmn)

    def load(self, params: Params):
        """The decoder for these parameters (loaded on first use) and its initial CMN."""
        if params not in self._loaded:
            from pocketsphinx import Decoder

            hmm, phone_lm = model_paths(params.phone_lm)
            decoder = Decoder(
                hmm=hmm,
                allphone=phone_lm,
                lm=None,
                loglevel="FATAL",
                lw=float(params.language_weight),
                wip=float(params.word_insertion_penalty),
                topn=int(params.topn),
            )
            self._loaded[params] = (decoder, decoder.get_cmn())
        return self._loaded[params]


def decode_raw(pcm16le: bytes, params: Params = Params()) -> Segments:
    """(start frame, end frame inclusive, phone) of 16 kHz mono little-endian int16 PCM, in
    frames of 10 ms, decoded in this process by a decoder of its own."""
    return _Decoders().decode(pcm16le, params)


# --------------------------------------------------------------------------- helper processes


class Helper(ProcessHelper):
    """One helper process, asked one utterance at a time: ``send`` then ``receive``."""

    def __init__(self) -> None:
        super().__init__(__name__)

    def send(self, pcm16le: bytes, params: Params = Params()) -> None:
        head = {**asdict(params), "bytes": len(pcm16le)}
        self._write(json.dumps(head).encode() + b"\n", pcm16le)

    def receive(self) -> Segments:
        line = self._stdout.readline()
        if not line:
            raise self._failed("ended without an answer")
        try:
            answer = json.loads(line)
            if "error" in answer:
                raise self._failed(answer["error"])
            return [(int(a), int(b), str(w)) for a, b, w in answer["segments"]]
        except (ValueError, TypeError, KeyError) as err:
            raise self._failed(f"unreadable answer: {err}") from err


POOL: HelperPool[Helper] = HelperPool(Helper, keep=2 * cores())
# At exit the helpers are only told to end, not waited for (~0.07 s): each exits by itself
# at the end of its input, as it does when this process is killed.
atexit.register(POOL.end)


def warm(n: int | None = None) -> None:
    """Have ``n`` helpers (default: one per core) loaded and waiting."""
    POOL.warm(cores() if n is None else n, HelperFailed)


def _serve() -> None:
    """Helper process: for each request (a JSON line of decoding parameters and the PCM's
    length in bytes, then the PCM) one JSON line back: the segments, or the error."""
    stdin, stdout = sys.stdin.buffer, sys.stdout
    decoders = _Decoders()
    decoders.load(Params())  # loaded before the first request
    for line in stdin:
        head = json.loads(line)
        pcm = stdin.read(head["bytes"])
        if len(pcm) < head["bytes"]:
            return  # the caller went away mid-request
        try:
            params = Params(**{f.name: head[f.name] for f in fields(Params)})
            answer: dict[str, object] = {"segments": decoders.decode(pcm, params)}
        except Exception as err:  # noqa: BLE001 - reported to the caller, who decodes it itself
            answer = {"error": f"{type(err).__name__}: {err}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


if __name__ == "__main__":
    _serve()
