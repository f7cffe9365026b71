"""Sync of heygem's output vs the do-nothing output, measured by heygem_core.quality.

    python benchmarks/sync_matrix.py [--out DIR]

1. Fixture matrix (3 videos x 5 language audios, blind aligner): correlation between the
   output's mouth opening (tracker run on the output video) and the new audio's loudness,
   against do-nothing (source frames in the same order, new audio).
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
from heygem_core import media, mouth, phonetics, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.pipeline import lipsync  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
from tests.paths import LANGUAGE_AUDIO, VIDEOS  # noqa: E402

SENTENCES = {
    "en": "Bob and Pam bought a big map. My mom made plum pie, maybe Bob will bring a puppy by the pub.",
    "de": "Mama baut Bohnen im Garten. Papa bringt dem Baby am Montag eine Pumpe und eine Birne mit.",
}


def do_nothing_series(video: Path, n_out: int, settings: Settings) -> np.ndarray:
    track = track_video(video, settings)
    idx = media.frame_indices(track.n_frames, n_out, settings.extend_mode)
    op = np.full(n_out, np.nan)
    ok = ~track.lost[idx]
    op[ok] = mouth.opening(track.landmarks[idx][ok])
    return op


def matrix(out: Path, settings: Settings) -> None:
    print("video            lang  heygem  do-nothing  delta   render_s")
    deltas = []
    for vname, video in VIDEOS.items():
        for lang, audio in LANGUAGE_AUDIO.items():
            dst = out / f"{vname}_{lang}.mp4"
            t = time.perf_counter()
            res = lipsync(video, audio, dst, language=lang, settings=settings)
            took = time.perf_counter() - t
            clip = audio_mod.load_audio(dst, sr=16000)
            series = quality.mouth_series(dst, settings)
            loud = audio_mod.loudness_envelope(clip, series.fps, len(series.opening))
            ours = quality.correlation(series.opening, loud)
            base = quality.correlation(do_nothing_series(video, res.n_frames, settings), loud)
            deltas.append(ours - base)
            print(f"{vname:16s} {lang:4s} {ours:+.3f}  {base:+.3f}      {ours - base:+.3f}  {took:6.1f}")
    print(f"mean delta over {len(deltas)} pairs: {np.mean(deltas):+.3f} (target >= +0.15)")


def bilabials(out: Path, settings: Settings) -> None:
    print("\nlang transcript  bilabials  closed  open/bilabial   (do-nothing closed, ratio)")
    video = VIDEOS["katie_8s"]
    for lang, text in SENTENCES.items():
        # A different voice, rate and pitch from the aligner's own synthesis: it never sees these timings.
        pcm, sr, truth = phonetics.synthesize(text, language=lang, voice_variant="f3", rate=150, pitch=65)
        wav = out / f"synthetic_{lang}.wav"
        wavfile.write(wav, sr, (np.clip(pcm, -1, 1) * 32767).astype(np.int16))
        n_out = int(round(len(pcm) / sr * 25))
        base = quality.MouthSeries(fps=25.0, opening=do_nothing_series(video, n_out, settings),
                                   found=np.ones(n_out, bool))
        b = quality.phonetic_report(base, truth)
        for with_text in (True, False):
            dst = out / f"synthetic_{lang}_{'scripted' if with_text else 'blind'}.mp4"
            lipsync(video, wav, dst, transcript=text if with_text else None, language=lang, settings=settings)
            r = quality.phonetic_report(quality.mouth_series(dst, settings), truth)
            print(f"{lang:4s} {str(with_text):10s} {r.bilabials:9d}  {r.closure_rate:6.2f}  {r.open_ratio:13.2f}"
                  f"   ({b.closure_rate:.2f}, {b.open_ratio:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("out/sync"))
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env().replace(cache_dir=args.cache_dir)
    bilabials(args.out, settings)
    matrix(args.out, settings)


if __name__ == "__main__":
    main()
