#!/usr/bin/env python
"""Self-dub: real speech is the judge of sync.

Each real clip with its own sound is cut in halves; half A's video is re-voiced with half B's
sound (and B's with A's), and the output's mouth is compared with the mouth the speaker really
made for that sound (half B's own video). Mouths are read by FaceMesh, not by dlib, which
drives the engine. For each planner the script prints Pearson r at lag 0 and the best within
+-2 frames, beside two references on the same frames:
  do-nothing: the source half's own mouth (what an untouched video shows);
  loudness:   the sound's loudness envelope (a mouth that only follows loudness).
"prediction" is the learned planner's own opening (before rendering) against the real mouth,
"<planner>_plan" the plan the engine was asked to show, and "<planner>_follow" r between
the output's mouth and that plan (how well the render shows it).

Some recordings carry their sound late or early against their picture (young_man: the mouth
leads its own sound by ~280 ms over the whole clip, by its loudness and by the model alike).
No output synced to the new sound can match such a mouth at lag 0, so beside lag 0 the script
prints a diagnostic column "<planner>_rec": r at the recording's own lag, found without any
model as the lag (within +-REC_LAGS frames) at which the whole clip's loudness best follows its
FaceMesh mouth, where that beats lag 0 by REC_MARGIN in r (else 0: speech's syllable rhythm
gives every such curve side peaks, and a 3 s clip's are noise). It is one number per
recording, the same for every planner; lag 0 stays the headline. Means are also printed for
the GRID clips (careful read speech, 3 s) and the others (conversational, the product's case)
apart.

The learned planner is never measured on a clip it was trained on: the model (--model,
default the shipped one) is used for every clip whose file is not in its manifest; for a clip
it saw, a model trained without any of that speaker's clips (scripts/train_mouth.py
--hold-out) is made and kept in --models.

    .venv/bin/python benchmarks/selfdub.py [--model FILE] [--models /tmp/loso] [--clip NAME ...]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import media, pipeline, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.files import sha256_file  # noqa: E402
from heygem_core.soundmouth import data, predict  # noqa: E402

sys.path.insert(0, str(HERE / "scripts"))
import train_mouth  # noqa: E402

LAGS = 2
REC_LAGS = 10
REC_MARGIN = 0.1


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    n = min(len(x), len(y))
    x, y = np.asarray(x[:n], float), np.asarray(y[:n], float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 5 or np.std(x[ok]) < 1e-9 or np.std(y[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def at_lag(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """r of x at frame t+k with y at frame t."""
    if k >= 0:
        return pearson(x[k:], y[: len(y) - k] if k else y)
    return pearson(x[:k], y[-k:])


def best_lag(x: np.ndarray, y: np.ndarray, lags: int = LAGS) -> float:
    rs = [r for r in (at_lag(x, y, k) for k in range(-lags, lags + 1)) if np.isfinite(r)]
    return max(rs) if rs else float("nan")


def recording_lag(series: np.ndarray, loudness: np.ndarray, lags: int = REC_LAGS) -> int:
    """The lag k (frames) at which a recording's loudness at t+k best follows its mouth at t:
    positive when the sound comes after the picture."""
    rs = np.array([at_lag(loudness, series, k) for k in range(-lags, lags + 1)])
    best = int(np.nanargmax(rs))
    return best - lags if rs[best] >= rs[lags] + REC_MARGIN else 0


def cut(src: Path, start: float, length: float, out: Path, what: str) -> Path:
    base = ["ffmpeg", "-v", "error", "-y", "-ss", f"{start:.3f}", "-t", f"{length:.3f}", "-i", str(src)]
    if what == "video":
        args = base + ["-an", "-c:v", "libx264", "-crf", "12", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out)]
    else:
        args = base + ["-vn", "-ac", "1", "-ar", "16000", str(out)]
    subprocess.run(args, check=True)
    return out


def model_for(clip: Path, model: Path | None, models: Path | None, steps: int) -> Path:
    """A model that never saw ``clip``'s speaker."""
    from heygem_core.soundmouth import net

    seen = net.load(model).manifest.get("real", [])
    speaker = data.speaker_of(clip)
    if not any(c.get("speaker") == speaker or c.get("sha256") == sha256_file(clip) for c in seen):
        return model or net.DEFAULT_PATH
    if models is None:
        raise SystemExit(f"the model was trained on {clip.name}'s speaker: give --models DIR for "
                         "leave-one-speaker-out models")
    models.mkdir(parents=True, exist_ok=True)
    path = models / f"without-{speaker}.npz"
    if not path.exists():
        t = time.perf_counter()
        train_mouth.main(["--hold-out", speaker, "-o", str(path), "--steps", str(steps)])
        print(f"  trained {path.name} in {time.perf_counter() - t:.0f} s", flush=True)
    return path


