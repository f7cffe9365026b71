"""Scheduled clean-up: ``heygem gc`` as a flow run (deployment ``gc/nightly-gc``, inactive)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from heygem_core import gc as core_gc
from tasks.runtime import settings_for, store_for


@flow(name="gc", log_prints=True)
def gc(older_than: str = "30d", max_size: str | None = None, dry_run: bool = False) -> dict:
    """Evict what was not used for ``older_than`` (cache objects, sources, whole runs), then the
    least recently used cache objects beyond ``max_size``; never what a running flow may use.

    Args:
        older_than: age such as ``30d`` or ``12h``.
        max_size: optional size such as ``20G`` the cache objects must fit in.
        dry_run: only report what would be freed.
    """
    settings = settings_for(None)
    store = store_for(settings)
    report = core_gc.collect(
        Path(settings.cache_dir),
        store,
        older_than=core_gc.parse_age(older_than),
        max_size=core_gc.parse_size(max_size) if max_size else None,
        dry_run=dry_run,
    )
    line = f"{settings.cache_dir}, store {store.describe()}: {report.summary()}"
    get_run_logger().info(line)
    create_markdown_artifact(markdown=f"# heygem gc\n\n{line}\n", key="gc", description="What gc freed")
    return {
        "freed_bytes": report.freed_bytes,
        "removed": len(report.removed),
        "kept": report.kept,
        "held": report.held,
        "dry_run": dry_run,
    }
