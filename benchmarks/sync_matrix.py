"""Sync of heygem's output vs the do-nothing output, measured by heygem_core.quality.

    python benchmarks/sync_matrix.py [--out DIR] [--planner learned|phones] [--measure facemesh|dlib]

Mouths are read by FaceMesh by default (quality.independent_series), not by dlib, which drives
the engine (``--measure dlib``: the tracker's own reading, as before).
1. Fixture matrix (3 videos x 5 language audios, no transcript): correlation between the
   output's mouth opening and the new audio's loudness ("env r"), against do-nothing (source
   frames in the same order, new audio). Real footage with its own sound reads ~0.2; a mouth
   well above 0.35 flaps with loudness.
2. Synthetic sentences dense in /p b m/ (espeak-ng, true phone timings known), with and
   without the transcript: share of bilabials with closed lips, open-vowel/bilabial ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.io import wavfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import mouth, phonetics, quality, sequence  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.pipeline import lipsync  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
from tests.paths import LANGUAGE_AUDIO, VIDEOS  # noqa: E402

SENTENCES = {
    "en": "Bob and Pam bought a big map. My mom made plum pie, maybe Bob will bring a puppy by the pub.",
    "de": "Mama baut Bohnen im Garten. Papa bringt dem Baby am Montag eine Pumpe und eine Birne mit.",
}


MEASURE = {"facemesh": quality.independent_series, "dlib": quality.mouth_series}


def do_nothing_series(video: Path, n_out: int, settings: Settings, measure: str = "facemesh") -> np.ndarray:
    track = track_video(video, settings)
    idx = sequence.frame_indices(track.n_frames, n_out, settings.extend_mode)
    if measure == "facemesh":
        return quality.independent_series(video, settings, track).opening[idx]
    op = np.full(n_out, np.nan)
    ok = ~track.lost[idx]
    op[ok] = mouth.opening(track.landmarks[idx][ok])
    return op


def matrix(out: Path, settings: Settings, measure: str) -> None:
    print("video            lang  heygem  do-nothing  delta   render_s")
    deltas, envs = [], []
    for vname, video in VIDEOS.items():
        for lang, audio in LANGUAGE_AUDIO.items():
            dst = out / f"{vname}_{lang}.mp4"
            t = time.perf_counter()
            res = lipsync(video, audio, dst, language=lang, settings=settings)
            took = time.perf_counter() - t
            clip = audio_mod.load_audio(dst, sr=16000)
            series = MEASURE[measure](dst, settings)
            loud = audio_mod.loudness_envelope(clip, series.fps, len(series.opening))
            ours = quality.correlation(series.opening, loud)
            base = quality.correlation(do_nothing_series(video, res.n_frames, settings, measure), loud)
            envs.append(ours)
            deltas.append(ours - base)
            print(f"{vname:16s} {lang:4s} {ours:+.3f}  {base:+.3f}      {ours - base:+.3f}  {took:6.1f}")
    print(
        f"mean delta over {len(deltas)} pairs: {np.mean(deltas):+.3f} (target >= +0.15); "
        f"mean env r {np.mean(envs):+.3f}"
    )


def bilabials(out: Path, settings: Settings, measure: str) -> None:
    print("\nlang transcript  bilabials  closed  open/bilabial   (do-nothing closed, ratio)")
    video = VIDEOS["katie_8s"]
    for lang, text in SENTENCES.items():
        # A different voice, rate and pitch from the aligner's own synthesis: it never sees these timings.
        pcm, sr, truth = phonetics.synthesize(text, language=lang, voice_variant="f3", rate=150, pitch=65)
        wav = out / f"synthetic_{lang}.wav"
        wavfile.write(wav, sr, (np.clip(pcm, -1, 1) * 32767).astype(np.int16))
        n_out = int(round(len(pcm) / sr * 25))
        base = quality.MouthSeries(
            fps=25.0, opening=do_nothing_series(video, n_out, settings, measure), found=np.ones(n_out, bool)
        )
        b = quality.phonetic_report(base, truth)
        for with_text in (True, False):
            dst = out / f"synthetic_{lang}_{'scripted' if with_text else 'blind'}.mp4"
            lipsync(video, wav, dst, transcript=text if with_text else None, language=lang, settings=settings)
            r = quality.phonetic_report(MEASURE[measure](dst, settings), truth)
            print(
                f"{lang:4s} {str(with_text):10s} {r.bilabials:9d}  {r.closure_rate:6.2f}  {r.open_ratio:13.2f}"
                f"   ({b.closure_rate:.2f}, {b.open_ratio:.2f})"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("out/sync"))
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--planner", choices=["learned", "phones"], default=None)
    ap.add_argument("--measure", choices=sorted(MEASURE), default="facemesh")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env().replace(cache_dir=args.cache_dir, planner=args.planner)
    print(f"planner {settings.planner}, mouths read by {args.measure}")
    bilabials(args.out, settings, args.measure)
    matrix(args.out, settings, args.measure)


if __name__ == "__main__":
    main()
