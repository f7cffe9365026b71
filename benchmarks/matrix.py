"""The 3 × 5 course matrix through Prefect: cold cache, warm cache, against 15 independent
``heygem lipsync`` calls, and Prefect's own overhead per task run. All in one run, on one machine.

    python benchmarks/matrix.py [--skip-independent]

Runs against a real temporary Prefect server (``prefect_test_harness``) and a fresh local store.
The matrix also does QA (tracks each output, draws two pictures) and packaging, which the plain
CLI calls do not: their share is printed from the task runs' own durations.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"


def task_seconds(flow_run_id: str) -> dict[str, tuple[int, float]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs = []
    with get_client(sync_client=True) as client:
        while True:  # the API returns at most 200 per page
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
                offset=len(runs),
            )
            runs += page
            if len(page) < 200:
                break
    out: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for tr in runs:
        name = tr.task_key.rsplit("-", 1)[0]
        out[name][0] += 1
        if tr.start_time and tr.end_time:
            out[name][1] += (tr.end_time - tr.start_time).total_seconds()
    return {k: (v[0], v[1]) for k, v in out.items()}


def overhead_per_task(n: int = 60) -> float:
    from prefect import flow, task

    @task
    def noop(i: int) -> int:
        return i

    @flow
    def many() -> None:
        for i in range(n):
            noop(i)

    many()  # warm up the client and the flow registration
    t = time.perf_counter()
    many()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sheet", type=Path, default=REPO / "examples" / "course_sample.csv")
    ap.add_argument("--skip-independent", action="store_true")
    args = ap.parse_args()
    fixtures = (REPO.parent / "shared" / "fixtures").resolve()
    work = Path(tempfile.mkdtemp(prefix="heygem-bench-"))
    os.environ.update(
        HEYGEM_STORE="local",
        HEYGEM_ARTIFACT_DIR=str(work / "store"),
        HEYGEM_CACHE_DIR=str(work / "cache"),
        HEYGEM_INPUT_ROOTS=str(fixtures),
    )

    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings({PREFECT_LOCAL_STORAGE_PATH: work / "results"}),
        prefect_test_harness(server_startup_timeout=120),
    ):
        from flows.course_matrix import course_matrix
        from heygem_core.intake import read_sheet

        rows = read_sheet(args.sheet, input_roots=[fixtures])
        t = time.perf_counter()
        cold = course_matrix(str(args.sheet))
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = course_matrix(str(args.sheet))
        warm_s = time.perf_counter() - t
        per_stage = task_seconds(cold["flow_run_id"])
        warm_tasks = sum(n for n, _ in task_seconds(warm["flow_run_id"]).values())
        overhead = overhead_per_task()

    print(f"matrix: {len(rows)} outputs, {cold['done']} done, {cold['failed']} failed")
    print(f"cold cache: {cold_s:7.1f} s  ({cold_s / len(rows):.1f} s per output)")
    print(f"warm cache: {warm_s:7.1f} s  ({warm_tasks} task runs, all but ingest/publish/package cached)")
    print("task time in the cold run (sum over task runs; threads overlap):")
    for name, (n, secs) in sorted(per_stage.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:16s} {n:3d} runs {secs:8.1f} s")
    print(f"Prefect overhead per task run (no-op task, same server): {overhead * 1000:.0f} ms")

    if not args.skip_independent:
        heygem = str(Path(sys.executable).with_name("heygem"))
        cache = work / "cli-cache"
        t = time.perf_counter()
        for r in rows:
            subprocess.run(
                [
                    heygem,
                    "lipsync",
                    "--video",
                    r.video.value,
                    "--audio",
                    r.audio.value,
                    "--language",
                    r.language,
                    "-o",
                    str(work / "cli" / r.output),
                    "--cache-dir",
                    str(cache),
                ],
                check=True,
                capture_output=True,
            )
        cli_s = time.perf_counter() - t
        qa_s = per_stage.get("qa", (0, 0.0))[1]
        print(f"15 independent `heygem lipsync` calls (shared track cache): {cli_s:7.1f} s")
        print(
            f"ratio cold matrix / independent calls: {cold_s / cli_s:.2f} "
            f"(the matrix also spent {qa_s:.0f} s of task time on QA)"
        )
        print(f"ratio warm matrix / independent calls: {warm_s / cli_s:.2f}")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
