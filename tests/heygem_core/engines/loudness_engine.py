"""A trivial engine, as a new engine is added: this one file and one line in ``ENGINES``.

It decides nothing but records the new audio's level per frame (proving ``drive`` hears the
sound), and keeps every frame as recorded. It declares one setting of its own,
``HEYGEM_LOUDNESS_FLOOR``, to show that an engine's settings are namespaced and checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heygem_core.engines.base import EngineJob, Motion


@dataclass(frozen=True)
class LoudnessOptions:
    floor: float = 1e-6  # level under this reads as silence

    def __post_init__(self):
        if not 0 <= self.floor < 1:
            raise ValueError(f"HEYGEM_LOUDNESS_FLOOR={self.floor}: must be from 0 to 1")


class LoudnessEngine:
    name = "loudness"
    version = "loudness-1"
    Options = LoudnessOptions
    built = 0

    def __init__(self, settings, options: LoudnessOptions | None = None):
        type(self).built += 1
        self.options = options or LoudnessOptions()

    def drive(self, job: EngineJob) -> Motion:
        assert job.sound is not None and job.sound.sr > 0
        per_frame = np.array_split(job.sound.pcm, len(job.base_index))
        level = np.array([float(np.sqrt(np.mean(c.astype(np.float64) ** 2))) if len(c) else 0.0 for c in per_frame])
        return Motion(
            engine=self.version,
            base_index=np.asarray(job.base_index, np.int64),
            arrays={"level": np.maximum(level, self.options.floor).astype(np.float32)},
        )

    def patches(self, job, motion):
        for _ in range(motion.n_frames):
            yield None
