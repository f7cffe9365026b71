"""Speed and memory of ``heygem lipsync`` against plain ffmpeg, measured in the same run.

    python benchmarks/speed.py [--video V] [--audio A]

Prints: tracking fps; the whole job's wall time with a cold and a warm (cached) track; a plain
ffmpeg decode + re-encode of the same video at the same settings (x264 CRF/preset, AAC); the
ratios; and peak RSS of each heygem run (children included).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import media  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from tests.paths import LANGUAGE_AUDIO, VIDEOS  # noqa: E402


_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command. A fresh wrapper process per command, since
    RUSAGE_CHILDREN is a running maximum over every child a process ever had."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], check=True, capture_output=True, text=True)
    return time.perf_counter() - t, int(out.stdout.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", type=Path, default=VIDEOS["katie_8s"])
    ap.add_argument("--audio", type=Path, default=LANGUAGE_AUDIO["en"])
    args = ap.parse_args()
    s = Settings.from_env()
    info = media.probe_video(args.video)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        base = ["ffmpeg", "-v", "error", "-y", "-i", str(args.video), "-i", str(args.audio), "-map", "0:v:0",
                "-map", "1:a:0", "-c:v", "libx264", "-preset", s.x264_preset, "-crf", str(s.crf),
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", s.audio_bitrate, "-movflags", "+faststart",
                "-shortest", str(tmp / "plain.mp4")]
        plain, _ = timed(base)
        track_cmd = [sys.executable, "-c", "import sys; from heygem_core.track import track_video; "
                     "from heygem_core.config import Settings; from pathlib import Path; "
                     f"track_video(sys.argv[1], Settings(cache_dir=Path(sys.argv[2])))", str(args.video), str(tmp / "tc")]
        track_s, _ = timed(track_cmd)
        job = [sys.executable, "-m", "heygem_core.cli", "lipsync", "--video", str(args.video), "--audio",
               str(args.audio), "-o", str(tmp / "out.mp4"), "--cache-dir", str(cache)]
        cold, rss_cold = timed(job)
        warm, rss_warm = timed(job)
    n = info.n_frames
    print(f"video {args.video.name} {info.out_width}x{info.out_height} {float(info.fps):g} fps, {n} frames; "
          f"audio {args.audio.name}")
    print(f"plain ffmpeg decode+re-encode+mux: {plain:6.2f} s")
    print(f"tracking alone (incl. start-up):   {track_s:6.2f} s  = {n / track_s:6.1f} fps")
    print(f"heygem lipsync, cold track:        {cold:6.2f} s  ratio {cold / plain:4.2f}x  peak RSS {rss_cold:.0f} MB")
    print(f"heygem lipsync, cached track:      {warm:6.2f} s  ratio {warm / plain:4.2f}x  peak RSS {rss_warm:.0f} MB")


if __name__ == "__main__":
    main()
