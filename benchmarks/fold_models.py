#!/usr/bin/env python
"""The learned mouth trained on real material, leave-speakers-out, against a ridge regression
fitted on the same material with the same folds, and against the synthetic-only model.

Each speaker of ../shared/corpus falls into one of five folds (soundmouth/corpus.fold_of); the
fold models (scripts/train_mouth.py --corpus --fold K, one per fold, in --models) never saw
their fold's speakers. Every single clip with its own sound, and every fourth window of the
Arabic anchors, is scored by the model of its own fold, on the whole clip: Pearson r of the
predicted opening with the mouth read by FaceMesh (never dlib, which made the targets), at
lags -3..+3 frames (positive: the prediction later than the real mouth), per group: GRID,
conversational clips, the Arabic set. "+synthetic" is the z-scored mean of the fold model and
the synthetic-only model. The last lines scan the mouth's lead over its sound on the sets the
self-dub does not score (the Arabic windows and GRID s1, each by the fold model that never
saw it).

    .venv/bin/python benchmarks/fold_models.py --models DIR [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "benchmarks"))

from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import media, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import corpus, net, predict  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
from ridge import RidgeFolds  # noqa: E402
from selfdub import at_lag  # noqa: E402

SHARED = HERE.parent / "shared"
SYNTHETIC = HERE / "heygem_core" / "models" / "mouth_net_synthetic.npz"
LAGS = range(-3, 4)
LEADS_MS = (-20, 0, 20, 40, 60)


def fold_models(folder: Path) -> dict[int, Path]:
    out = {}
    for path in sorted(folder.glob("*.npz")):
        held = net.load(path).manifest.get("folds_held_out") or []
        if len(held) == 1:
            out[int(held[0])] = path
    missing = set(range(corpus.FOLDS)) - set(out)
    if missing:
        raise SystemExit(
            f"no model in {folder} for fold(s) {sorted(missing)}: scripts/train_mouth.py --corpus --fold K"
        )
    return out


def _z(x: np.ndarray) -> np.ndarray:
    return (x - np.nanmean(x)) / (np.nanstd(x) + 1e-9)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--cache-dir", type=Path, default=Settings.from_env().cache_dir)
    args = p.parse_args(argv)
    settings = Settings(cache_dir=args.cache_dir, tracking_processes=1)
    models = fold_models(args.models)
    ridges = RidgeFolds(args.cache_dir)
    clips = corpus.single_clips(SHARED) + corpus.bulk_clips(SHARED, ("arabic_words",), every=4)
    lead_sets = corpus.bulk_clips(SHARED, ("arabic_words",), every=4) + corpus.bulk_clips(SHARED, ("grid_s1",), every=4)
    rows, leads = [], []
    for clip in clips + [c for c in lead_sets if c.speaker == "grid_s1"]:
        info = media.probe_video(clip.path)
        track = track_video(info, settings)
        real = quality.independent_series(info, settings, track).opening
        fps, n = float(info.fps), len(real)
        sound = audio_mod.load_audio(clip.path, 16000)
        model = models[corpus.fold_of(clip.speaker)]
        learned = predict.predict(sound.pcm, sound.sr, model)
        if clip in lead_sets:
            leads.append((clip.speaker, [at_lag(learned.at(fps, n, ms / 1000).opening, real, 0) for ms in LEADS_MS]))
        if clip.speaker == "grid_s1" and clip.bulk:
            continue
        series = {
            "synthetic only": predict.predict(sound.pcm, sound.sr, SYNTHETIC).at(fps, n).opening,
            "ridge": ridges.for_speaker(clip.speaker)(sound, fps, n),
            "learned": learned.at(fps, n).opening,
        }
        series["learned+synthetic"] = _z(series["learned"]) + _z(series["synthetic only"])
        rows.append((clip.group, {k: [at_lag(v, real, lag) for lag in LAGS] for k, v in series.items()}))
    print("whole clips, r with FaceMesh's mouth, each by the models of its own fold")
    for group in corpus.GROUPS:
        these = [r for g, r in rows if g == group]
        print(f"{group} ({len(these)} clips): at lag 0, and at lags {LAGS[0]}..{LAGS[-1]}")
        for k in these[0]:
            profile = np.nanmean([r[k] for r in these], axis=0)
            print(
                f"  {k:18s} {profile[len(LAGS) // 2]:+.3f}   "
                + " ".join(f"{v:+.3f}" for v in profile)
                + f"   peak {LAGS[int(np.argmax(profile))]:+d}"
            )
    print("lead of the mouth over its sound, r at lag 0, on sets the self-dub does not score:")
    for speaker in ("arabic_anchors", "grid_s1"):
        mean = np.nanmean([r for s, r in leads if s == speaker], axis=0)
        print(f"  {speaker:15s} " + " ".join(f"{ms:+d} ms {v:.3f}" for ms, v in zip(LEADS_MS, mean)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
