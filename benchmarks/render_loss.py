#!/usr/bin/env python
"""Where the render loses its plan, without rendering: the self-dub's re-voicings (each half's
video with the other half's sound, benchmarks/selfdub.py), per clip:

  selection  r(plan, the chosen library entries' opening as the engine reads it: dlib's steady
             opening x the lip warp's ratio): how well the exemplar path follows the plan in
             its own units;
  facemesh   r(plan, FaceMesh's reading of the chosen source frames, before any warp): what a
             second landmark model sees of the same choice;
  agree      r(dlib's steady opening, FaceMesh's) over the library's frames.

A selection near 1 with a low facemesh figure says the loss is the two readers' disagreement
about the source's own frames, not the path. Each clip's plan comes from the fold model that
never saw its speaker (--models, scripts/train_mouth.py --corpus --fold K).

    HEYGEM_CACHE_DIR=... .venv/bin/python benchmarks/render_loss.py --models DIR [--group conversational]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "benchmarks"))

from heygem_core import media, pipeline, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.engines.exemplar import ExemplarEngine, select  # noqa: E402
from heygem_core.soundmouth import corpus  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
from fold_models import fold_models  # noqa: E402
from selfdub import cut, pearson  # noqa: E402

SHARED = HERE.parent / "shared"


def one_way(clip, src: tuple[float, float], dst: tuple[float, float], work: Path, settings: Settings) -> dict:
    tag = f"{clip.path.stem}-{src[0]:.1f}"
    video = media.probe_video(cut(clip.path, src[0], src[1] - src[0], work / f"{tag}.mp4", "video+sound"))
    sound = cut(clip.path, dst[0], dst[1] - dst[0], work / f"{tag}.wav", "audio")
    track = track_video(video, settings)
    seen = quality.independent_series(video, settings, track).opening
    plan, n_out, _ = pipeline.analyse_audio(sound, float(video.fps), None, "en", settings, None)
    assert plan is not None
    engine = ExemplarEngine(settings)
    lib = engine.library(video, track)
    sel = select(lib, track, np.arange(n_out) % len(track.lost), plan, engine.options.max_open_stretch)
    ok = sel.entry >= 0
    path = np.where(ok, sel.entry, 0)
    shown = np.where(ok, lib.opening[path] * np.where(plan.closed, 0.0, sel.ratio), np.nan)
    return {
        "clip": clip.name,
        "group": clip.group,
        "frames": n_out,
        "selection": pearson(shown, plan.opening),
        "facemesh": pearson(np.where(ok, seen[lib.frames[path]], np.nan), plan.opening),
        "agree": pearson(lib.opening, seen[lib.frames]),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--group", action="append", choices=corpus.GROUPS)
    p.add_argument("--cache-dir", type=Path, default=Settings.from_env().cache_dir)
    args = p.parse_args(argv)
    models = fold_models(args.models)
    rows = []
    with tempfile.TemporaryDirectory(prefix="render-loss-") as tmp:
        for clip in corpus.single_clips(SHARED):
            if args.group and clip.group not in args.group:
                continue
            settings = Settings(cache_dir=args.cache_dir, mouth_model=models[corpus.fold_of(clip.speaker)], adapt="off")
            info = media.probe_video(clip.path)
            n = info.n_frames
            half, end = round(n / 2) / float(info.fps), n / float(info.fps)
            for src, dst in (((0.0, half), (half, end)), ((half, end), (0.0, half))):
                row = one_way(clip, src, dst, Path(tmp), settings)
                rows.append(row)
                print(
                    "  " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                    flush=True,
                )
    for group in corpus.GROUPS:
        these = [r for r in rows if r["group"] == group]
        if these:
            print(
                f"{group} ({len(these)} re-voicings): "
                + "  ".join(f"{k} {np.nanmean([r[k] for r in these]):.3f}" for k in ("selection", "facemesh", "agree"))
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
