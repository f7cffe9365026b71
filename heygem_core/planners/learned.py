"""The learned planner: the sound->mouth network (``heygem_core.soundmouth``), for any language;
with a transcript its opening is shared with the scripted phones, whose closures it keeps; its
opening adapted to each lecturer where that helps (``soundmouth.adapt``)."""

from __future__ import annotations

from .. import phonetics
from ..config import Settings
from ..plan import MouthPlan
from . import PlannerBase


class LearnedPlanner(PlannerBase):
    name = "learned"

    def version(self, settings: Settings) -> str:
        from ..soundmouth import net

        return f"{net.load(settings.mouth_model).version} lead={settings.mouth_lead_ms:g}ms"

    def plan(
        self, clip, loudness_db, fps: float, transcript: str | None, language: str, settings: Settings, adaptation=None
    ) -> MouthPlan:
        from ..soundmouth.predict import learned_plan, predict

        phones = None
        if phonetics.has_script(transcript):
            phones = phonetics.aligned(
                clip.pcm, clip.sr, transcript=transcript, language=language, cache_dir=settings.cache_dir
            )
        return learned_plan(
            predict(clip.pcm, clip.sr, settings.mouth_model, adaptation),
            loudness_db,
            fps,
            phones,
            lead_s=settings.mouth_lead_ms / 1000.0,
        )

    def adaptation(self, video_path, track, settings: Settings):
        """The learned mouth adapted to the lecturer of ``video_path`` (its own sound against its
        tracked ``track``), kept in the cache by the source's content; None where the settings
        use no adaptation. A source without sound gets the general model."""
        if settings.adapt == "off":
            return None
        from .. import cache
        from ..audio import load_audio
        from ..errors import NoAudio
        from ..soundmouth import adapt, net
        from ..track import version as tracker_version

        weights = net.load(settings.mouth_model)
        path = cache.entry(
            settings.cache_dir,
            "adapt",
            adapt.cache_key(track.source_sha256, tracker_version(settings), weights),
            ".npz",
        )
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
