"""pocketsphinx all-phone decoding, spread over the machine's cores for long audio.

pocketsphinx decodes at ~5 % of real time on one core and holds the GIL while it does, so
threads cannot share the work: audio longer than ``PARALLEL_MIN_S`` is cut at pauses into
one part per core, and every part but the first goes to a helper process
(``python -m heygem_core.sphinx``: pocketsphinx only, ~0.1 s to
start) while this process decodes the first. A cut falls in the quietest 100 ms near the
even split, where the speaker pauses: there is no phone to break, and pocketsphinx itself
decodes speech as pause-delimited utterances. Shorter audio is decoded in one piece, so
clips of a few seconds give exactly what a single decoder gives.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass

import numpy as np

from .. import sphinx

log = logging.getLogger(__name__)

SR = 16000
FRAME = SR // 100  # pocketsphinx frate 100: one frame per 10 ms
PARALLEL_MIN_S = 20.0  # below this a helper process costs more than it saves
_SEARCH_S = 4.0  # a cut is looked for this far either side of the even split
_QUIET_S = 0.1


@dataclass(frozen=True)
class Decoding:
    language_weight: float
    word_insertion_penalty: float


def decode(audio: np.ndarray, params: Decoding, parts: int | None = None) -> list[tuple[int, int, str]]:
    """(start frame, end frame inclusive, phone) of 16 kHz mono float ``audio``, frames of
    10 ms from the start. ``parts`` defaults to one per available core for long audio."""
    pcm16 = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    n = parts if parts is not None else _default_parts(len(pcm16))
    cuts = cut_points(pcm16, n)
    pieces = [pcm16[a:b] for a, b in zip([0, *cuts], [*cuts, len(pcm16)])]
    helpers = [_Helper(piece, params) for piece in pieces[1:]]
    segments = decode_pcm16(pieces[0], params)
    for cut, helper in zip(cuts, helpers):
        offset = cut // FRAME
        segments += [(a + offset, b + offset, w) for a, b, w in helper.result()]
    return segments


def _default_parts(n_samples: int) -> int:
    """One part per core, each at least half of PARALLEL_MIN_S long."""
    return max(1, min(_cores(), int(n_samples / SR / (PARALLEL_MIN_S / 2))))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cut_points(pcm16: np.ndarray, parts: int) -> list[int]:
    """Sample positions (multiples of a 10 ms frame) cutting ``pcm16`` into ``parts`` pieces
    of about equal length, each cut in the quietest 100 ms within ``_SEARCH_S`` of its even
    place."""
    if parts <= 1:
        return []
    n_frames = len(pcm16) // FRAME
    power = (pcm16[: n_frames * FRAME].astype(np.float64) ** 2).reshape(n_frames, FRAME).mean(1)
    width = int(_QUIET_S * SR / FRAME)
    quiet = np.convolve(power, np.ones(width) / width, mode="same")
    cuts = []
    for k in range(1, parts):
        centre = n_frames * k // parts
        reach = int(_SEARCH_S * SR / FRAME)
        lo = max(cuts[-1] // FRAME + 1 if cuts else 1, centre - reach)
        hi = min(n_frames - 1, centre + reach)
        if hi <= lo:
            continue
        cuts.append(int(lo + np.argmin(quiet[lo:hi])) * FRAME)
    return cuts


def decode_pcm16(pcm16: np.ndarray, params: Decoding) -> list[tuple[int, int, str]]:
    """One pocketsphinx utterance, in this process."""
    return sphinx.decode_raw(np.ascontiguousarray(pcm16, "<i2").tobytes(), params.language_weight,
                             params.word_insertion_penalty)


class _Helper:
    """One part decoded by a helper process, started at once. Its input is an unnamed temp
    file, not a pipe: this process holds the GIL while it decodes its own part, so nothing
    here could feed a pipe until then. A failed helper is logged and its part decoded here
    instead: slower, same result."""

    def __init__(self, pcm16: np.ndarray, params: Decoding):
        self._pcm16, self._params = pcm16, params
        self._proc: subprocess.Popen | None = None
        self._error = ""
        try:
            with tempfile.TemporaryFile() as feed:
                feed.write(json.dumps(asdict(params)).encode() + b"\n")
                feed.write(pcm16.tobytes())
                feed.seek(0)
                self._proc = subprocess.Popen([sys.executable, "-m", sphinx.__name__], stdin=feed,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as err:
            self._error = str(err)

    def result(self) -> list[tuple[int, int, str]]:
        out = None
        if self._proc is not None:
            stdout, stderr = self._proc.communicate()
            if self._proc.returncode != 0:
                self._error = f"exit status {self._proc.returncode}: {stderr.decode(errors='replace')[-300:]}"
            else:
                try:
                    out = [(int(a), int(b), str(w)) for a, b, w in json.loads(stdout)]
                except (ValueError, TypeError) as err:
                    self._error = f"unreadable answer: {err}"
        if out is None:
            log.warning("phone decoding helper failed (%s); decoding its part here", self._error)
            return decode_pcm16(self._pcm16, self._params)
        return out
