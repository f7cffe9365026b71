"""Which planner turns the new audio into a mouth plan, chosen by ``settings.planner``.

- ``learned``: the sound->mouth network (soundmouth), for any language; with a transcript its
  opening is shared with the scripted phones, whose closures it keeps.
- ``phones``: the phone aligners alone (pocketsphinx blind, espeak + DTW with a transcript),
  kept selectable for comparison.
"""
from __future__ import annotations

import numpy as np

from . import phonetics
from .audio import Audio
from .config import Settings
from .errors import InputError
from .plan import MouthPlan, build_plan

PLANNERS = ("learned", "phones")


def check(settings: Settings) -> str:
    if settings.planner not in PLANNERS:
        raise InputError(f"unknown planner '{settings.planner}' (HEYGEM_PLANNER); choose one of: "
                         f"{', '.join(PLANNERS)}")
    return settings.planner


def plan(clip: Audio, loudness_db: np.ndarray, fps: float, transcript: str | None, language: str,
         settings: Settings) -> MouthPlan:
    scripted = phonetics.has_script(transcript)
    phones = None
    if scripted or check(settings) == "phones":
        phones = phonetics.aligned(clip.pcm, clip.sr, transcript=transcript, language=language,
                                   cache_dir=settings.cache_dir)
    if settings.planner == "phones":
        return build_plan(phones, loudness_db, fps)
    from .soundmouth.predict import learned_plan, predict

    return learned_plan(predict(clip.pcm, clip.sr, settings.mouth_model), loudness_db, fps, phones)


def version(settings: Settings) -> str:
    """What the plan for the same audio depends on beyond the audio: enters cache keys."""
    if check(settings) == "phones":
        return "phones"
    from .soundmouth import net

    return net.load(settings.mouth_model).version


def warm(settings: Settings, transcript: str | None) -> None:
    """Start loading what the planner will need, beside other start-up work."""
    if check(settings) == "phones" and not phonetics.has_script(transcript):
        from . import sphinx

        sphinx.warm()
