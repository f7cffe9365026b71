#!/usr/bin/env python
"""Per-lecturer adaptation on lecture-length sources of one speaker, judged by self-dub.

The corpus's single clips hold only two recordings of 20 s or more, so a lecture (minutes of
one person) is made from a bulk set: ``--per`` clips of one speaker joined into one recording.
``--set grid_s1`` (default): consecutive clips of GRID speaker s1 (``--per 40``: 2 min),
``--recordings`` of them from disjoint clips. ``--set arabic_words``: the 1.2 s windows of one
news anchor each (grouped by face, benchmarks/anchors.py), the ``--recordings`` anchors with
the most windows, up to ``--per`` windows each; every anchor is another person.
Each recording is self-dubbed as ``benchmarks/selfdub.py`` does (half A's video re-voiced with
half B's sound and back, the output's mouth read by FaceMesh against the mouth the speaker
really made), once with the general model and once adapted on the source half
(``HEYGEM_ADAPT=auto``: the head is fitted on that half's own sound and mouth, never on the
half it is scored on). The general model is the fold model that never saw GRID s1 (--models);
do-nothing, loudness and (``--ridge``) a ridge fitted on that fold's real material are printed
beside.

GRID's sentences are 3 s each with a pause at both ends: halves of a joined recording share
that rhythm, so do-nothing and loudness read higher here than on one long talk. An anchor's
windows come from many broadcasts (other days, clothes, studios) and are cut around one word
each.

    HEYGEM_CACHE_DIR=... .venv/bin/python benchmarks/adapt_long.py --models DIR [--set grid_s1] [--per 40] [--recordings 3]
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
from anchors import anchor_groups  # noqa: E402
from ridge import RidgeFolds  # noqa: E402

CORPUS = HERE.parent / "shared" / "corpus"
GRID_S1 = CORPUS / "grid_s1" / "video"
VARIANTS = ["learned", "adapted"]


def join(clips: list[Path], out: Path) -> Path:
    """One recording of ``clips`` back to back at 25 fps, each clip's sound kept with its
    picture: the concat filter pads a clip's shorter stream to its longer one's end. (The
    concat demuxer drifted: a 30 fps window among 25 fps ones left 60 Arabic windows with
    119 s of picture and 74 s of sound.)"""
    inputs = [arg for p in clips for arg in ("-i", str(p))]
    first = media.probe_video(clips[0])
    size = f"scale={first.width}:{first.height},setsar=1"  # one Arabic window of 60 is 448 px, not 256
    parts = "".join(
        f"[{k}:v]fps=25,{size},setpts=PTS-STARTPTS[v{k}];[{k}:a]aresample=48000,asetpts=PTS-STARTPTS[a{k}];"
        for k in range(len(clips))
    )
    graph = parts + "".join(f"[v{k}][a{k}]" for k in range(len(clips))) + f"concat=n={len(clips)}:v=1:a=1[v][a]"
    picture = ["-c:v", "libx264", "-crf", "14", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    sound = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]"]
        + picture
        + sound
        + [str(out)],
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


def recordings(bulk_set: str, per: int, count: int, cache_dir: Path) -> list[list[Path]]:
    """The clips of each recording to join: one speaker per recording."""
    folder = CORPUS / bulk_set / "video"
    if bulk_set == "arabic_words":
        groups = [g[:per] for g in anchor_groups(folder, cache_dir)[:count]]
        if len(groups) < count or len(groups[-1]) < per // 2:
            raise SystemExit(f"{folder} holds fewer than {count} anchors with {per // 2} windows or more")
        return groups
    clips = sorted(folder.glob("*.mp4"))
    if len(clips) < per * count:
        raise SystemExit(f"{folder} holds {len(clips)} clips, fewer than {per} x {count}")
    return [clips[k * per : (k + 1) * per] for k in range(count)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, required=True, help="the fold models (scripts/train_mouth.py --fold)")
    p.add_argument("--model", type=Path, help="tried first for each recording (default: the shipped model)")
    p.add_argument("--set", default="grid_s1", choices=["grid_s1", "arabic_words"], help="bulk set to join")
    p.add_argument("--per", type=int, default=40, help="clips per recording (GRID s1: 3 s each; Arabic: 1.2 s)")
    p.add_argument("--recordings", type=int, default=3)
    p.add_argument("--ridge", action="store_true", help="also a ridge fitted on the same real material")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    cache_dir = Settings.from_env().cache_dir
    sources = recordings(args.set, args.per, args.recordings, cache_dir)
    speaker = data.speaker_of(sources[0][0])
    ridge = RidgeFolds(cache_dir).for_speaker(speaker) if args.ridge else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="adapt-long-") as tmp:
        # selfdub.model_for knows the speaker by the folder a bulk clip sits in
        folder = Path(tmp) / args.set / "video"
        folder.mkdir(parents=True)
        for k, clips in enumerate(sources):
            recording = join(clips, folder / f"{args.set}_{len(clips)}x{k}.mp4")
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
