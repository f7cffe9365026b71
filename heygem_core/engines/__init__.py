"""Lip-sync engines: given a source video's face track and a mouth plan for the new audio,
produce for every output frame a lower-face ``Patch`` (or ``None`` to keep the frame).

An engine works in two steps so the expensive, possibly GPU-bound decision can run on another
machine than the compositing, with only a small record between them:

- ``drive(job) -> Motion``: what each output frame shows (for the exemplar engine, which
  library frame and how far to bend its lips; a neural engine would put its generated mouth
  crops here). A ``Motion`` saves to one ``.npz`` file.
- ``patches(job, motion)``: the lower-face patches, one per output frame, for the compositor.

``drive`` gets the new audio too (``EngineJob.sound``, 16 kHz mono, as the planner heard it),
so an engine that reads sound itself needs nothing more. An engine's ``version`` enters the
cache key of every motion it makes: bump it when its output for the same job changes.

Register a new engine with one line in ``ENGINES``; everything around it is shared. Engines
are built once per process and settings (``get_engine``): a model loads once, not per stage.
"""
from __future__ import annotations

import io
import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from ..audio import Audio
from ..blend import Patch
from ..config import Settings
from ..errors import InputError
from ..media import atomic_output
from ..plan import MouthPlan
from ..track.model import FaceTrack


@dataclass
class EngineJob:
    source: object  # media.VideoInfo
    track: FaceTrack
    base_index: np.ndarray  # (T,) source frame shown under each output frame
    plan: MouthPlan | None
    settings: Settings
    sound: Audio | None = None  # the new audio (drive only; None when rendering)


@dataclass
class Motion:
    """An engine's decision for every output frame: small, saved between tasks."""

    engine: str  # engine version that made it
    base_index: np.ndarray  # (T,) source frame under each output frame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.base_index)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        buf = io.BytesIO()
        np.savez_compressed(buf, __engine__=np.array(self.engine), __base_index__=self.base_index,
                            **self.arrays)
        with atomic_output(path) as tmp:
            tmp.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Motion":
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if not k.startswith("__")}
            return cls(engine=str(data["__engine__"]), base_index=data["__base_index__"], arrays=arrays)


class Engine(Protocol):
    name: str
    version: str

    def drive(self, job: EngineJob) -> Motion: ...

    def patches(self, job: EngineJob, motion: Motion) -> Iterator[Patch | None]: ...


def _exemplar(settings: Settings) -> Engine:
    from .exemplar import ExemplarEngine

    return ExemplarEngine(settings)


ENGINES: dict[str, Callable[[Settings], Engine]] = {
    "exemplar": _exemplar,
}


_built_lock = threading.Lock()


def get_engine(name: str, settings: Settings) -> Engine:
    """The engine ``name`` for ``settings``, built once per process (a flow's task threads and
    the web app's jobs share it)."""
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")
    with _built_lock:
        return _built(name, ENGINES[name], settings)


@functools.lru_cache(maxsize=16)
def _built(name: str, factory: Callable[[Settings], Engine], settings: Settings) -> Engine:
    return factory(settings)
