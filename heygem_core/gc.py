"""Eviction of what heygem keeps: the local caches, the artifact store's cached stage outputs
and ingested sources (least recently used first), and old runs.

What is kept:
- anything used since the oldest running job began: a running flow *holds* the store
  (``hold``: a small ``holds/<run-id>.json`` object, removed when the run ends), and every
  cache hit marks its object used (``store.touch``; local cache entries by their modification
  time), so nothing a running flow has read or may still read is taken from under it. A hold
  older than ``HOLD_MAX_S`` belongs to a run that died without removing it and is ignored;
- with ``older_than``: everything used more recently than that;
- with ``max_size``: the most recently used cache objects that fit in that many bytes.

A run (``runs/<id>/``: its outputs, zip, manifest and report) is removed only whole and only
for its age, never to make room: it is what the user asked for. The scratch folders of dead
jobs (``scratch.work_dir``) are swept by every new job, and here.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import InputError, ObjectMissing
from .scratch import sweep_work

HOLDS = "holds/"
HOLD_MAX_S = 48 * 3600
# Folders of the local cache heygem may evict (work/ is the tasks' scratch space).
LOCAL_KINDS = ("tracks", "library", "phones", "files", "soundmouth", "models", "store-objects")


@dataclass(frozen=True)
class Item:
    where: str  # "cache" (this machine's cache folder) or "store"
    name: str  # a path under the cache folder, a store key, or a run's prefix "runs/<id>/"
    size: int
    used: float  # seconds since the epoch
    run: bool = False  # a whole run (age only)
    keys: tuple[str, ...] = ()  # a run's objects


@dataclass
class Collected:
    dry_run: bool
    removed: list[Item] = field(default_factory=list)
    kept: int = 0
    kept_bytes: int = 0
    held: int = 0  # items kept because a running job may use them
    holds: int = 0  # running jobs seen

    @property
    def freed_bytes(self) -> int:
        return sum(i.size for i in self.removed)

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        runs = sum(1 for i in self.removed if i.run)
        parts = [
            f"{verb} {_human(self.freed_bytes)} in {len(self.removed) - runs} cache objects"
            + (f" and {runs} runs" if runs else ""),
            f"kept {self.kept} ({_human(self.kept_bytes)})",
        ]
        if self.held:
            parts.append(f"{self.held} of them in use by {self.holds} running job{'s' * (self.holds != 1)}")
        return "; ".join(parts)


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '45s' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            value = float(t[:-1]) * units[t[-1]]
        else:
            value = float(t) * 86400
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InputError(f"--older-than {text}: give an age such as 30d, 12h or 90m")
    return value


def parse_size(text: str) -> int:
    """'20G', '500M', '1.5T', '1000000' -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except (ValueError, IndexError):
        value = -1.0
    if not value >= 0:
        raise InputError(f"--max-size {text}: give a size such as 20G or 500M")
    return int(value)


# -- holds ---------------------------------------------------------------------------------
@contextmanager
def hold(store, run_id: str) -> Iterator[None]:
    """While the block runs, ``collect`` keeps whatever is used from now on."""
    key = f"{HOLDS}{run_id}.json"
    doc = {"run": run_id, "started": time.time(), "host": socket.gethostname(), "pid": os.getpid()}
    store.put_bytes(key, json.dumps(doc).encode(), "application/json")
    try:
        yield
    finally:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - a hold left behind expires after HOLD_MAX_S
            pass


def held_runs(store, now: float) -> tuple[dict[str, float], list[str]]:
    """The runs holding the store now (run id -> when its hold began), and the keys of stale holds."""
    live, stale = {}, []
    for obj in store.list(HOLDS):
        if not obj.key.endswith(".json"):
            continue
        try:
            when = float(json.loads(store.get_bytes(obj.key))["started"])
        except ObjectMissing:
            continue  # the run ended while we listed
        except Exception:  # noqa: BLE001 - unreadable: judge it by its write time
            when = obj.modified
        if now - when < HOLD_MAX_S:
            live[obj.key[len(HOLDS) : -len(".json")]] = when
        else:
            stale.append(obj.key)
    return live, stale


