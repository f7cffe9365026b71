"""Per-lecturer adaptation: the general model's opening, corrected by a small head fitted on
the source video's own sound -> its own mouth.

A lecture source is minutes of the lecturer's own speech, and that speaker's mouth is what
the output must look like. The head is a ridge regression to the source's tracked opening
from the general network's last hidden layer and from the sound's own log-mel, each with a
little context around the frame. How strongly it is held back (its penalty) and how much of
it to use are chosen on parts of the source held back from the fit (each quarter predicted
by a head fitted on the other three); where the head does not beat the general model there,
or the source is too short to tell, the general model is used alone (``weight`` 0), and the job's notes say why.

The source's own sound may be offset from its picture (footage found in the wild often is):
that lag is measured over the whole source and taken out first, so the head learns the
speaker's mouth and not the recording's offset.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import cache, mouth
from . import features, net

log = logging.getLogger(__name__)

ADAPT_VERSION = 3  # 2: the head kept as one folded coefficient vector; 3: it reads the log-mel too
# Seconds of tracked source under which no head is fitted: its held-back quarters would be a
# sentence each, too few to choose a weight on.
MIN_SECONDS = 8.0
# The weight is chosen by blocked cross-validation: each of BLOCKS contiguous stretches of the
# source is predicted by a head fitted on the others (never on itself).
BLOCKS = 4
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
# The head is used only where it beats the general model on the held-back slice by this much.
MARGIN = 0.03
# Chosen with the weight, on the held-back quarters: a minute of source bears a looser head
# than ten seconds do.
PENALTIES = (300.0, 1000.0, 3000.0, 10000.0)
# Hidden-layer frames (100 Hz) read around each video frame, and log-mel frames (+-200 ms,
# every 40 ms): the network's last layer keeps what generalises across speakers, the sound
# itself what this speaker's mouth does with it. With the log-mel the head gained more on the
# sets the self-dub does not score (long recordings of 8 Arabic anchors and of GRID s1,
# the opening's r with FaceMesh's reading of the other half: +0.066 and +0.095 against
# +0.034 and +0.077; docs/research/learned_mouth.md).
CONTEXT = (-10, -5, 0, 5, 10)
SOUND_CONTEXT = tuple(range(-20, 21, 4))
# Frames per matrix product: the head's inputs (~770 numbers a frame, 6 MB a chunk) are never all held at
# once, so a long source or a long new sound costs time, not memory.
CHUNK = 1024
# The source's lag: searched within +-MAX_LAG video frames, taken where loudness and the
# general model agree (within a frame) that it beats lag 0 by LAG_MARGIN in r, at MIN_LAG
# frames or more (real mouths lead their sound by 0-3 frames on their own).
MAX_LAG, LAG_MARGIN, MIN_LAG = 10, 0.1, 3


@dataclass(frozen=True)
class Adaptation:
    """A fitted head (or the decision not to use one) for one source and one model."""

    weight: float  # share of the head in the opening; 0: the general model alone
    lag_frames: int  # the source's sound after its picture, taken out before fitting
    general_r: float  # on the held-back slice, against the source's own (tracked) mouth
    adapted_r: float
    seconds: float  # of tracked source fitted on
    model_version: str
    reason: str  # one line for the job's notes
    # the head on its inputs (``_inputs``), standardisation folded in: only
    # its output's z-score is used, so its mean and offset do not matter
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def used(self) -> bool:
        return self.weight > 0

    @property
    def worth_a_note(self) -> bool:
        """Whether a job says what was decided: a short source's fallback goes without saying."""
        return self.used or self.seconds >= MIN_SECONDS

    def opening(self, hidden: np.ndarray, feats: np.ndarray, general: np.ndarray) -> np.ndarray:
        """The adapted opening at 100 Hz: the general model's (``general``) and the head's (from
        the network's ``hidden`` layer and the sound's ``feats``), mixed as z-scores and put
        back on the general opening's scale."""
        if not self.used:
            return general
        at = np.arange(len(general))
        head = np.concatenate([_inputs(hidden, feats, at[i : i + CHUNK]) @ self.coef for i in range(0, len(at), CHUNK)])
        mixed = (1 - self.weight) * _z(general) + self.weight * _z(head)
        return np.clip(general.mean() + general.std() * mixed, 0.0, net.OPEN_MAX)


def not_used(
    reason: str,
    seconds: float = 0.0,
    lag: int = 0,
    model_version: str = "",
    general_r: float = float("nan"),
    adapted_r: float = float("nan"),
) -> Adaptation:
    """The record that no head is used (the general model), and why."""
    return Adaptation(0.0, lag, general_r, adapted_r, seconds, model_version, reason)


