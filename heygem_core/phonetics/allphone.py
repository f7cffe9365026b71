"""pocketsphinx all-phone decoding, spread over the machine's cores.

pocketsphinx decodes at ~5 % of real time on one core and holds the GIL while it does, so
threads cannot share the work: audio of at least ``PART_MIN_S`` a part is cut at pauses into
one part per core, and each part goes to a helper process from ``sphinx.POOL`` (model
already loaded; see heygem_core.sphinx). A cut falls in the quietest 100 ms near the even
split, where the speaker pauses: there is no phone to break, and pocketsphinx itself decodes
speech as pause-delimited utterances. A part whose helper fails is decoded here instead:
slower, same result.
"""

from __future__ import annotations

import logging
import numpy as np

from .. import sphinx

log = logging.getLogger(__name__)

SR = 16000
FRAME = SR // 100  # pocketsphinx frate 100: one frame per 10 ms
PART_MIN_S = 4.0  # shorter parts gain less than a request costs, and give CMN little to go on
_SEARCH_S = 4.0  # a cut is looked for this far either side of the even split (at most)
_QUIET_S = 0.1


def decode(audio: np.ndarray, params: sphinx.Params, parts: int | None = None) -> list[tuple[int, int, str]]:
    """(start frame, end frame inclusive, phone) of 16 kHz mono float ``audio``, frames of
    10 ms from the start. ``parts`` defaults to one per available core, each at least
    ``PART_MIN_S`` long."""
    pcm16 = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    n = parts if parts is not None else parts_for(len(pcm16))
    cuts = cut_points(pcm16, n)
    pieces = [pcm16[a:b] for a, b in zip([0, *cuts], [*cuts, len(pcm16)])]
    # Every helper is taken before any is sent its part: one still loading its model (a cold
    # pool) then holds up no other.
    helpers = [_borrow() for _ in pieces]
    asked = [_send(helper, piece, params) for helper, piece in zip(helpers, pieces)]
    segments = []
    for offset, piece, helper in zip([0, *cuts], pieces, asked):
        shift = offset // FRAME
        segments += [(a + shift, b + shift, w) for a, b, w in _answer(helper, piece, params)]
    return segments


def parts_for(n_samples: int) -> int:
    """One part per core, each at least PART_MIN_S long."""
    return max(1, min(sphinx.cores(), int(n_samples / SR / PART_MIN_S)))


def cut_points(pcm16: np.ndarray, parts: int) -> list[int]:
    """Sample positions (multiples of a 10 ms frame) cutting ``pcm16`` into ``parts`` pieces
    of about equal length, each cut in the quietest 100 ms within ``_SEARCH_S`` (or a quarter
    of a part, if less) of its even place: a short clip's pause after its first word must not
    leave one part with nearly all the work."""
    if parts <= 1:
        return []
    n_frames = len(pcm16) // FRAME
    power = (pcm16[: n_frames * FRAME].astype(np.float64) ** 2).reshape(n_frames, FRAME).mean(1)
    width = int(_QUIET_S * SR / FRAME)
    quiet = np.convolve(power, np.ones(width) / width, mode="same")
    cuts: list[int] = []
    for k in range(1, parts):
        centre = n_frames * k // parts
        reach = min(int(_SEARCH_S * SR / FRAME), n_frames // parts // 4)
        lo = max(cuts[-1] // FRAME + 1 if cuts else 1, centre - reach)
        hi = min(n_frames - 1, centre + reach)
        if hi <= lo:
            continue
        cuts.append(int(lo + np.argmin(quiet[lo:hi])) * FRAME)
    return cuts


def decode_pcm16(pcm16: np.ndarray, params: sphinx.Params) -> list[tuple[int, int, str]]:
    """One pocketsphinx utterance, in this process."""
    return sphinx.decode_raw(_bytes(pcm16), params)


def _bytes(pcm16: np.ndarray) -> bytes:
    return np.ascontiguousarray(pcm16, "<i2").tobytes()


def _borrow() -> sphinx.Helper | sphinx.HelperFailed:
    try:
        return sphinx.POOL.borrow()
    except sphinx.HelperFailed as err:
        return err


def _send(
    helper: sphinx.Helper | sphinx.HelperFailed, pcm16: np.ndarray, params: sphinx.Params
) -> sphinx.Helper | sphinx.HelperFailed:
    """The helper, now decoding ``pcm16``, or why it cannot."""
    if isinstance(helper, sphinx.Helper):
        try:
            helper.send(_bytes(pcm16), params)
        except sphinx.HelperFailed as err:
            return err
    return helper


def _answer(
    asked: sphinx.Helper | sphinx.HelperFailed, pcm16: np.ndarray, params: sphinx.Params
) -> list[tuple[int, int, str]]:
    if isinstance(asked, sphinx.Helper):
        try:
            segments = asked.receive()
        except sphinx.HelperFailed as err:
            asked = err
        else:
            sphinx.POOL.give_back(asked)
            return segments
    log.warning("phone decoding helper failed (%s); decoding its part here", asked)
    return decode_pcm16(pcm16, params)
