#!/usr/bin/env python
"""The fixture course (3 lecturers x 5 languages, 15 rows) through the work pools, against the
same course in one process, on this machine.

Through the pools: a Prefect server process, moto's S3 server, deployments/setup.sh with
HEYGEM_GPU_SLOTS=2, one cpu and two gpu workers from deployments/start_worker.sh (tests/fleet.py),
inputs put with ``heygem store put``, the course-matrix deployment run on store: keys. In one
process: ``heygem run`` on the same files, a local store, the same server. Both start from
empty caches. Prints both wall times, their ratio, how many rows the gpu pool held at once,
and each row's overhead there (a worker took it -> done, less the lip-sync itself).

On one machine every process shares its cores: this measures what the pools cost, not what a
fleet gains.

    .venv/bin/python benchmarks/pools.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.fleet import Fleet, api_client, most_at_once, start_course, wait_final, wait_online  # noqa: E402
from tests.paths import LANGUAGE_AUDIO, VIDEOS  # noqa: E402


def sheet_rows(key) -> list[str]:
    return ["lecturer,video,language,audio"] + [
        f"{name.split('_')[0].capitalize()},{key(video)},{lang},{key(audio)}"
        for name, video in VIDEOS.items()
        for lang, audio in LANGUAGE_AUDIO.items()
    ]


def busy_spans(client, parent) -> list[tuple[float, float, float]]:
    """(taken, done, lip-sync seconds) of each lipsync_row run the course started."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])), limit=200
    )
    out = []
    for r in runs:
        if not r.name.startswith("lipsync ") or r.end_time is None:
            continue
        taken = min(st.timestamp for st in client.read_flow_run_states(r.id) if st.type.value == "PENDING")
        out.append((taken.timestamp(), r.end_time.timestamp(), (r.end_time - r.start_time).total_seconds()))
    return out


def main() -> int:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with tempfile.TemporaryDirectory(prefix="heygem-pools-") as tmp:
        home = Path(tmp)
        fleet = Fleet(home).start()
        try:
            fleet.worker("cpu", "cpu-1")
            fleet.worker("gpu", "gpu-a")
            fleet.worker("gpu", "gpu-b")
            with temporary_settings({PREFECT_API_URL: fleet.api}):
                wait_online(fleet, {"cpu-1", "gpu-a", "gpu-b"})
                media = [*VIDEOS.values(), *LANGUAGE_AUDIO.values()]
                fleet.heygem("store", "put", *map(str, media), "--prefix", "media/")
                sheet = home / "fixture_course.csv"
                sheet.write_text("\n".join(sheet_rows(lambda p: f"store:media/{p.name}")) + "\n")
                fleet.heygem("store", "put", str(sheet), "--prefix", "sheets/")

                t0 = time.monotonic()
                run = start_course(fleet, f"store:sheets/{sheet.name}")
                final = wait_final(fleet, run, within=1800)
                pools = time.monotonic() - t0
                with api_client(fleet) as client:
                    spans = busy_spans(client, final)
            print(f"through the pools: {pools:.0f} s, {final.state.name} ({final.state.message})", flush=True)

            local = home / "local.csv"
            local.write_text("\n".join(sheet_rows(str)) + "\n")
            env = {k: v for k, v in fleet.env.items() if not k.startswith(("MINIO_", "HEYGEM_"))}
            env.update(
                HEYGEM_STORE="local",
                HEYGEM_ARTIFACT_DIR=str(home / "one-store"),
                HEYGEM_CACHE_DIR=str(home / "one-cache"),
                HEYGEM_INPUT_ROOTS=str(VIDEOS["katie_8s"].parents[1]),
            )
            t0 = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "cli", "run", str(local)], env=env, cwd=HERE, capture_output=True, text=True
            )
            one = time.monotonic() - t0
            print(f"in one process:    {one:.0f} s, exit {done.returncode}: {done.stdout.splitlines()[:1]}")
        finally:
            fleet.stop()
    overhead = [end - taken - work for taken, end, work in spans]
    print(f"\nfixture course, 15 rows, this machine ({os.cpu_count()} cores):")
    print(f"  through the pools (1 cpu + 2 gpu workers, 2 gpu slots): {pools:.0f} s")
    print(f"  in one process:                                         {one:.0f} s  (pools / one: {pools / one:.2f})")
    print(
        f"  rows on the gpu pool at once: {most_at_once(spans)}; per row there: taken -> done median "
        f"{median(end - taken for taken, end, _ in spans):.1f} s, lip-sync itself median "
        f"{median(w for _, _, w in spans):.1f} s, overhead median {median(overhead):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
