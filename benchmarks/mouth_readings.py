#!/usr/bin/env python
"""How well each reading of the tracker's (dlib's) 68 points follows the mouth read by a second
model (FaceMesh), per real clip with its own sound and per group: the inner-lip gap
(mouth.opening), the outer-lip height (mouth.outer_opening) and their mean, the steady
opening (mouth.steady_opening), which the exemplar engine describes its entries by.

    .venv/bin/python benchmarks/mouth_readings.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core import media, mouth, quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import corpus  # noqa: E402
from heygem_core.track import track_video  # noqa: E402

READINGS = {"inner": mouth.opening, "outer": mouth.outer_opening, "steady": mouth.steady_opening}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache-dir", type=Path, default=Settings.from_env().cache_dir)
    args = p.parse_args(argv)
    settings = Settings(cache_dir=args.cache_dir)
    rows = []
    print(f"{'clip':32s}" + "".join(f"{k:>9s}" for k in READINGS))
    for clip in corpus.single_clips(HERE.parent / "shared"):
        info = media.probe_video(clip.path)
        track = track_video(info, settings)
        mesh = quality.independent_series(info, settings, track)
        ok = mesh.found & ~track.lost
        r = {k: float(np.corrcoef(mesh.opening[ok], read(track.landmarks)[ok])[0, 1]) for k, read in READINGS.items()}
        rows.append((clip.group, r))
        print(f"{clip.name:32s}" + "".join(f"{r[k]:9.3f}" for k in READINGS), flush=True)
    for group in (corpus.GRID, corpus.CONVERSATIONAL):
        print(
            f"{'mean ' + group:32s}"
            + "".join(f"{np.mean([r[k] for g, r in rows if g == group]):9.3f}" for k in READINGS)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
