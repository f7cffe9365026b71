"""Lip-sync engines: given a source video's face track and a mouth plan for the new audio,
produce for every output frame a lower-face ``Patch`` (or ``None`` to keep the frame).

An engine is a class with ``name``, ``version`` and ``patches(job)``; register it in
``ENGINES``. The compositor and everything around it are shared, so a neural (GPU) engine only
has to generate mouths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from ..blend import Patch
from ..config import Settings
from ..errors import InputError
from ..plan import MouthPlan
from ..track.model import FaceTrack


@dataclass
class EngineJob:
    source: object  # media.VideoInfo
    track: FaceTrack
    base_index: np.ndarray  # (T,) source frame shown under each output frame
    plan: MouthPlan
    settings: Settings
    # Filled by engines that choose frames (exemplar.Selection), for reports and tests.
    selection: object | None = None


class Engine(Protocol):
    name: str
    version: str

    def patches(self, job: EngineJob) -> Iterator[Patch | None]: ...


def _exemplar(settings: Settings) -> Engine:
    from .exemplar import ExemplarEngine

    return ExemplarEngine(settings)


ENGINES: dict[str, Callable[[Settings], Engine]] = {
    "exemplar": _exemplar,
}


def get_engine(name: str, settings: Settings) -> Engine:
    try:
        return ENGINES[name](settings)
    except KeyError:
        raise InputError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}") from None