def live_holds(store, now: float) -> tuple[list[float], list[str]]:
    """Start times of the running jobs' holds, and the keys of stale ones."""
    live, stale = held_runs(store, now)
    return list(live.values()), stale


# -- what there is -------------------------------------------------------------------------
def local_items(cache_dir: Path) -> list[Item]:
    items = []
    for kind in LOCAL_KINDS:
        for dirpath, _, names in os.walk(Path(cache_dir) / kind):
            for name in names:
                path = Path(dirpath) / name
                if ".tmp" in name:  # another process is writing it
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                items.append(Item("cache", str(path), st.st_size, st.st_mtime))
    return items


def store_items(store) -> list[Item]:
    items = [Item("store", o.key, o.size, o.modified) for prefix in ("cache/", "sources/") for o in store.list(prefix)]
    runs: dict[str, list] = {}
    for o in store.list("runs/"):
        parts = o.key.split("/")
        if len(parts) >= 3:
            runs.setdefault(f"runs/{parts[1]}/", []).append(o)
    for prefix, objs in runs.items():
        items.append(
            Item(
                "store",
                prefix,
                sum(o.size for o in objs),
                max(o.modified for o in objs),
                run=True,
                keys=tuple(o.key for o in objs),
            )
        )
    return items


# -- the choice ------------------------------------------------------------------------------
def choose(
    items: list[Item], now: float, older_than: float | None, max_size: int | None, held_since: float | None
) -> tuple[list[Item], int]:
    """The items to remove, and how many were kept only because a running job holds them."""
    held = {i for i in items if held_since is not None and i.used >= held_since - 1.0}
    remove: set[Item] = set()
    if older_than is not None:
        remove = {i for i in items if now - i.used > older_than and i not in held}
    if max_size is not None:
        left = sorted((i for i in items if i not in remove and not i.run), key=lambda i: i.used)
        total = sum(i.size for i in left)
        for item in left:  # least recently used first
            if total <= max_size:
                break
            if item not in held:
                remove.add(item)
                total -= item.size
    held_only = sum(1 for i in held if older_than is not None and now - i.used > older_than)
    return [i for i in items if i in remove], held_only


def collect(
    cache_dir: Path,
    store=None,
    *,
    older_than: float | None = None,
    max_size: int | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> Collected:
    if older_than is None and max_size is None:
        raise InputError("say what to free: --older-than AGE and/or --max-size SIZE")
    now = time.time() if now is None else now
    if not dry_run:
        sweep_work(cache_dir)
    started, stale = live_holds(store, now) if store is not None else ([], [])
    items = local_items(cache_dir) + (store_items(store) if store is not None else [])
    remove, held = choose(items, now, older_than, max_size, min(started) if started else None)
    report = Collected(dry_run=dry_run, held=held, holds=len(started))
    removing = set(remove)
    for item in items:
        if item not in removing:
            report.kept += 1
            report.kept_bytes += item.size
    if dry_run:
        report.removed = remove
        return report
    for item in remove:
        try:
            if item.where == "cache":
                Path(item.name).unlink()
            elif item.run:
                for key in item.keys:
                    store.delete(key)
            else:
                store.delete(item.name)
        except FileNotFoundError:
            pass
        report.removed.append(item)
    for key in stale:
        store.delete(key)
    _prune(Path(cache_dir))
    return report


def _prune(cache_dir: Path) -> None:
    """Remove the cache's folders that eviction left empty."""
    for kind in LOCAL_KINDS:
        top = cache_dir / kind
        for dirpath, _, _ in os.walk(top, topdown=False):
            if Path(dirpath) != top:
                try:
                    os.rmdir(dirpath)  # only if empty
                except OSError:
                    pass


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
