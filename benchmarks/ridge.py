"""The linear baseline a learned mouth must beat: ridge regression from +-200 ms of the same
per-clip normalised log-mel (every 20 ms) to the tracker's mouth opening (z-scored per clip),
fitted on the same real material as the fold models (heygem_core/soundmouth/corpus.py: the
single clips, GRID s1 and the Arabic anchors, each recording's offset taken out) with the
same folds: the ridge for a speaker never saw that speaker's fold.

    from ridge import RidgeFolds
    ridge = RidgeFolds(cache_dir).for_speaker("obama_20s_audio_adv240ms")
    opening = ridge(audio, fps, n_frames)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import corpus, data, features  # noqa: E402

SPAN, STEP = 20, 2  # +-200 ms of 10 ms feature frames, every second one
PENALTY = 3e3
OFFSETS = np.arange(-SPAN, SPAN + 1, STEP)


def frame_inputs(feats: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The log-mel context around each time (seconds)."""
    at = np.clip(np.round(np.asarray(times) * features.RATE).astype(int), 0, len(feats) - 1)
    return feats[np.clip(at[:, None] + OFFSETS, 0, len(feats) - 1)].reshape(len(at), -1)


def _z(x: np.ndarray) -> np.ndarray:
    return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-9)


class RidgeFolds:
    def __init__(self, cache_dir: Path, shared: Path = HERE.parent / "shared"):
        self.settings = Settings(cache_dir=cache_dir, tracking_processes=1)
        self.clips = corpus.all_clips(shared)
        self._rows: list[tuple[int, np.ndarray, np.ndarray]] | None = None
        self._fits: dict[int, object] = {}

    def _material(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        if self._rows is None:
            self._rows = []
            for clip in self.clips:
                utt = data.real_utterance(clip.path, self.settings, cache_dir=self.settings.cache_dir)
                lag = 0 if clip.bulk else data.recording_lag(utt, clip.path)
                times = np.asarray(utt.extra["times"]) + lag / float(utt.extra["fps"])
                self._rows.append((corpus.fold_of(clip.speaker), frame_inputs(utt.feats, times), _z(utt.extra["gap"])))
        return self._rows

    def for_speaker(self, speaker: str):
        fold = corpus.fold_of(speaker)
        if fold not in self._fits:
            rows = [(x, y) for f, x, y in self._material() if f != fold]
            x, y = np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
            ok = np.isfinite(y)
            x, y = x[ok], y[ok]
            mean, scale = x.mean(0), x.std(0) + 1e-6
            z = (x - mean) / scale
            coef = np.linalg.solve(z.T @ z + PENALTY * np.eye(z.shape[1]), z.T @ y)
            self._fits[fold] = (mean, scale, coef)
        mean, scale, coef = self._fits[fold]

        def opening(audio, fps: float, n_frames: int) -> np.ndarray:
            feats = features.clip_features(audio.pcm, audio.sr)
            return ((frame_inputs(feats, np.arange(n_frames) / fps) - mean) / scale) @ coef

        return opening
