#!/usr/bin/env python
"""Where QA's sync pass mark sits: the figure on real footage with its own sound, and on the
same footage with another clip's sound.

QA's sync is the Pearson r between a video's mouth read by FaceMesh and the opening QA's judge
model (the learned mouth trained on synthetic speech alone, net.JUDGE_PATH: it never saw
these clips) expects for the audio (quality.expected_opening). For each real clip with its
own sound this prints that figure, then two controls: its own sound shuffled in time (0.4 s
blocks, 5 orders), and every other speaker's clip's sound (cut or padded with silence to
length; GRID clips all start and end in silence, so they match each other's pauses), and the
share of each that passes at a few thresholds.

    .venv/bin/python benchmarks/qa_calibration.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "scripts"))

from heygem_core import audio as audio_mod  # noqa: E402
from heygem_core import media, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import data  # noqa: E402
import train_mouth  # noqa: E402

THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.parse_args(argv)  # --help
    clips = data.real_clips([r for r in train_mouth.DEFAULT_REAL if r.exists()])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(cache_dir=Path(tmp))
        mouths, sounds, fps = {}, {}, {}
        for clip in clips:
            info = media.probe_video(clip)
            mouths[clip.stem] = quality.independent_series(info, settings).opening
            sounds[clip.stem] = audio_mod.load_audio(clip, 16000)
            fps[clip.stem] = float(info.fps)
        own, other, shuffled = [], [], []
        for name, mouth in mouths.items():
            n = len(mouth)
            r = quality.correlation(mouth, quality.expected_opening(sounds[name], fps[name], n, settings))
            own.append(r)
            against = []
            for donor, sound in sounds.items():
                if data.speaker_of(Path(donor)) == data.speaker_of(Path(name)):
                    continue
                need = int(np.ceil(n / fps[name] * sound.sr))
                pcm = np.zeros(need, np.float32)
                pcm[: min(need, len(sound.pcm))] = sound.pcm[:need]
                clip = audio_mod.Audio(pcm=pcm, sr=sound.sr)
                against.append(quality.correlation(mouth, quality.expected_opening(clip, fps[name], n, settings)))
            other.extend(against)
            mixed = []
            for seed in range(5):
                pcm = sounds[name].pcm
                block = int(0.4 * sounds[name].sr)
                order = np.random.default_rng(seed).permutation(int(np.ceil(len(pcm) / block)))
                clip = audio_mod.Audio(
                    pcm=np.concatenate([pcm[k * block : (k + 1) * block] for k in order]), sr=sounds[name].sr
                )
                mixed.append(quality.correlation(mouth, quality.expected_opening(clip, fps[name], n, settings)))
            shuffled.extend(mixed)
            print(
                f"{name:20s} own sound {r:+.3f}   shuffled: median {np.median(mixed):+.3f}, max {np.max(mixed):+.3f}"
                f"   other sounds: median {np.median(against):+.3f}, max {np.max(against):+.3f}",
                flush=True,
            )
    own, other, shuffled = np.array(own), np.array(other), np.array(shuffled)
    print(
        f"\nown sound: {len(own)} clips, median {np.median(own):+.3f}; shuffled: {len(shuffled)}, median "
        f"{np.median(shuffled):+.3f}; other sound: {len(other)} pairs, median {np.median(other):+.3f}"
    )
    for t in THRESHOLDS:
        print(
            f"  pass mark {t:.2f}: own sound passes {np.mean(own >= t):.0%}, shuffled passes "
            f"{np.mean(shuffled >= t):.0%}, other sound passes {np.mean(other >= t):.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
