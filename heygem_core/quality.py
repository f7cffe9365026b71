"""How well a video's mouth follows its audio, measured the same way for every engine.

SyncNet weights are not available offline, so sync is read from landmarks. Two readings:

- ``independent_series``: the mouth read by FaceMesh, a landmark model other than the
  tracker that drives the engine, compared with the mouth the learned model expects for the
  audio (``expected_opening``). This is the product's QA figure; its pass mark is calibrated
  on real footage with its own sound (README, "QA").
- ``sync_report``/``mouth_series``: the tracker's (dlib's) mouth against the audio's loudness
  envelope, and phonetic checkpoints (lips closed at /p b m/, open at open vowels). Real
  footage with its own voice scores about 0.2 on the loudness correlation; well above 0.3
  means a mouth that flaps with loudness rather than speaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import audio as audio_mod
from . import media, mouth
from .config import Settings
from .track import track_video

# Inner-lip gap (fraction of eye distance) under which lips count as closed.
CLOSED_OPENING = 0.035
OPEN_VOWELS = ("aa",)


@dataclass(frozen=True)
class MouthSeries:
    fps: float
    opening: np.ndarray  # (N,) NaN where no face
    found: np.ndarray  # (N,) bool


@dataclass(frozen=True)
class SyncReport:
    correlation: float  # mouth opening (dlib) vs loudness envelope
    coverage: float  # fraction of frames with a face
    frames: int
    agreement: float = float("nan")  # FaceMesh mouth vs the mouth expected for the audio (QA's sync)


@dataclass(frozen=True)
class PhoneticReport:
    bilabials: int
    closure_rate: float  # fraction of /p b m/ during which the lips meet
    open_ratio: float  # mean opening at open vowels / mean opening at bilabials


def mouth_series(video: str | Path | media.VideoInfo, settings: Settings, track=None) -> MouthSeries:
    track = track if track is not None else track_video(video, settings)
    found = ~track.lost
    opening = np.full(track.n_frames, np.nan)
    opening[found] = mouth.opening(track.landmarks[found])
    return MouthSeries(fps=track.fps, opening=opening, found=found)


def correlation(opening: np.ndarray, loudness_db: np.ndarray) -> float:
    n = min(len(opening), len(loudness_db))
    x, y = np.asarray(opening[:n], float), np.asarray(loudness_db[:n], float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) < 1e-9 or np.std(y[ok]) < 1e-9:
        return 0.0
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def sync_report(video: str | Path, audio: str | Path | None = None, *, settings: Settings) -> SyncReport:
    """Sync of ``video``'s mouth against ``audio`` (default: the video's own audio track)."""
    info = media.probe_video(video, settings.cache_dir)
    track = track_video(info, settings)
    series = mouth_series(info, settings, track)
    clip = audio_mod.load_audio(audio or video, sr=16000)
    loud = audio_mod.loudness_envelope(clip, series.fps, len(series.opening))
    mesh = independent_series(info, settings, track)
    expected = expected_opening(clip, series.fps, len(mesh.opening), settings)
    return SyncReport(
        correlation=correlation(series.opening, loud),
        coverage=float(series.found.mean()),
        frames=len(series.opening),
        agreement=correlation(mesh.opening, expected),
    )


def phonetic_report(series: MouthSeries, phones: Sequence, offset: float = 0.0) -> PhoneticReport:
    """Phonetic checkpoints against true phone timings (``phones`` with .start/.end/.viseme,
    shifted by ``offset`` seconds into the video)."""
    closed_hits, bil_open, vow_open = [], [], []
    n = len(series.opening)
    for ph in phones:
        a = int(np.floor((ph.start + offset) * series.fps))
        b = max(a + 1, int(np.ceil((ph.end + offset) * series.fps)))
        window = series.opening[max(a, 0) : min(b, n)]
        window = window[np.isfinite(window)]
        if len(window) == 0:
            continue
        if ph.viseme == "PP":
            closed_hits.append(window.min() < CLOSED_OPENING)
            bil_open.append(window.mean())
        elif ph.viseme in OPEN_VOWELS:
            vow_open.append(window.mean())
    rate = float(np.mean(closed_hits)) if closed_hits else float("nan")
    ratio = float(np.mean(vow_open) / max(np.mean(bil_open), 1e-3)) if bil_open and vow_open else float("nan")
    return PhoneticReport(bilabials=len(closed_hits), closure_rate=rate, open_ratio=ratio)


def independent_series(video: str | Path | media.VideoInfo, settings: Settings, track=None) -> MouthSeries:
    """The mouth opening of ``video`` read by FaceMesh, a landmark model other than the
    tracker that drives the engine (placed on each frame from the tracked face). NaN where
    either model finds no face."""
    from . import facemesh

    info = video if isinstance(video, media.VideoInfo) else media.probe_video(video, settings.cache_dir)
    track = track if track is not None else track_video(info, settings)
    mesh = facemesh.shared()
    opening = np.full(track.n_frames, np.nan)
    for i, frame in enumerate(media.read_frames(info)):
        if i >= track.n_frames:
            break
        if track.lost[i]:
            continue
        opening[i] = _mesh_opening(mesh, frame, track.landmarks[i])
    return MouthSeries(fps=track.fps, opening=opening, found=np.isfinite(opening))


def _mesh_opening(mesh, frame_bgr: np.ndarray, face68: np.ndarray) -> float:
    """FaceMesh's mouth opening of the face dlib's points ``face68`` locate; NaN if none."""
    from . import facemesh

    points = mesh.landmarks(frame_bgr, face68)
    return float(facemesh.mouth_opening(points)) if points is not None else float("nan")


def expected_opening(clip: audio_mod.Audio, fps: float, n_frames: int, settings: Settings) -> np.ndarray:
    """The opening QA's judge model expects at each of ``n_frames`` frames for ``clip``: the
    learned mouth trained on synthetic speech alone (net.JUDGE_PATH), never the planner's
    model, which learned from the real clips QA's pass mark is calibrated on and drives the
    render QA judges. It is read ``settings.mouth_lead_ms`` ahead, as the planner reads its own:
    a mouth is expected to move a little before its sound."""
    from .soundmouth import net
    from .soundmouth.predict import predict

    return predict(clip.pcm, clip.sr, net.JUDGE_PATH).at(fps, n_frames, settings.mouth_lead_ms / 1000.0).opening


# How far a source's mouth must open (dlib inner-lip gap / eye distance, 95th minus 5th
# percentile over its frames) for the exemplar engine to show speech: it reuses the source's
# own mouths, opened at most ``max_open_stretch`` further. 18 real speaking faces (the corpus
# and the fixtures) range 0.082-0.27 (benchmarks/source_range.py), chaplin_7s 0.033; a presenter
# who does not speak (sun_silent_22s) 0.019.
MIN_SOURCE_RANGE = 0.03


def source_range(track) -> float:
    """The spread of the source's mouth opening over its tracked frames."""
    found = ~np.asarray(track.lost, bool)
    if found.sum() < 2:
        return 0.0
    opening = mouth.opening(track.landmarks[found])
    return float(np.percentile(opening, 95) - np.percentile(opening, 5))


