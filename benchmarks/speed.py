"""Speed and memory of ``heygem lipsync`` against plain ffmpeg, measured in the same run.

    python benchmarks/speed.py [--video V] [--audio A ...] [--repeat N]

For each audio (default: an 8 s clip, and a 60 s narration, which plays the 8 s video back
and forth for a minute: a lecture-length job), prints: a plain ffmpeg decode + re-encode
producing the same number of frames at the same settings (x264 CRF/preset, AAC); the whole
``heygem lipsync`` job with a cold and with a cached face track, and a re-run; the ratios;
peak RSS of each heygem run (children included); the stage timings heygem logs, and the
lip-sync + blend + encode rate of the cached run (output frames over its lipsync and render
stages). Tracking fps is measured on the video alone: a whole process (start-up and model
loading included), and in a process whose models are loaded, tracking helpers included (the
first track, then the best of three more; a worker or the web app tracks this way), and the
best of three in that process alone. With ``--repeat`` each figure is the median of N runs.
Last, the cached-track job in a process that has run one job before (imports done, phone
recognisers waiting: a Prefect worker's or the web app's case), N times after that first job.

"Cold" means a video not seen before: its track and mouth library are removed before each
cold run. "Cached track" is a known video with new audio: the audio's phones, which heygem
keeps by content, are removed too; the re-run keeps them. What an installation keeps once
for all videos (dlib's face detector, saved on first use) stays, as on a user's machine;
the first tracking run above builds it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import media  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from tests.paths import FIXTURES, LANGUAGE_AUDIO, VIDEOS  # noqa: E402

_PEAK = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "sys.stderr.write(p.stderr); p.check_returncode(); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stderr of one command. A fresh wrapper process per
    command, since RUSAGE_CHILDREN is a running maximum over every child a process ever had."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], check=True, capture_output=True, text=True)
    return time.perf_counter() - t, int(out.stdout.split()[-1]) / 1024, out.stderr


def plain_args(video: Path, audio: Path, out: Path, s: Settings, loop: bool) -> list[str]:
    return [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        *(["-stream_loop", "-1"] if loop else []),
        "-i",
        str(video),
        "-i",
        str(audio),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "libx264",
        "-preset",
        s.x264_preset,
        "-crf",
        str(s.crf),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        s.audio_bitrate,
        "-movflags",
        "+faststart",
        "-shortest",
        str(out),
    ]


_WARM_TRACK = """
import sys, time
from pathlib import Path
from heygem_core import media
from heygem_core.config import Settings
from heygem_core.track import track_video, helpers
from heygem_core.track.backends import leased_backend
s = Settings(cache_dir=Path(sys.argv[2]))
info = media.probe_video(sys.argv[1])
helpers.warm(s)  # tracking helpers load beside this process
with leased_backend(s.tracker, s):
    pass  # models loaded

def rate(settings):
    t = time.perf_counter()
    track_video(info, settings, use_cache=False)
    return info.n_frames / (time.perf_counter() - t)

first = rate(s)
print(first, max(rate(s) for _ in range(3)), max(rate(s.replace(tracking_processes=1)) for _ in range(3)))
"""


_WARM_JOB = """
import shutil, sys, time
from pathlib import Path
from heygem_core import pipeline
from heygem_core.config import Settings
video, audio, out, cache, n = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
s = Settings.from_env().replace(cache_dir=cache)
pipeline.lipsync(video, audio, out, settings=s)  # the process's first job
for _ in range(n):
    shutil.rmtree(cache / "phones", ignore_errors=True)  # new audio, as in the cached run
    t = time.perf_counter()
    pipeline.lipsync(video, audio, out, settings=s)
    print("job_s", time.perf_counter() - t)