def one_way(clip: Path, series: np.ndarray, times: np.ndarray, src: tuple[float, float],
            dst: tuple[float, float], model: Path, work: Path, planners: list[str], rec_lag: int) -> dict:
    """Video of span ``src`` re-voiced with the sound of span ``dst``."""
    tag = f"{clip.stem}-{src[0]:.1f}"
    video = cut(clip, src[0], src[1] - src[0], work / f"{tag}.mp4", "video")
    sound = cut(clip, dst[0], dst[1] - dst[0], work / f"{tag}.wav", "audio")
    real = series[(times >= dst[0] - 1e-6) & (times < dst[1] - 1e-6)]
    source = series[(times >= src[0] - 1e-6) & (times < src[1] - 1e-6)]
    info = media.probe_video(video)
    fps = float(info.fps)
    clip_audio = audio_mod.load_audio(sound, 16000)
    loud = audio_mod.loudness_envelope(clip_audio, fps, len(real))
    pred = predict.predict(clip_audio.pcm, clip_audio.sr, model).at(fps, len(real))
    row = {"clip": clip.stem, "frames": len(real), "rec_lag": rec_lag, "do_nothing": pearson(source, real),
           "loudness": pearson(loud, real), "prediction": pearson(pred.opening, real)}
    for planner in planners:
        settings = Settings(cache_dir=work / "cache", planner=planner, mouth_model=model)
        # the plan the engine is asked to show: what it loses is the render's, the rest the plan's
        plan, _, _ = pipeline.analyse_audio(sound, fps, None, "en", settings)
        row[f"{planner}_plan"] = pearson(plan.opening, real)
        out = work / f"{tag}.{planner}.mp4"
        pipeline.lipsync(video, sound, out, settings=settings)
        measured = quality.independent_series(out, settings).opening
        row[planner] = pearson(measured, real)
        row[f"{planner}_lag"] = best_lag(measured, real)
        row[f"{planner}_rec"] = at_lag(measured, real, rec_lag)
        row[f"{planner}_follow"] = pearson(measured, plan.opening)  # how well the render shows the plan
        row[f"{planner}_profile"] = [at_lag(measured, real, k) for k in range(-LAGS, LAGS + 1)]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="the learned planner's weights (default: the shipped model)")
    p.add_argument("--models", type=Path, help="folder of leave-one-speaker-out models (made when needed)")
    p.add_argument("--steps", type=int, default=None, help="training steps for a missing model")
    p.add_argument("--clip", action="append", help="only these clips (stems)")
    p.add_argument("--planner", action="append", help="planners to render (default: learned and phones)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    planners = args.planner or ["learned", "phones"]
    clips = [c for c in data.real_clips([r for r in train_mouth.DEFAULT_REAL if r.exists()])
             if not args.clip or c.stem in args.clip]
    steps = args.steps or __import__("heygem_core.soundmouth.train", fromlist=["TrainConfig"]).TrainConfig.steps
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfdub-") as tmp:
        work = Path(tmp)
        for clip in clips:
            model = model_for(clip, args.model, args.models, steps)
            settings = Settings(cache_dir=work / "cache")
            info = media.probe_video(clip)
            series = quality.independent_series(clip, settings).opening
            times = np.arange(len(series)) / float(info.fps)
            whole_loudness = audio_mod.loudness_envelope(audio_mod.load_audio(clip, 16000), float(info.fps), len(series))
            rec_lag = recording_lag(series, whole_loudness)
            half = round(len(series) / 2) / float(info.fps)
            end = len(series) / float(info.fps)
            for src, dst in (((0.0, half), (half, end)), ((half, end), (0.0, half))):
                row = one_way(clip, series, times, src, dst, model, work, planners, rec_lag)
                rows.append(row)
                print("  " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in row.items() if not k.endswith("_profile")), flush=True)
    keys = ["do_nothing", "loudness", "prediction"] + [k for pl in planners for k in (f"{pl}_plan", pl, f"{pl}_lag", f"{pl}_rec", f"{pl}_follow")]
    print("\nmean over", len(rows), "re-voicings of", len(clips), "clips:              GRID     others")
    grid = np.array([r["clip"].startswith("grid_") for r in rows])
    for k in keys:
        vals = np.array([r[k] for r in rows], float)
        print(f"  {k:14s} {np.nanmean(vals):+.3f}  (median {np.nanmedian(vals):+.3f})   "
              f"{np.nanmean(vals[grid]) if grid.any() else np.nan:+.3f}   {np.nanmean(vals[~grid]) if (~grid).any() else np.nan:+.3f}")
    print("  recording lags (frames, sound after picture > 0): "
          + ", ".join(f"{r['clip']} {r['rec_lag']:+d}" for r in rows[::2]))
    for pl in planners:  # a profile peaking off 0 would be a delay heygem adds; per-clip bests are recordings
        profile = np.nanmean(np.array([r[f"{pl}_profile"] for r in rows], float), axis=0)
        print(f"  {pl} at lags {-LAGS}..{LAGS}: " + " ".join(f"{v:+.3f}" for v in profile))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
