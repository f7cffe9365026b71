"""Training material for the learned mouth, in one form: an ``Utterance`` of features at
100 Hz with its targets at the same rate.

Two sources:
- **real** talking heads with their own sound: the mouth the tracker (dlib) saw, relative
  to the speaker's own widest speaking opening. This is the truth the product is judged on,
  but there is less of it than one can synthesise (about 4 min of single clips from 29 speakers, plus the
  corpus's bulk sets: GRID s1 and the Arabic anchors);
- **synthetic** espeak-ng and Festival speech, whose phone timings are exact (``synthetic``,
  which also augments sound): it teaches what real clips are too few to teach (closures at
  every /p b m/, open vowels), and augmentation (tempo, noise, room, band limits, gain) keeps
  real voices from being out of its domain.

Features and targets of each clip are kept under ``cache_dir`` by content.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import audio as audio_mod
from .. import cache, media, mouth
from ..files import sha256_file
from . import features

log = logging.getLogger(__name__)

# Absolute inner-lip gap (eye distances) under which a tracked mouth counts as closed.
CLOSED_GAP = 0.035
# A relative opening of 1 is the speaker's own 95th percentile in the clip, at least this.
MIN_FULL = 0.08

# Files of one person share a speaker name: leave-one-speaker-out holds out all of them.
# grid_bbaf2n is GRID speaker s1, the man of the corpus's grid_s1 set.
SPEAKERS = {"grid_pwij3p": "grid_pw", "grid_swwp2s": "grid_pw", "grid_bbaf2n": "grid_s1"}
# The corpus's bulk sets, by folder: one speaker each. Which Arabic anchor speaks in which
# window is not labelled, so all of them count as one.
BULK_SPEAKERS = {"grid_s1": "grid_s1", "arabic_words": "arabic_anchors"}

DATA_VERSION = 1


@dataclass
class Utterance:
    name: str
    speaker: str
    kind: str  # "real" or "synthetic"
    feats: np.ndarray  # (T, N_FEATURES) at 100 Hz
    opening: np.ndarray  # (T,) relative opening, NaN where unknown
    width: np.ndarray  # (T,) relative width (-1..1), NaN where unknown
    closed: np.ndarray  # (T,) 1 closed / 0 open, NaN where unknown
    viseme: np.ndarray  # (T,) int index into VISEMES, -1 where unknown
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.feats)


def speaker_of(path: Path) -> str:
    path = Path(path)
    if path.parent.name == "video" and path.parent.parent.name in BULK_SPEAKERS:
        return BULK_SPEAKERS[path.parent.parent.name]
    return SPEAKERS.get(path.stem, path.stem)


def real_clips(roots: list[Path]) -> list[Path]:
    """Every video with its own sound under ``roots`` (files or folders)."""
    out: list[Path] = []
    for root in roots:
        root = Path(root)
        files = (
            [root]
            if root.is_file()
            else sorted(p for p in root.rglob("*") if p.suffix in {".mp4", ".mpg", ".mov", ".mkv"})
        )
        out.extend(files)
    return out


def real_utterance(path: Path, settings, cache_dir: Path | None = None) -> Utterance:
    """A real clip: its sound's features, the tracker's mouth as targets, and (in ``extra``)
    frame times and the tracked landmarks for the independent measure."""
    from ..track import track_video

    path = Path(path)
    kept_at = None
    if cache_dir is not None:
        from ..track import version as tracker_version

        key = cache.key(
            "soundmouth",
            made_by={"data": DATA_VERSION, "tracker": tracker_version(settings)},
            inputs={"clip": sha256_file(path)},
        )
        kept_at = cache.entry(cache_dir, "soundmouth", key, ".npz")
        kept = cache.read(kept_at, _load, "training clip")
        if kept is not None:
            kept.speaker = speaker_of(path)  # the names may have been told apart since
            return kept
    info = media.probe_video(path)
    track = track_video(info, settings)
    clip = audio_mod.load_audio(path, sr=16000)
    feats = features.clip_features(clip.pcm, clip.sr)
    found = ~track.lost
    gap = np.full(track.n_frames, np.nan)
    wid = np.full(track.n_frames, np.nan)
    gap[found] = mouth.opening(track.landmarks[found])
    wid[found] = mouth.width(track.landmarks[found])
    times = np.asarray(track.time, np.float64)
    utt = Utterance(
        name=path.stem,
        speaker=speaker_of(path),
        kind="real",
        feats=feats,
        **relative_targets(gap, wid, times, len(feats)),
        viseme=np.full(len(feats), -1, np.int64),
        extra={
            "times": times,
            "gap": gap,
            "landmarks": track.landmarks.astype(np.float32),
            "lost": track.lost,
            "fps": float(track.fps),
        },
    )
    if kept_at is not None:
        _save(kept_at, utt)
    return utt


def with_lag(utt: Utterance, lag_frames: int) -> Utterance:
    """A real utterance whose recording plays its sound ``lag_frames`` video frames after its
    picture, with that offset taken out of its targets (mouth frame i goes with the sound at
    (i + lag) / fps)."""
    if not lag_frames:
        return utt
    gap, landmarks, lost = utt.extra["gap"], utt.extra["landmarks"], np.asarray(utt.extra["lost"], bool)
    wid = np.full(len(gap), np.nan)
    wid[~lost] = mouth.width(landmarks[~lost])
    times = np.asarray(utt.extra["times"], np.float64) + lag_frames / float(utt.extra["fps"])
    return Utterance(
        name=utt.name,
        speaker=utt.speaker,
        kind=utt.kind,
        feats=utt.feats,
        **relative_targets(gap, wid, times, len(utt.feats)),
        viseme=utt.viseme,
        extra=dict(utt.extra, lag=lag_frames),
    )


def recording_lag(utt: Utterance, path: Path, model=None) -> int:
    """The real clip's sound-after-picture offset over the whole clip (adapt.source_lag), with
    the synthetic-only model (net.JUDGE_PATH, which saw no real clip) as the model's voice:
    never the shipped model, which saw these clips and is what a training run replaces."""
    from . import net
    from .adapt import source_lag
    from .predict import predict

    model = model or net.JUDGE_PATH
    fps, gap = float(utt.extra["fps"]), utt.extra["gap"]
    sound = audio_mod.load_audio(path, sr=16000)
    loud = audio_mod.loudness_envelope(sound, fps, len(gap))
    return source_lag(gap, loud, predict(sound.pcm, sound.sr, model).at(fps, len(gap)).opening)


def relative_targets(gap: np.ndarray, wid: np.ndarray, times: np.ndarray, n: int) -> dict:
    """Per-frame tracked gap and width -> 100 Hz relative targets (the plan's units)."""
    ok = np.isfinite(gap)
    full = max(float(np.percentile(gap[ok], 95)) if ok.any() else MIN_FULL, MIN_FULL)
    w_lo, w_med, w_hi = np.percentile(wid[ok], [5, 50, 95]) if ok.any() else (0, 0, 1)
    spread = max((w_hi - w_lo) / 2, 0.03)
    t100 = np.arange(n) / features.RATE
    if ok.sum() < 2:
        nan = np.full(n, np.nan)
        return {"opening": nan, "width": nan.copy(), "closed": nan.copy()}

    def resampled(values: np.ndarray) -> np.ndarray:
        known = times[ok]
        out = np.interp(t100, known, values[ok])
        # a feature frame far from any tracked video frame is unknown, not held
        k = np.clip(np.searchsorted(known, t100), 1, len(known) - 1)
        gap_s = np.minimum(np.abs(t100 - known[k - 1]), np.abs(known[k] - t100))
        out[gap_s > 0.05] = np.nan
        return out

    return {
        "opening": resampled(np.clip(gap / full, 0, 1.5)),
        "width": resampled(np.clip((wid - w_med) / spread, -1.5, 1.5)),
        "closed": np.where(np.isfinite(g := resampled(gap)), (g < CLOSED_GAP).astype(float), np.nan),
    }


def _save(path: Path, utt: Utterance) -> None:
    arrays = {k: getattr(utt, k) for k in ("feats", "opening", "width", "closed", "viseme")}
    arrays.update({f"extra_{k}": np.asarray(v) for k, v in utt.extra.items()})
    meta = json.dumps({"name": utt.name, "speaker": utt.speaker, "kind": utt.kind})

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, __meta__=np.array(meta), **arrays)

    cache.write(path, save, "training clip")


def _load(path: Path) -> Utterance:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        extra = {k[len("extra_") :]: z[k] for k in z.files if k.startswith("extra_")}
        if "fps" in extra:
            extra["fps"] = float(extra["fps"])
        return Utterance(
            **meta,
            feats=z["feats"],
            opening=z["opening"],
            width=z["width"],
            closed=z["closed"],
            viseme=z["viseme"],
            extra=extra,
        )
