"""Turning raw phone lists into the timeline promised by ``align()``.

Promise: phones sorted by time, non-overlapping, no zero-length phones, covering
[0, duration] exactly, gaps filled by 'sil', neighbouring silences merged.
"""

from __future__ import annotations

from collections.abc import Iterable

from .types import Phone

SILENCE_LABEL = "sil"
_EPS = 1e-6


def silence(start: float, end: float) -> Phone:
    return Phone(start, end, SILENCE_LABEL, "sil")


def shift(phones: Iterable[Phone], offset: float) -> list[Phone]:
    return [Phone(p.start + offset, p.end + offset, p.label, p.viseme) for p in phones]


def tidy(phones: Iterable[Phone], duration: float) -> list[Phone]:
    """Clip to [0, duration], resolve overlaps in favour of the earlier phone, fill gaps.

    Every silence comes out labelled 'sil', whatever pause symbol the aligner used.
    """
    out: list[Phone] = []
    duration = float(duration)
    if duration <= 0:
        return out
    cursor = 0.0
    for p in sorted(phones, key=lambda p: (p.start, p.end)):
        start, end = float(max(p.start, cursor, 0.0)), float(min(p.end, duration))
        if end - start <= _EPS:
            continue
        if start - cursor > _EPS:
            _append(out, silence(cursor, start))
        else:
            start = cursor  # close float-dust gaps so neighbours share a boundary exactly
        if p.viseme == "sil":
            _append(out, silence(start, end))
        else:
            _append(out, Phone(start, end, p.label, p.viseme))
        cursor = end
    if duration - cursor > _EPS or not out:
        _append(out, silence(cursor, duration))
    elif out[-1].end != duration:  # float dust: make the cover end exactly at `duration`
        last = out[-1]
        out[-1] = Phone(last.start, duration, last.label, last.viseme)
    return out


def _append(out: list[Phone], phone: Phone) -> None:
    # One pause is one phone, however many pause symbols the aligner emitted for it.
    if out and out[-1].viseme == "sil" and phone.viseme == "sil":
        out[-1] = silence(out[-1].start, phone.end)
    else:
        out.append(phone)
