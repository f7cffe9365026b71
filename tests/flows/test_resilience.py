"""Faults during a run: the store goes away and comes back; the run's process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from tests.flows.conftest import cached, ran, task_runs, write_sheet
from tests.paths import LANGUAGE_AUDIO, REPO, VIDEOS


def _wait_for(predicate, timeout: float, every: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


@pytest.mark.slow
def test_store_outage_mid_run_is_retried_and_nothing_partial_is_left(s3_env):
    """Batch flow on the S3 store; the store disappears once the first face track is stored
    and comes back 6 s later."""
    from flows.batch import batch
    from heygem_core.config import Settings
    from heygem_core.store import open_store
    from minio import Minio

    server, proxy, bucket = s3_env
    direct = Minio(server.endpoint, "testing", "testing-secret", secure=False)  # bypasses the proxy
    outage = {}

    def cut_when_tracked():
        def tracked():
            try:
                return any(True for _ in direct.list_objects(bucket, prefix="cache/track_faces/", recursive=True))
            except Exception:
                return False

        if _wait_for(tracked, timeout=300):
            proxy.down()
            outage["at"] = time.monotonic()
            time.sleep(6)
            proxy.up()

    watcher = threading.Thread(target=cut_when_tracked, daemon=True)
    watcher.start()
    summary = batch(
        audio=str(LANGUAGE_AUDIO["de"]), videos=[str(VIDEOS["katie_8s"]), str(VIDEOS["chaplin_7s"])], language="de"
    )
    watcher.join(timeout=30)

    assert "at" in outage, "the outage never happened"
    assert summary["done"] == 2, summary["failures"]
    retried = [tr.name for tr in task_runs(summary["flow_run_id"]) if tr.run_count > 1]
    assert retried, "no task saw the outage"

    # Every object under a final key is whole: each download is checked against its sha256.
    store = open_store(Settings.from_env())
    objects = store.list("")
    assert objects
    for obj in objects:
        assert len(store.get_bytes(obj.key)) == obj.size
    with zipfile.ZipFile(store.local_path(summary["zip"])) as z:
        assert sorted(n for n in z.namelist() if n.startswith("videos/")) == [
            "videos/chaplin_7s_de.mp4",
            "videos/katie_8s_de.mp4",
        ]
    assert "testing-secret" not in store.get_bytes(summary["run.log"]).decode()


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_tasks(heygem_env, prefect_api):
    from flows.course_matrix import course_matrix

    rows = [
        {"lecturer": "katie", "video": str(VIDEOS["katie_8s"]), "language": lang, "audio": str(LANGUAGE_AUDIO[lang])}
        for lang in ("de", "fr", "ja")
    ]
    sheet = write_sheet(heygem_env / "resume.csv", rows)
    mux_dir = heygem_env / "store" / "cache" / "mux"
    env = {**os.environ, **prefect_api}
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from flows.course_matrix import course_matrix; course_matrix({str(sheet)!r})"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        finished_one = _wait_for(lambda: mux_dir.is_dir() and any(mux_dir.glob("*.mp4")), timeout=400)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert finished_one, "the first run never finished a video"
    # by inode: made again, a file is a new one (atomic rename); a cache hit only marks it used
    finished = {p: p.stat().st_ino for p in mux_dir.glob("*.mp4")}
    assert len(finished) < 3, "the run finished before it could be killed"

    second = course_matrix(str(sheet))
    assert second["done"] == 3
    did, hit = ran(second["flow_run_id"]), cached(second["flow_run_id"])
    assert did["track_faces"] == 0 and hit["track_faces"] == 1
    assert did["mux"] + hit["mux"] == 3
    # A video finished before the kill is not made again: from Prefect's cache, or, when the
    # kill fell between the store write and Prefect's record of the task, from the store
    # (the task finds its object and returns at once).
    assert all(p.stat().st_ino == t for p, t in finished.items())
    assert len(list(mux_dir.glob("*.mp4"))) == 3
