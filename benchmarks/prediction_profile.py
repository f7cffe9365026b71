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
from heygem_core import media, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import data, predict  # noqa: E402
import train_mouth  # noqa: E402

LAGS = range(-4, 5)
LAMS = np.linspace(-0.4, 1.0, 15)


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
    p.add_argument("--model", type=Path, help="weights (default: the shipped model)")
    p.add_argument("--cache-dir", type=Path, default=Path("/tmp/heygem-profile"))
    args = p.parse_args(argv)
    settings = Settings(cache_dir=args.cache_dir)
    clips = data.real_clips([r for r in train_mouth.DEFAULT_REAL if r.exists()])
    lag_rows, lam_rows, env_real, env_pred = [], [], [], []
    print(f"{'clip':20s} " + " ".join(f"{k:+5d}" for k in LAGS) + "  best  env r real / prediction")
    for clip in clips:
        fps = float(media.probe_video(clip).fps)
        real = quality.independent_series(clip, settings).opening
        sound = audio_mod.load_audio(clip, 16000)
        loud = audio_mod.loudness_envelope(sound, fps, len(real))
        pred = predict.predict(sound.pcm, sound.sr, args.model).at(fps, len(real)).opening
        rs = [shifted(pred, real, k) for k in LAGS]
        lag_rows.append(rs)
        env_real.append(quality.correlation(real, loud))
        env_pred.append(quality.correlation(pred, loud))
        lam_rows.append([pearson(z(pred) - lam * z(loud), real) for lam in LAMS])
        print(f"{clip.stem:20s} " + " ".join(f"{r:+.2f}" for r in rs)
              + f"  {list(LAGS)[int(np.argmax(rs))]:+d}    {env_real[-1]:+.3f} / {env_pred[-1]:+.3f}", flush=True)
    lag_rows, lam_rows = np.array(lag_rows), np.array(lam_rows)
    print(f"{'mean':20s} " + " ".join(f"{r:+.2f}" for r in lag_rows.mean(0)))
    print(f"env r: real mouths {np.mean(env_real):+.3f} (median {np.median(env_real):+.3f}), "
          f"prediction {np.mean(env_pred):+.3f}")
    loo = [lam_rows[i, np.argmax(np.delete(lam_rows, i, 0).mean(0))] for i in range(len(lam_rows))]
    at0 = lam_rows[:, int(np.argmin(abs(LAMS)))].mean()
    print("minus loudness: " + " ".join(f"{lam:+.1f}:{v:.3f}" for lam, v in zip(LAMS, lam_rows.mean(0))))
    print(f"  lam chosen leave-one-clip-out: r {np.mean(loo):.3f} vs {at0:.3f} without")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
