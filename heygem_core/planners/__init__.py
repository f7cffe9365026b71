"""Which planner turns the new audio into a mouth plan, chosen by ``settings.planner`` from
``heygem_core.plugins.PLANNERS``:

- ``learned`` (``planners/learned.py``): the sound->mouth network (soundmouth), for any
  language; with a transcript its opening is shared with the scripted phones, whose closures it
  keeps; adapted to each lecturer where that helps.
- ``phones`` (``planners/phones.py``): the phone aligners alone (pocketsphinx blind, espeak +
  DTW with a transcript), kept selectable for comparison.

A planner is a class behind the ``Planner`` protocol below; adding one is one new module and
one line in ``plugins.PLANNERS``. The functions here are what the pipeline and the tasks call;
for an engine that reads the sound itself (``needs_plan = False``) they plan nothing, adapt to
nobody, and no planner's version enters that engine's keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..config import Settings
from ..plugins import ENGINES, PLANNERS

if TYPE_CHECKING:
    import numpy as np

    from ..audio import Audio
    from ..plan import MouthPlan


class Planner(Protocol):
    """A planner keeps no state of its own: every call gets the settings of its job."""

    name: str

    def version(self, settings: Settings) -> str:
        """What the plan for the same audio depends on beyond the audio (enters cache keys)."""

    def plan(
        self,
        clip: "Audio",
        loudness_db: "np.ndarray",
        fps: float,
        transcript: str | None,
        language: str,
        settings: Settings,
        adaptation: Any = None,
    ) -> "MouthPlan": ...

    def adaptation(self, video_path, track, settings: Settings) -> Any:
        """What it learned of the lecturer of ``video_path`` (cached by the source's content), or None."""

    def warm(self, settings: Settings, transcript: str | None) -> None:
        """Start loading what it will need, beside other start-up work."""


class PlannerBase:
    """What planners share unless they say otherwise: no state of their own (one instance per
    process serves every job), no lecturer to adapt to, nothing to load ahead."""

    name = ""

    @classmethod
    def from_settings(cls, settings: Settings, options=None) -> "PlannerBase":
        return cls()

    def adaptation(self, video_path, track, settings: Settings) -> Any:
        return None

    def warm(self, settings: Settings, transcript: str | None) -> None:
        return None


def planner(settings: Settings) -> Planner:
    return PLANNERS.build(settings.planner, settings)


def wanted(settings: Settings) -> bool:
    """Whether the chosen engine follows a mouth plan (one that reads the sound itself does not)."""
    return bool(getattr(ENGINES.get(settings.engine), "needs_plan", True))


def check(settings: Settings) -> str:
    """The planner's name, once it is known to load (``UnknownPlugin`` otherwise)."""
    PLANNERS.get(settings.planner)
    return settings.planner


def plan(
    clip: "Audio",
    loudness_db: "np.ndarray",
    fps: float,
    transcript: str | None,
    language: str,
    settings: Settings,
    adaptation=None,
) -> "MouthPlan | None":
    """The mouth plan for ``clip`` (adapted to the lecturer where ``adaptation`` says so)."""
    if not wanted(settings):
        return None
    return planner(settings).plan(clip, loudness_db, fps, transcript, language, settings, adaptation)


def adaptation(video_path, track, settings: Settings):
    """What the planner learned of the lecturer of ``video_path``; None where it learns nothing
    or the settings use no adaptation."""
    if not wanted(settings):
        return None
    return planner(settings).adaptation(video_path, track, settings)


def version(settings: Settings) -> str:
    if not wanted(settings):
        return "none"
    return planner(settings).version(settings)


def warm(settings: Settings, transcript: str | None) -> None:
    if wanted(settings):
        planner(settings).warm(settings, transcript)
