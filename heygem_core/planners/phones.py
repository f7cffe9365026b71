"""The phone aligners alone as the planner: pocketsphinx with no transcript, espeak + DTW with one."""

from __future__ import annotations

from .. import phonetics
from ..config import Settings
from ..plan import MouthPlan, build_plan
from . import PlannerBase


class PhonesPlanner(PlannerBase):  # phones know no lecturer: no adaptation
    name = "phones"

    def version(self, settings: Settings) -> str:
        return "phones"

    def plan(
        self, clip, loudness_db, fps: float, transcript: str | None, language: str, settings: Settings, adaptation=None
    ) -> MouthPlan:
        phones = phonetics.aligned(
            clip.pcm, clip.sr, transcript=transcript, language=language, cache_dir=settings.cache_dir
        )
        return build_plan(phones, loudness_db, fps)

    def warm(self, settings: Settings, transcript: str | None) -> None:
        if not phonetics.has_script(transcript):
            from .. import sphinx

            sphinx.warm()
