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
from heygem_core import media, pipeline, planners, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.files import sha256_file  # noqa: E402
from heygem_core.soundmouth import corpus, data, predict  # noqa: E402
from heygem_core.track import track_video  # noqa: E402

sys.path.insert(0, str(HERE / "scripts"))
sys.path.insert(0, str(HERE / "benchmarks"))
import train_mouth  # noqa: E402
from ridge import RidgeFolds  # noqa: E402

SHARED = HERE.parent / "shared"

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
    """A span of ``src``: "video" (picture only), "video+sound" (picture with its own sound,
    for adapting to the speaker) or "audio"."""
    base = ["ffmpeg", "-v", "error", "-y", "-ss", f"{start:.3f}", "-t", f"{length:.3f}", "-i", str(src)]
    picture = ["-c:v", "libx264", "-crf", "12", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    if what == "video":
        args = base + ["-an"] + picture + [str(out)]
    elif what == "video+sound":
        args = base + picture + ["-c:a", "aac", "-b:a", "192k", str(out)]
    else:
        args = base + ["-vn", "-ac", "1", "-ar", "16000", str(out)]
    subprocess.run(args, check=True)
    return out


def model_for(clip: Path, model: Path | None, models: Path | None, steps: int) -> Path:
    """A model that never saw ``clip``'s speaker: ``model`` (default the shipped one) where its
    manifest lists none of that speaker's clips, else one of the fold models in ``models``
    (scripts/train_mouth.py --fold) that saw none, else one trained now without that speaker."""
    from heygem_core.soundmouth import net

    speaker, sha = data.speaker_of(clip), sha256_file(clip)

    def never_saw(path: Path | None) -> bool:
        seen = net.load(path).manifest.get("real", [])
        return not any(c.get("speaker") == speaker or c.get("sha256") == sha for c in seen)

    if never_saw(model):
        return model or net.DEFAULT_PATH
    if models is None:
        raise SystemExit(
            f"the model was trained on {clip.name}'s speaker: give --models DIR for leave-speakers-out models"
        )
    for path in sorted(models.glob("*.npz")):
        if never_saw(path):
            return path
    models.mkdir(parents=True, exist_ok=True)
    path = models / f"without-{speaker}.npz"
    t = time.perf_counter()
    train_mouth.main(["--hold-out", speaker, "-o", str(path), "--steps", str(steps)])
    print(f"  trained {path.name} in {time.perf_counter() - t:.0f} s", flush=True)
    return path


# Rendered variants: (name, planner, adapt). "adapted": the learned planner adapted to the
# speaker on the source half's own picture and sound (heygem_core/soundmouth/adapt.py).
VARIANTS = {"learned": ("learned", "off"), "adapted": ("learned", "auto"), "phones": ("phones", "off")}


def one_way(
    clip: Path,
    series: np.ndarray,
    times: np.ndarray,
    src: tuple[float, float],
    dst: tuple[float, float],
    model: Path,
    work: Path,
    variants: list[str],
    rec_lag: int,
    lead_ms: float,
    ridge=None,
) -> dict:
    """Video of span ``src`` re-voiced with the sound of span ``dst``."""
    tag = f"{clip.stem}-{src[0]:.1f}"
    video = cut(clip, src[0], src[1] - src[0], work / f"{tag}.mp4", "video+sound")
    sound = cut(clip, dst[0], dst[1] - dst[0], work / f"{tag}.wav", "audio")
    real = series[(times >= dst[0] - 1e-6) & (times < dst[1] - 1e-6)]
    source = series[(times >= src[0] - 1e-6) & (times < src[1] - 1e-6)]
    info = media.probe_video(video)
    fps = float(info.fps)
    clip_audio = audio_mod.load_audio(sound, 16000)
    loud = audio_mod.loudness_envelope(clip_audio, fps, len(real))
    pred = predict.predict(clip_audio.pcm, clip_audio.sr, model).at(fps, len(real))
    row = {
        "clip": clip.stem,
        "group": corpus.group_of(clip),
        "frames": len(real),
        "rec_lag": rec_lag,
        "do_nothing": pearson(source, real),
        "loudness": pearson(loud, real),
        "prediction": pearson(pred.opening, real),
    }
    if ridge is not None:
        row["ridge"] = pearson(ridge(clip_audio, fps, len(real)), real)
    for name in variants:
        planner, adapt = VARIANTS[name]
        settings = Settings(
            cache_dir=work / "cache", planner=planner, mouth_model=model, adapt=adapt, mouth_lead_ms=lead_ms
        )
        # the plan the engine is asked to show: what it loses is the render's, the rest the plan's
        adaptation = planners.adaptation(video, track_video(video, settings), settings)
        plan, _, _ = pipeline.analyse_audio(sound, fps, None, "en", settings, adaptation)
        row[f"{name}_plan"] = pearson(plan.opening, real)
        if adaptation is not None and adapt == "auto":
            row[f"{name}_weight"] = adaptation.weight
        out = work / f"{tag}.{name}.mp4"
        pipeline.lipsync(video, sound, out, settings=settings)
        measured = quality.independent_series(out, settings).opening
        row[name] = pearson(measured, real)
        row[f"{name}_lag"] = best_lag(measured, real)
        row[f"{name}_rec"] = at_lag(measured, real, rec_lag)
        row[f"{name}_follow"] = pearson(measured, plan.opening)  # how well the render shows the plan
        row[f"{name}_profile"] = [at_lag(measured, real, k) for k in range(-LAGS, LAGS + 1)]
        # the render's own timing: the output's mouth against the plan it was asked to show
        row[f"{name}_follow_profile"] = [at_lag(measured, plan.opening, k) for k in range(-LAGS, LAGS + 1)]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="the learned planner's weights (default: the shipped model)")
    p.add_argument("--models", type=Path, help="folder of leave-speakers-out models (made when needed)")
    p.add_argument("--steps", type=int, default=None, help="training steps for a missing model")
    p.add_argument("--clip", action="append", help="only these clips (stems)")
    p.add_argument("--group", action="append", choices=corpus.GROUPS, help="only these groups")
    p.add_argument(
        "--variant",
        "--planner",
        dest="variants",
        action="append",
        choices=sorted(VARIANTS),
        help="what to render (default: learned)",
    )
    p.add_argument(
        "--lead-ms",
        type=float,
        default=Settings().mouth_lead_ms,
        help="the learned mouth's lead over its sound (default: the setting's default)",
    )
    p.add_argument(
        "--ridge",
        action="store_true",
        help="also a ridge regression fitted on the same real material, leave-speakers-out",
    )
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    variants = args.variants or ["learned"]
    clips = [
        c.path
        for c in corpus.single_clips(SHARED)
        if (not args.clip or c.name in args.clip) and (not args.group or c.group in args.group)
    ]
    steps = args.steps or __import__("heygem_core.soundmouth.train", fromlist=["TrainConfig"]).TrainConfig.steps
    ridges = RidgeFolds(Settings.from_env().cache_dir) if args.ridge else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfdub-") as tmp:
        work = Path(tmp)
        for clip in clips:
            model = model_for(clip, args.model, args.models, steps)
            settings = Settings(cache_dir=work / "cache")
            info = media.probe_video(clip)
            series = quality.independent_series(clip, settings).opening
            times = np.arange(len(series)) / float(info.fps)
            whole_loudness = audio_mod.loudness_envelope(
                audio_mod.load_audio(clip, 16000), float(info.fps), len(series)
            )
            rec_lag = recording_lag(series, whole_loudness)
            half = round(len(series) / 2) / float(info.fps)
            end = len(series) / float(info.fps)
            ridge = ridges.for_speaker(data.speaker_of(clip)) if ridges else None
            for src, dst in (((0.0, half), (half, end)), ((half, end), (0.0, half))):
                row = one_way(clip, series, times, src, dst, model, work, variants, rec_lag, args.lead_ms, ridge)
                rows.append(row)
                print(
                    "  "
                    + "  ".join(
                        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in row.items()
                        if not k.endswith("_profile")
                    ),
                    flush=True,
                )
    summary(rows, variants, len(clips))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def summary(rows: list[dict], variants: list[str], n_clips: int) -> None:
    keys = (
        ["do_nothing", "loudness", "prediction"]
        + (["ridge"] if "ridge" in rows[0] else [])
        + [k for v in variants for k in (f"{v}_plan", v, f"{v}_lag", f"{v}_rec", f"{v}_follow")]
    )
    groups = [g for g in corpus.GROUPS if any(r["group"] == g for r in rows)]
    print(f"\nmean over {len(rows)} re-voicings of {n_clips} clips:" + " " * 12 + "".join(f"{g:>16s}" for g in groups))
    for k in keys:
        vals = np.array([r[k] for r in rows], float)
        print(
            f"  {k:16s} {np.nanmean(vals):+.3f}  (median {np.nanmedian(vals):+.3f})"
            + "".join(f"{np.nanmean(vals[[r['group'] == g for r in rows]]):+16.3f}" for g in groups)
        )
    print(
        "  recording lags (frames, sound after picture > 0): "
        + ", ".join(f"{r['clip']} {r['rec_lag']:+d}" for r in rows[::2] if r["rec_lag"])
    )
    for v in variants:  # a profile peaking at +1 or later would be a mouth behind its sound
        for g in groups:
            profile = np.nanmean(np.array([r[f"{v}_profile"] for r in rows if r["group"] == g], float), axis=0)
            print(
                f"  {v} ({g}) at lags {-LAGS}..{LAGS} (output later > 0): "
                + " ".join(f"{x:+.3f}" for x in profile)
                + f"   peak {int(np.argmax(profile)) - LAGS:+d}"
            )
            follow = np.nanmean(np.array([r[f"{v}_follow_profile"] for r in rows if r["group"] == g], float), axis=0)
            print(
                f"  {v} ({g}) output against its plan at lags {-LAGS}..{LAGS}: "
                + " ".join(f"{x:+.3f}" for x in follow)
                + f"   peak {int(np.argmax(follow)) - LAGS:+d}"
            )
        if any(f"{v}_weight" in r for r in rows):
            print(
                f"  {v}: adapted (head weight > 0) in "
                + ", ".join(f"{r['clip']} ({r[v + '_weight']:g})" for r in rows if r.get(f"{v}_weight"))
                or "none"
            )


if __name__ == "__main__":
    raise SystemExit(main())