def fit(
    landmarks: np.ndarray, lost: np.ndarray, fps: float, pcm: np.ndarray, sr: int, weights: net.Weights
) -> Adaptation:
    """The head for a source whose tracked ``landmarks`` (frames x 68 x 2; ``lost`` frames
    have no face) were filmed with sound ``pcm``."""
    feats = features.clip_features(pcm, sr)
    h = net.hidden(weights, feats)
    general = _general_opening(weights, h)
    n = min(len(lost), int(len(feats) / features.RATE * fps))
    gap = np.full(n, np.nan)
    found = ~np.asarray(lost[:n], bool)
    gap[found] = mouth.steady_opening(np.asarray(landmarks[:n])[found])
    seconds = float(found.sum() / fps)
    if seconds < MIN_SECONDS:
        return not_used(
            f"source too short to adapt to ({seconds:.0f} s of face, {MIN_SECONDS:.0f} s needed): general model",
            seconds,
            0,
            weights.version,
        )
    from ..audio import Audio, loudness_envelope

    loud = loudness_envelope(Audio(np.asarray(pcm, np.float32), sr), fps, n)
    lag = source_lag(gap, loud, features.at_times(general, np.arange(n) / fps))
    # mouth frame i goes with the sound at i/fps + lag/fps
    at = np.clip(np.round((np.arange(n) + lag) / fps * features.RATE).astype(int), 0, len(feats) - 1)
    y = _z(gap)
    g = general[at]
    ok = np.isfinite(y)  # the frames with a face: MIN_SECONDS of them at least, checked above
    # each of BLOCKS stretches of the source predicted by a head fitted on the others
    edges = [n * b // BLOCKS for b in range(BLOCKS + 1)]
    blocks = list(zip(edges[:-1], edges[1:]))
    rows = _Rows(h, feats, at, ok)
    grams = [rows.gram(lo, hi, y) for lo, hi in blocks]
    whole = (np.sum([gr for gr, _ in grams], axis=0), np.sum([c for _, c in grams], axis=0))
    g_z = np.concatenate([_z(np.where(ok, g, np.nan)[lo:hi]) for lo, hi in blocks])
    r_general = _pearson(g_z, y)
    # each block's heads, one per penalty (columns), from one pass over its inputs
    heads = np.concatenate(
        [
            _z(rows.predict(lo, hi, np.stack([_solve(whole[0] - gr, whole[1] - c, p) for p in PENALTIES], 1)))
            for (lo, hi), (gr, c) in zip(blocks, grams)
        ]
    )
    tried = {
        (penalty, w): _pearson((1 - w) * g_z + w * heads[:, k], y)
        for k, penalty in enumerate(PENALTIES)
        for w in WEIGHTS
    }
    penalty, best = max(tried, key=lambda k: tried[k])
    r_best = tried[(penalty, best)]
    if not r_best >= r_general + MARGIN:
        return not_used(
            f"adaptation did not help on held-back parts of the source "
            f"(r {r_best:.2f} vs {r_general:.2f}): general model",
            seconds,
            lag,
            weights.version,
            r_general,
            r_best,
        )
    return Adaptation(
        weight=best,
        lag_frames=lag,
        general_r=r_general,
        adapted_r=r_best,
        seconds=seconds,
        model_version=weights.version,
        reason=f"adapted to the lecturer ({seconds:.0f} s; r {r_general:.2f} -> {r_best:.2f} "
        f"on held-back parts, head weight {best:g}"
        + (f", source sound {lag * 1000 / fps:+.0f} ms off its picture taken out" if lag else "")
        + ")",
        coef=rows.folded(_solve(*whole, penalty)),
    )


def source_lag(gap: np.ndarray, loudness: np.ndarray, general: np.ndarray) -> int:
    """The frames by which a recording's sound comes after its picture, over the whole
    recording: where its loudness and the general model both follow its mouth best at the
    same lag (within a frame), clearly better than at 0; else 0."""

    def best(ref: np.ndarray) -> tuple[int, float]:
        rs = np.array([_at_lag(ref, gap, k) for k in range(-MAX_LAG, MAX_LAG + 1)])
        if not np.isfinite(rs).any() or not np.isfinite(rs[MAX_LAG]):
            return 0, 0.0
        k = int(np.nanargmax(rs))
        return k - MAX_LAG, float(rs[k] - rs[MAX_LAG])

    (k_loud, gain_loud), (k_model, gain_model) = best(loudness), best(general)
    # a best lag at the edge of the search is a slope, not a peak
    if (
        abs(k_loud - k_model) <= 1
        and max(gain_loud, gain_model) >= LAG_MARGIN
        and MIN_LAG <= abs(k_model) < MAX_LAG
        and abs(k_loud) < MAX_LAG
    ):
        return int(round((k_loud + k_model) / 2))
    return 0


def _general_opening(weights: net.Weights, h: np.ndarray) -> np.ndarray:
    out = net.outputs(weights, h)[:, net.OPENING].astype(np.float64)
    return net.OPEN_MAX / (1 + np.exp(-out))


def _inputs(h: np.ndarray, feats: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The head's inputs for the 100 Hz frames ``at``: the hidden layer and the log-mel around
    each, and a constant."""
    cols = [h[np.clip(at + k, 0, len(h) - 1)] for k in CONTEXT]
    cols += [feats[np.clip(at + k, 0, len(feats) - 1)] for k in SOUND_CONTEXT]
    return np.concatenate(cols + [np.ones((len(at), 1), np.float32)], axis=1).astype(np.float64)


class _Rows:
    """The head's standardised inputs for the source's video frames (``at``: each one's 100 Hz
    frame; ``ok``: those with a face), made a chunk at a time."""

    def __init__(self, h: np.ndarray, feats: np.ndarray, at: np.ndarray, ok: np.ndarray) -> None:
        self.h, self.feats, self.at, self.ok = h, feats, at, ok
        sums = [(x[keep].sum(0), (x[keep] ** 2).sum(0), int(keep.sum())) for x, keep in self._chunks(0, len(at), False)]
        count = sum(n for _, _, n in sums)
        self.mean: np.ndarray = np.sum([a for a, _, _ in sums], axis=0) / count
        square = np.sum([b for _, b, _ in sums], axis=0) / count
        self.scale: np.ndarray = np.sqrt(np.maximum(square - self.mean**2, 0.0)) + 1e-6
        self.mean[-1], self.scale[-1] = 0.0, 1.0  # the constant column stays a constant

    def _chunks(self, lo: int, hi: int, standardised: bool = True):
        for i in range(lo, hi, CHUNK):
            j = min(i + CHUNK, hi)
            x = _inputs(self.h, self.feats, self.at[i:j])
            yield ((x - self.mean) / self.scale if standardised else x), self.ok[i:j]

    def gram(self, lo: int, hi: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z'z, z'y) over frames lo..hi with a face."""
        parts = [
            (z[keep].T @ z[keep], z[keep].T @ y[i : i + len(keep)][keep])
            for (z, keep), i in zip(self._chunks(lo, hi), range(lo, hi, CHUNK))
        ]
        return np.sum([g for g, _ in parts], axis=0), np.sum([c for _, c in parts], axis=0)

    def predict(self, lo: int, hi: int, coef: np.ndarray) -> np.ndarray:
        return np.concatenate([z @ coef for z, _ in self._chunks(lo, hi)])

    def folded(self, coef: np.ndarray) -> np.ndarray:
        """``coef`` for unstandardised inputs (only the head's z-score is used, so the offset the
        mean makes does not matter)."""
        return coef / self.scale


def _solve(gram: np.ndarray, cross: np.ndarray, penalty: float) -> np.ndarray:
    return np.linalg.solve(gram + penalty * np.eye(len(gram)), cross)


def _z(x: np.ndarray) -> np.ndarray:
    """Each column (a series: the whole of it) to zero mean and unit spread."""
    x = np.asarray(x, np.float64)
    return (x - np.nanmean(x, axis=0)) / (np.nanstd(x, axis=0) + 1e-9)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 5 or np.std(x[ok]) < 1e-9 or np.std(y[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _at_lag(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """r of x at frame t+k with y at frame t."""
    if k > 0:
        return _pearson(x[k:], y[:-k])
    if k < 0:
        return _pearson(x[:k], y[-k:])
    return _pearson(x, y)


# -------------------------------------------------------------------------- kept on disk
def cache_key(source_sha256: str, tracker_version: str, weights: net.Weights) -> str:
    return cache.key(
        "adapt",
        made_by={"adapt": ADAPT_VERSION, "tracker": tracker_version, "model": weights.version},
        inputs={"source": source_sha256},
    )


def save(path: Path, a: Adaptation) -> Path:
    """``a`` as one .npz at ``path`` (errors raised: for the artifact store)."""
    meta = {
        k: getattr(a, k)
        for k in ("weight", "lag_frames", "general_r", "adapted_r", "seconds", "model_version", "reason")
    }
    with open(path, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps(meta)), coef=a.coef)
    return path


def keep(path: Path, a: Adaptation) -> None:
    """``a`` kept in the cache at ``path`` (atomic; a cache that cannot be written costs time only)."""
    cache.write(path, lambda tmp: save(tmp, a), "lecturer adaptation")


def load(path: Path) -> Adaptation:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        return Adaptation(**meta, coef=z["coef"])