def source_warning(track) -> str | None:
    """Plain words when the source cannot show what new speech needs, else None."""
    spread = source_range(track)
    if spread >= MIN_SOURCE_RANGE:
        return None
    return (
        f"the source's mouth barely opens (it moves {spread:.3f} eye distances; a speaking face "
        f"0.08-0.27): the output will hardly move; use a take where the lecturer speaks"
    )


class OutputReader:
    """An output's mouth opening read by FaceMesh while it is rendered (each composed frame,
    one in ``every``, before it is encoded: no second decode of the output), placed from the
    *source's* track at the source frame under each output frame (the output keeps the
    source's head). NaN where FaceMesh sees no face and between read frames."""

    def __init__(self, track, base_index: np.ndarray, every: int = 2):
        from . import facemesh

        self.mesh = facemesh.shared()
        self.track, self.base_index, self.every = track, np.asarray(base_index), every
        self.opening = np.full(len(self.base_index), np.nan)

    def __call__(self, t: int, frame_i420: np.ndarray) -> None:
        import cv2

        k = int(self.base_index[t])
        if t % self.every or self.track.lost[k]:
            return
        frame = cv2.cvtColor(frame_i420, cv2.COLOR_YUV2BGR_I420)
        self.opening[t] = _mesh_opening(self.mesh, frame, self.track.landmarks[k])

    def series(self, fps: float) -> MouthSeries:
        return MouthSeries(fps=fps, opening=self.opening, found=np.isfinite(self.opening))
