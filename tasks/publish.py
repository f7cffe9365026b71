"""Per-run results: finished videos and their QA pictures copied under the run's prefix, and
one package (zip + manifest + CSV report + log) per run."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import task

from heygem_core import package as pkg
from heygem_core.scratch import scratch_dir

from .records import Published, QaResult
from .runtime import RETRIES, settings_for, store_for
from .stages import Overrides


@task(name="publish", task_run_name="publish {name}", tags=["io"], **RETRIES)
def publish(
    output_key: str, qa_result: QaResult | None, run_prefix: str, name: str, overrides: Overrides = None
) -> Published:
    """Copy a finished video (and its pictures) from the cache to ``<run_prefix>/videos``."""
    store = store_for(settings_for(overrides))
    stem = name.rsplit(".", 1)[0]
    video = store.copy(output_key, f"{run_prefix}/videos/{name}")
    pictures = {}
    for kind, key in (qa_result.pictures if qa_result is not None else {}).items():
        pictures[kind] = store.copy(key, f"{run_prefix}/qa/{stem}.{kind}.png").key
    return Published(video.key, video.sha256, video.size, pictures)


@task(name="package", task_run_name="package {run_id}", tags=["io"], **RETRIES)
def package(
    run_id: str,
    run_prefix: str,
    entries: list[pkg.OutputEntry],
    extra: dict,
    log_text: str,
    overrides: Overrides = None,
) -> dict:
    """The run's zip, manifest and report, stored under the run prefix."""
    settings = settings_for(overrides)
    store = store_for(settings)
    manifest = pkg.manifest(run_id, entries, extra)
    report_csv = pkg.report_csv(entries)
    with scratch_dir(settings, "package") as tmp:
        files = []
        for e in entries:
            if e.status != "done" or not e.output_key:
                continue
            files.append((f"videos/{e.output_name}", store.local_path(e.output_key)))
            for kind, key in e.pictures.items():
                files.append((f"qa/{Path(e.output_name).stem}.{kind}.png", store.local_path(key)))
        texts = {
            "manifest.json": json.dumps(manifest, indent=2, ensure_ascii=False),
            "report.csv": report_csv,
            "run.log": log_text,
        }
        zip_path = pkg.build_zip(Path(tmp) / f"{run_id}.zip", files, texts)
        zip_obj = store.put_file(f"{run_prefix}/{run_id}.zip", zip_path, "application/zip")
    keys = {"zip": zip_obj.key}
    for name, text, ctype in (
        ("manifest.json", texts["manifest.json"], "application/json"),
        ("report.csv", report_csv, "text/csv"),
        ("run.log", log_text, "text/plain"),
    ):
        keys[name] = store.put_bytes(f"{run_prefix}/{name}", text.encode("utf-8"), ctype).key
    keys["zip_url"] = store.url(zip_obj.key)
    keys["zip_sha256"] = zip_obj.sha256
    return keys
