#!/usr/bin/env python
"""Per-lecturer adaptation on lecture-length sources of one speaker, judged by self-dub.

The corpus's single clips hold only two recordings of 20 s or more, so a lecture (minutes of
one person) is made from the GRID s1 bulk set: ``--per`` consecutive clips of that one speaker
joined into one recording (``--per 40``: 2 min), ``--recordings`` of them from disjoint clips.
Each recording is self-dubbed as ``benchmarks/selfdub.py`` does (half A's video re-voiced with
half B's sound and back, the output's mouth read by FaceMesh against the mouth the speaker
really made), once with the general model and once adapted on the source half
(``HEYGEM_ADAPT=auto``: the head is fitted on that half's own sound and mouth, never on the
half it is scored on). The general model is the fold model that never saw GRID s1 (--models);
do-nothing, loudness and (``--ridge``) a ridge fitted on that fold's real material are printed
beside.

GRID's sentences are 3 s each with a pause at both ends: halves of a joined recording share
that rhythm, so do-nothing and loudness read higher here than on one long talk.

    HEYGEM_CACHE_DIR=... .venv/bin/python benchmarks/adapt_long.py --models DIR [--per 40] [--recordings 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "benchmarks"))
sys.path.insert(0, str(HERE / "scripts"))

import selfdub  # noqa: E402
from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import media, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import data  # noqa: E402
from ridge import RidgeFolds  # noqa: E402

GRID_S1 = HERE.parent / "shared" / "corpus" / "grid_s1" / "video"
VARIANTS = ["learned", "adapted"]


def join(clips: list[Path], out: Path) -> Path:
    """One recording of ``clips`` back to back (each clip's sound stays with its picture: the
    concat demuxer starts every file at the previous one's longest stream's end)."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in clips))
    picture = ["-c:v", "libx264", "-crf", "14", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-r", "25"]
    sound = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), *picture, *sound, str(out)],
        check=True,
    )
    return out


def self_dub(recording: Path, model_path: Path | None, models: Path, work: Path, ridge=None) -> list[dict]:
    model = selfdub.model_for(recording, model_path, models, 800)
    settings = Settings(cache_dir=work / "cache")
    info = media.probe_video(recording)
    series = quality.independent_series(recording, settings).opening
    times = np.arange(len(series)) / float(info.fps)
    loud = audio_mod.loudness_envelope(audio_mod.load_audio(recording, 16000), float(info.fps), len(series))
    rec_lag = selfdub.recording_lag(series, loud)
    half, end = round(len(series) / 2) / float(info.fps), len(series) / float(info.fps)
    print(f"{recording.name}: {end:.0f} s, model {model.name}, recording lag {rec_lag}", flush=True)
    rows = []
    for src, dst in (((0.0, half), (half, end)), ((half, end), (0.0, half))):
        row = selfdub.one_way(recording, series, times, src, dst, model, work, VARIANTS, rec_lag, 0.0, ridge)
        rows.append(row)
        print(
            f"  half {'AB'[src[0] > 0]} re-voiced: general {row['learned']:+.3f}, adapted {row['adapted']:+.3f} "
            f"(head weight {row.get('adapted_weight', 0):g}); plan {row['learned_plan']:+.3f} -> "
            f"{row['adapted_plan']:+.3f}",
            flush=True,
        )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True, help="the fold models (scripts/train_mouth.py --fold)")
    p.add_argument("--model", type=Path, help="tried first for each recording (default: the shipped model)")
    p.add_argument("--per", type=int, default=40, help="GRID s1 clips (3 s each) per recording")
    p.add_argument("--recordings", type=int, default=3)
    p.add_argument("--ridge", action="store_true", help="also a ridge fitted on the same real material")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    clips = sorted(GRID_S1.glob("*.mp4"))
    if len(clips) < args.per * args.recordings:
        raise SystemExit(f"{GRID_S1} holds {len(clips)} clips, fewer than {args.per} x {args.recordings}")
    speaker = data.speaker_of(clips[0])
    ridge = RidgeFolds(Settings.from_env().cache_dir).for_speaker(speaker) if args.ridge else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="adapt-long-") as tmp:
        # selfdub.model_for knows the speaker by the folder a bulk clip sits in
        folder = Path(tmp) / "grid_s1" / "video"
        folder.mkdir(parents=True)
        for k in range(args.recordings):
            recording = join(clips[k * args.per : (k + 1) * args.per], folder / f"s1_{args.per}x{k}.mp4")
            rows += self_dub(recording, args.model, args.models, Path(tmp), ridge)
    selfdub.summary(rows, VARIANTS, args.recordings)
    gain = np.array([r["adapted"] - r["learned"] for r in rows])
    print(
        f"adapted - general, per re-voicing: {' '.join(f'{g:+.3f}' for g in gain)}; mean {gain.mean():+.3f} "
        f"(standard error {gain.std(ddof=1) / np.sqrt(len(gain)):.3f})"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