"""


def stage_seconds(stderr: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", stages(stderr))}


def stages(stderr: str) -> str:
    found = re.findall(r"heygem_core.pipeline: .*?: ((?:\w+ [\d.]+ s, )+total [\d.]+ s)", stderr)
    return found[-1] if found else "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", type=Path, default=VIDEOS["katie_8s"])
    ap.add_argument("--audio", type=Path, action="append")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    audios = args.audio or [LANGUAGE_AUDIO["en"], FIXTURES / "audio" / "en_lecture_60s.wav"]
    s = Settings.from_env()
    info = media.probe_video(args.video)
    print(
        f"video {args.video.name} {info.out_width}x{info.out_height} {float(info.fps):g} fps, "
        f"{info.n_frames} frames; x264 {s.x264_preset} crf {s.crf}; median of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        track_cmd = [
            sys.executable,
            "-c",
            "import sys; from heygem_core.track import track_video; "
            "from heygem_core.config import Settings; from pathlib import Path; "
            "track_video(sys.argv[1], Settings(cache_dir=Path(sys.argv[2])))",
            str(args.video),
            str(cache),
        ]
        track_s, _, _ = timed(track_cmd)
        print(f"tracking alone (incl. start-up): {track_s:6.2f} s = {info.n_frames / track_s:6.1f} fps")
        warm_out = subprocess.run(
            [sys.executable, "-c", _WARM_TRACK, str(args.video), str(cache)], check=True, capture_output=True, text=True
        ).stdout.split()
        print(
            f"tracking, models loaded: first {float(warm_out[0]):6.1f} fps, then {float(warm_out[1]):6.1f} fps"
            f" (in this process alone: {float(warm_out[2]):6.1f} fps)"
        )
        for audio in audios:
            n_out = round(media.probe_audio(audio).duration * float(info.fps))
            loop = n_out > info.n_frames
            plain, cold, warm, again, with_qa, rss_c, rss_w, log, rates = [], [], [], [], [], [], [], "", []
            for _ in range(args.repeat):
                plain.append(timed(plain_args(args.video, audio, tmp / "plain.mp4", s, loop))[0])
                # Each audio counts as new (its phones are not kept from before), except in the
                # re-run: same video, same audio (a retry, or one audio onto many videos).
                for kept in ("tracks", "library", "adapt", "phones", "files"):  # what a new video has not got yet
                    shutil.rmtree(cache / kept, ignore_errors=True)
                # The job itself; its QA reading of the output (on by default) is timed apart below.
                job = [
                    sys.executable,
                    "-m",
                    "cli",
                    "lipsync",
                    "-v",
                    "--no-qa",
                    "--video",
                    str(args.video),
                    "--audio",
                    str(audio),
                    "-o",
                    str(tmp / "out.mp4"),
                    "--cache-dir",
                    str(cache),
                ]
                w, r, _ = timed(job)
                cold.append(w), rss_c.append(r)
                shutil.rmtree(cache / "phones", ignore_errors=True)
                w, r, log = timed(job)
                warm.append(w), rss_w.append(r)
                st = stage_seconds(log)
                if "render" in st:
                    rates.append(n_out / (st.get("lipsync", 0.0) + st["render"]))
                again.append(timed(job)[0])
                shutil.rmtree(cache / "phones", ignore_errors=True)
                with_qa.append(timed([a for a in job if a != "--no-qa"])[0])
            p, c, w, a, q = (statistics.median(x) for x in (plain, cold, warm, again, with_qa))
            print(f"\naudio {audio.name}: {n_out} output frames")
            print(f"  plain ffmpeg decode+re-encode+mux: {p:6.2f} s")
            print(f"  heygem lipsync, cold track:        {c:6.2f} s  ratio {c / p:4.2f}x  peak RSS {max(rss_c):.0f} MB")
            print(f"  heygem lipsync, cached track:      {w:6.2f} s  ratio {w / p:4.2f}x  peak RSS {max(rss_w):.0f} MB")
            print(f"  re-run (track and phones cached):  {a:6.2f} s  ratio {a / p:4.2f}x")
            print(f"  cached track + QA line (default):  {q:6.2f} s  ratio {q / p:4.2f}x")
            print(f"  stages (cached run): {stages(log)}")
            if rates:
                print(f"  lip-sync + blend + encode (cached run): {statistics.median(rates):6.1f} fps")
            warm_jobs = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _WARM_JOB,
                    str(args.video),
                    str(audio),
                    str(tmp / "out.mp4"),
                    str(cache),
                    str(args.repeat),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            in_worker = statistics.median(float(x) for x in re.findall(r"^job_s ([\d.]+)$", warm_jobs, re.M))
            print(f"  cached track, in a process past its first job: {in_worker:6.2f} s  ratio {in_worker / p:4.2f}x")


if __name__ == "__main__":
    main()
