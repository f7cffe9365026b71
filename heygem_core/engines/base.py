"""What every engine shares: the job it is given, the motion it decides, its protocol."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator, Protocol

import numpy as np

from ..audio import Audio
from ..blend import Patch
from ..config import Settings
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
        np.savez_compressed(buf, __engine__=np.array(self.engine), __base_index__=self.base_index, **self.arrays)  # type: ignore[arg-type]
        with atomic_output(path) as tmp:
            tmp.write_bytes(buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Motion":
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if not k.startswith("__")}
            return cls(engine=str(data["__engine__"]), base_index=data["__base_index__"], arrays=arrays)


class Engine(Protocol):
    """``Engine(settings, options)``: ``options`` is an instance of the class's ``Options``
    (a frozen dataclass of the engine's own settings, read from ``HEYGEM_<NAME>_<FIELD>``),
    or None for an engine that declares none. ``version`` names what the engine's output for
    the same job depends on in its code: bump it when that output changes."""

    name: str
    version: str
    Options: ClassVar[type | None]

    def drive(self, job: EngineJob) -> Motion: ...

    def patches(self, job: EngineJob, motion: Motion) -> Iterator[Patch | None]: ...
