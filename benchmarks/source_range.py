#!/usr/bin/env python
"""How far real sources' mouths open: the calibration of quality.MIN_SOURCE_RANGE.

For every real clip (the corpus and the fixtures) it prints quality.source_range (the 95th
minus 5th percentile of the tracked inner-lip gap / eye distance) and whether the source
check would warn. Speaking faces should all pass; a presenter who does not speak should not.

    .venv/bin/python benchmarks/source_range.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "scripts"))

from heygem_core import quality  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.soundmouth import data  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
import train_mouth  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache-dir", type=Path, default=Path("/tmp/heygem-profile"))
    args = p.parse_args(argv)
    settings = Settings(cache_dir=args.cache_dir)
    clips = data.real_clips([r for r in train_mouth.DEFAULT_REAL if r.exists()])
    clips += [
        c
        for c in sorted((HERE.parent / "shared" / "fixtures" / "video").glob("*.mp4"))
        if c.name not in {x.name for x in clips}
    ]
    print(f"threshold {quality.MIN_SOURCE_RANGE}")
    for clip in clips:
        track = track_video(clip, settings)
        spread = quality.source_range(track)
        print(f"{clip.stem:20s} range {spread:.3f}  {'WARN' if quality.source_warning(track) else 'ok'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
