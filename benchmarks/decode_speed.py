#!/usr/bin/env python
"""Frame decoding speed: heygem's frame reader against plain ffmpeg decoding to nothing, in the
same run (the reader's cost over ffmpeg's own is the pipe and the colour conversion).

    .venv/bin/python benchmarks/decode_speed.py [VIDEO ...] [--repeat N]

Default videos: the fixtures. For each: ffmpeg decode to null, media.read_frames (BGR) and
media.read_gray_frames, in frames per second (median of N), and each reader's ratio to ffmpeg.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import media  # noqa: E402
from tests.paths import VIDEOS  # noqa: E402


def _fps(run, n: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return n / statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", type=Path)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    videos = args.videos or list(VIDEOS.values())
    print(f"{'video':28s} {'size':>9s} {'ffmpeg':>8s} {'bgr':>8s} {'grey':>8s}  bgr/ffmpeg grey/ffmpeg")
    for path in videos:
        info = media.probe_video(path)
        n = info.n_frames
        plain = _fps(
            lambda: subprocess.run(
                ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-an", "-f", "null", "-"], check=True
            ),
            n,
            args.repeat,
        )
        bgr = _fps(lambda: sum(1 for _ in media.read_frames(info)), n, args.repeat)
        grey = _fps(lambda: sum(1 for _ in media.read_gray_frames(info)), n, args.repeat)
        print(
            f"{path.name:28s} {info.width:4d}x{info.height:<4d} {plain:8.0f} {bgr:8.0f} {grey:8.0f}"
            f"  {bgr / plain:10.2f} {grey / plain:10.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
