#!/usr/bin/env python
"""Peak memory of a 60 s job with the longest transcript heygem accepts for it, against the same
job without a transcript, each a fresh ``heygem lipsync`` process (peak RSS of the process, from
getrusage; the cache warm, so both measure the job, not the first tracking).

The longest accepted transcript for 60 s of audio is heygem_core.transcripts' limit:
WORDS_PER_SECOND * 60 + SLACK words (here: words of the lecture's own kind, repeated). Before
the limits a 50 MB text reached 16 GB; one word over the limit is refused before any work.

    .venv/bin/python benchmarks/transcript_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core.transcripts import SLACK, WORDS_PER_SECOND  # noqa: E402
from tests.paths import LECTURE_60S, VIDEOS  # noqa: E402

WORDS = (
    "today we look at how the model learns from data and why the errors fall as it sees more examples of the same kind"
).split()


def run(args: list[str], env: dict) -> tuple[float, float, int, str]:
    """(peak RSS of that process in MB, seconds, exit code, its last line on stderr)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, env=env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        last = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    return usage.ru_maxrss / 1024, time.perf_counter() - t, proc.returncode, last


def main() -> int:
    from heygem_core.probe import probe_audio

    seconds = probe_audio(LECTURE_60S).duration
    n_words = int(WORDS_PER_SECOND * seconds + SLACK)
    with tempfile.TemporaryDirectory(prefix="heygem-transcript-mem-") as tmp:
        tmp = Path(tmp)
        text = tmp / "longest.txt"
        text.write_text(" ".join(WORDS[i % len(WORDS)] for i in range(n_words)) + "\n")
        over = tmp / "over.txt"
        over.write_text(" ".join(WORDS[i % len(WORDS)] for i in range(n_words + 1)) + "\n")
        env = {**os.environ, "HEYGEM_CACHE_DIR": str(tmp / "cache")}
        base = [
            sys.executable,
            "-m",
            "cli",
            "lipsync",
            "--video",
            str(VIDEOS["katie_8s"]),
            "--audio",
            str(LECTURE_60S),
            "--no-qa",
            "--language",
            "en",
        ]
        subprocess.run(base + ["-o", str(tmp / "warm.mp4")], env=env, check=True, capture_output=True)
        rows = []
        for name, extra in (
            ("no transcript", []),
            (f"longest accepted: {n_words} words, {text.stat().st_size} bytes", ["--transcript", str(text)]),
            (f"one word over: {n_words + 1} words", ["--transcript", str(over)]),
        ):
            rows.append((name, *run(base + extra + ["-o", str(tmp / "out.mp4")], env)))
    print(f"60 s job ({seconds:.1f} s of audio), katie_8s, a fresh process each, cache warm:")
    for name, mb, secs, code, last in rows:
        print(f"  {name:44s} exit {code}  {secs:5.1f} s  peak RSS {mb:5.0f} MB  {last if code else ''}")
    print(f"  longest accepted / no transcript: {rows[1][1] / rows[0][1]:.2f}x peak RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
