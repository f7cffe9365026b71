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
         settings: Settings, adaptation=None) -> MouthPlan:
    """The mouth plan for ``clip``; the learned planner's opening is adapted to the lecturer
    where ``adaptation`` (soundmouth.adapt.Adaptation) says so."""
    scripted = phonetics.has_script(transcript)
    phones = None
    if scripted or check(settings) == "phones":
        phones = phonetics.aligned(clip.pcm, clip.sr, transcript=transcript, language=language,
                                   cache_dir=settings.cache_dir)
    if settings.planner == "phones":
        return build_plan(phones, loudness_db, fps)
    from .soundmouth.predict import learned_plan, predict

    return learned_plan(predict(clip.pcm, clip.sr, settings.mouth_model, adaptation), loudness_db, fps, phones,
                        lead_s=settings.mouth_lead_ms / 1000.0)


def adaptation(video_path, track, settings: Settings):
    """The learned mouth adapted to the lecturer of ``video_path`` (its own sound against its
    tracked ``track``), kept in the cache by the source's content; None where the planner or
    the settings use no adaptation. A source without sound gets the general model."""
    if check(settings) != "learned" or settings.adapt == "off":
        return None
    from . import cache
    from .audio import load_audio
    from .errors import NoAudio
    from .soundmouth import adapt, net
    from .track import version as tracker_version

    weights = net.load(settings.mouth_model)
    path = cache.entry(settings.cache_dir, "adapt",
                       adapt.cache_key(track.source_sha256, tracker_version(settings), weights), ".npz")
    kept = cache.read(path, adapt.load, "lecturer adaptation")
    if kept is not None:
        return kept
    try:
        sound = load_audio(video_path, 16000)
    except NoAudio:
        return adapt.not_used("the source video has no sound to adapt to: general model")
    fitted = adapt.fit(track.landmarks, track.lost, track.fps, sound.pcm, sound.sr, weights)
    adapt.keep(path, fitted)
    return fitted


def version(settings: Settings) -> str:
    """What the plan for the same audio depends on beyond the audio: enters cache keys."""
    if check(settings) == "phones":
        return "phones"
    from .soundmouth import net

    return f"{net.load(settings.mouth_model).version} lead={settings.mouth_lead_ms:g}ms"


def warm(settings: Settings, transcript: str | None) -> None:
    """Start loading what the planner will need, beside other start-up work."""
    if check(settings) == "phones" and not phonetics.has_script(transcript):
        from . import sphinx

        sphinx.warm()
