#!/usr/bin/env python
"""Where the learned mouth's errors lie, on whole real clips with their own sound.

For every real clip (FaceMesh reads the real mouth; the model never trained on a real clip
unless its manifest says so) it prints:
  lags:   r between the model's predicted opening and the real opening with the prediction
          shifted by -4..+4 frames (positive: later). A profile peaking off 0 on most clips
          would call for a shift; a few clips peaking far off are recordings whose sound is
          offset from the picture, which no model should copy.
  env r:  r of the loudness envelope with the real opening and with the prediction. A
          prediction far above real footage follows loudness more than mouths do.
  minus loudness: mean r with the real mouth of z(prediction) - lam * z(loudness), with lam
          chosen leave-one-clip-out: whether taking loudness out of the prediction helps.
  phones: r of the phone planner's opening (pocketsphinx, blind) with the real mouth, and of
          the plan from the transcript's phones (espeak + DTW) where the clip has one (GRID):
          whether the model's kind of target, well aligned, is its ceiling.
  English blend: mean r of z(prediction) + w * z(blind phones' opening) on the English clips
          (GRID, may, interview, katie, chaplin; the others keep the prediction), w chosen
          leave-one-clip-out.
  linear baseline: ridge regression from +-200 ms of the same per-clip normalised log-mel
          (every 20 ms, standardised) to the tracker's (dlib's) mouth opening, fitted on the
          real clips of every other speaker (leave-one-speaker-out) at a few penalties, against
          the model, which saw no real clip. Figures at lag 0 and at each recording's own lag
          (benchmarks/selfdub.recording_lag: found from loudness, no model), for all clips, the
          GRID clips and the others apart.

    .venv/bin/python benchmarks/prediction_profile.py [--model FILE] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "scripts"))

from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import media, mouth, phonetics, quality  # noqa: E402
from heygem_core.phonetics.features import energy_db  # noqa: E402
from heygem_core.plan import build_plan  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import data, features, net, predict  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
import train_mouth  # noqa: E402

sys.path.insert(0, str(HERE / "benchmarks"))
from selfdub import at_lag, recording_lag  # noqa: E402

LAGS = range(-4, 5)
LAMS = np.linspace(-0.4, 1.0, 15)
BLEND = (0.0, 0.25, 0.5, 0.75, 1.0)
RIDGE_PENALTIES = (3e3, 3e4, 1e5)
RIDGE_SPAN, RIDGE_STEP = 20, 2  # +-200 ms of 10 ms feature frames, every second one
ENGLISH = ("grid_", "may_", "interview_", "katie_", "chaplin_")
TRANSCRIPTS = HERE.parent / "shared" / "corpus" / "transcripts"


def phone_opening(clip: Path, sound, fps: float, n: int, transcript: str | None, settings) -> np.ndarray:
    phones = phonetics.aligned(sound.pcm, sound.sr, transcript=transcript, language="en", cache_dir=settings.cache_dir)
    ana = audio_mod.analysis_audio(clip)
    loud = energy_db(ana.pcm, ana.sr)
    return build_plan(phones, np.interp(np.arange(n) / fps, np.arange(len(loud)) / 100.0, loud), fps).opening


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def shifted(pred: np.ndarray, real: np.ndarray, k: int) -> float:
    if k > 0:
        return pearson(pred[:-k], real[k:])
    if k < 0:
        return pearson(pred[-k:], real[:k])
    return pearson(pred, real)


def z(x: np.ndarray) -> np.ndarray:
    x = np.where(np.isfinite(x), x, np.nanmean(x))
    return (x - x.mean()) / (x.std() + 1e-9)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model",
        type=Path,
        default=net.JUDGE_PATH,
        help="weights (default: the synthetic-only model, which saw no real clip; the shipped "
        "model saw most of these clips: judge it with benchmarks/fold_models.py)",
    )
    p.add_argument("--cache-dir", type=Path, default=Path("/tmp/heygem-profile"))
    args = p.parse_args(argv)
    settings = Settings(cache_dir=args.cache_dir)
    clips = data.real_clips([r for r in train_mouth.DEFAULT_REAL if r.exists()])
    lag_rows, lam_rows, env_real, env_pred, blend_rows, blind_r, scripted = [], [], [], [], [], [], []
    linear = {"clips": [], "speakers": [], "inputs": [], "targets": [], "real": [], "pred": [], "rec_lag": []}
    print(f"{'clip':20s} " + " ".join(f"{k:+5d}" for k in LAGS) + "  best  env r real / prediction")
    for clip in clips:
        fps = float(media.probe_video(clip).fps)
        track = track_video(clip, settings)  # read once, for FaceMesh's placing and the linear baseline
        real = quality.independent_series(clip, settings, track).opening
        sound = audio_mod.load_audio(clip, 16000)
        loud = audio_mod.loudness_envelope(sound, fps, len(real))
        pred = predict.predict(sound.pcm, sound.sr, args.model).at(fps, len(real)).opening
        rs = [shifted(pred, real, k) for k in LAGS]
        lag_rows.append(rs)
        env_real.append(quality.correlation(real, loud))
        env_pred.append(quality.correlation(pred, loud))
        lam_rows.append([pearson(z(pred) - lam * z(loud), real) for lam in LAMS])
        blind = phone_opening(clip, sound, fps, len(real), None, settings)
        blind_r.append(pearson(blind, real))
        english = clip.stem.startswith(ENGLISH)
        blend_rows.append([pearson(z(pred) + w * z(blind), real) if english else rs[4] for w in BLEND])
        _gather_linear(linear, clip, track, sound, real, pred, loud)
        script = TRANSCRIPTS / f"{clip.stem}.txt"
        if script.exists():
            plan = phone_opening(clip, sound, fps, len(real), script.read_text().strip(), settings)
            scripted.append((pearson(plan, real), rs[4], blind_r[-1]))
        print(
            f"{clip.stem:20s} "
            + " ".join(f"{r:+.2f}" for r in rs)
            + f"  {list(LAGS)[int(np.argmax(rs))]:+d}    {env_real[-1]:+.3f} / {env_pred[-1]:+.3f}",
            flush=True,
        )
    lag_rows, lam_rows = np.array(lag_rows), np.array(lam_rows)
    print(f"{'mean':20s} " + " ".join(f"{r:+.2f}" for r in lag_rows.mean(0)))
    grid = np.array([c.stem.startswith("grid_") for c in clips])
    print(
        f"env r: real mouths {np.mean(env_real):+.3f} (median {np.median(env_real):+.3f}; GRID, in step, "
        f"{np.mean(np.array(env_real)[grid]):+.3f}), prediction {np.mean(env_pred):+.3f}"
    )
    loo = [lam_rows[i, np.argmax(np.delete(lam_rows, i, 0).mean(0))] for i in range(len(lam_rows))]
    at0 = lam_rows[:, int(np.argmin(abs(LAMS)))].mean()
    print("minus loudness: " + " ".join(f"{lam:+.1f}:{v:.3f}" for lam, v in zip(LAMS, lam_rows.mean(0))))
    print(f"  lam chosen leave-one-clip-out: r {np.mean(loo):.3f} vs {at0:.3f} without")
    print(
        f"phones: blind opening mean r {np.mean(blind_r):+.3f}; on the {len(scripted)} clips with a transcript: "
        "scripted plan {:+.3f}, model {:+.3f}, blind phones {:+.3f}".format(*np.mean(scripted, 0))
    )
    blend_rows = np.array(blend_rows)
    loo = [blend_rows[i, np.argmax(np.delete(blend_rows, i, 0).mean(0))] for i in range(len(blend_rows))]
    print(
        "English blend: "
        + " ".join(f"w {w:.2f}: {v:.3f}" for w, v in zip(BLEND, blend_rows.mean(0)))
        + f"; w chosen leave-one-clip-out: {np.mean(loo):.3f}"
    )
    linear_baseline(linear)
    return 0


def _gather_linear(acc: dict, clip: Path, track, sound, real: np.ndarray, pred: np.ndarray, loud: np.ndarray) -> None:
    """One clip's inputs and targets (dlib's mouth in ``track``) for the linear baseline."""
    gap = np.full(track.n_frames, np.nan)
    gap[~track.lost] = mouth.opening(track.landmarks[~track.lost])
    feats = features.clip_features(sound.pcm, sound.sr)
    at = np.clip(np.round(np.asarray(track.time) * features.RATE).astype(int), 0, len(feats) - 1)
    offsets = np.arange(-RIDGE_SPAN, RIDGE_SPAN + 1, RIDGE_STEP)
    n = min(len(at), len(real))
    acc["clips"].append(clip.stem)
    acc["speakers"].append(data.speaker_of(clip))
    acc["inputs"].append(feats[np.clip(at[:n, None] + offsets, 0, len(feats) - 1)].reshape(n, -1))
    acc["targets"].append((gap[:n] - np.nanmean(gap)) / np.nanstd(gap))
    acc["real"].append(real[:n])
    acc["pred"].append(pred[:n])
    acc["rec_lag"].append(recording_lag(real, loud))


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float):
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x = (x - mu) / sd
    w = np.linalg.solve(x.T @ x + penalty * np.eye(x.shape[1]), x.T @ (y - y.mean()))
    return lambda z: ((z - mu) / sd) @ w + y.mean()


def linear_baseline(acc: dict) -> None:
    speakers = np.array(acc["speakers"])
    grid = np.array([c.startswith("grid_") for c in acc["clips"]])

    def figures(series: list[np.ndarray]) -> str:
        at0 = np.array([pearson(p, r) for p, r in zip(series, acc["real"])])
        rec = np.array([at_lag(p, r, k) for p, r, k in zip(series, acc["real"], acc["rec_lag"])])
        return (
            f"lag 0 {at0.mean():.3f} (GRID {at0[grid].mean():.3f}, others {at0[~grid].mean():.3f}); "
            f"at recording lags {rec.mean():.3f} (GRID {rec[grid].mean():.3f}, others {rec[~grid].mean():.3f})"
        )

    print("linear baseline (ridge on real clips, leave-one-speaker-out) vs the model (no real clip):")
    for penalty in RIDGE_PENALTIES:
        held_out = []
        for i, who in enumerate(speakers):
            train = [j for j in range(len(speakers)) if speakers[j] != who]
            fit = _ridge(
                np.concatenate([acc["inputs"][j] for j in train]),
                np.concatenate([acc["targets"][j] for j in train]),
                penalty,
            )
            held_out.append(fit(acc["inputs"][i]))
        print(f"  ridge, penalty {penalty:8.0f}: {figures(held_out)}")
    print(f"  model:                   {figures(acc['pred'])}")
    print("  recording lags: " + ", ".join(f"{c} {k:+d}" for c, k in zip(acc["clips"], acc["rec_lag"]) if k))


if __name__ == "__main__":
    raise SystemExit(main())
