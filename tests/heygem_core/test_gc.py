"""heygem gc: old and least recently used objects go, from the cache folder and from a local
or an S3 (moto) store; what a running flow may use and what was used lately stay."""

import json
import os
import time

import pytest

from heygem_core import gc
from cli import main


def _local(cache_dir, rel, data=b"x" * 100, used=None):
    path = cache_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if used is not None:
        os.utime(path, (used, used))
    return path


def test_old_objects_go_recent_and_touched_ones_stay(store, store_settings):
    cache_dir = store_settings.cache_dir
    for key in (
        "cache/lipsync/old.npz",
        "cache/blend/touched.mp4",
        "sources/old.mp4",
        "runs/r1/out/a.mp4",
        "runs/r1/report.html",
    ):
        store.put_bytes(key, b"old " * 50)
    t_mid = time.time()
    old_track = _local(cache_dir, "tracks/ab/old.parquet", used=t_mid - 60)
    time.sleep(1.3)  # S3 times have whole seconds
    for key in ("cache/blend/new.mp4", "runs/r2/out/b.mp4"):
        store.put_bytes(key, b"new " * 50)
    new_track = _local(cache_dir, "tracks/cd/new.parquet")
    store.touch("cache/blend/touched.mp4")  # a cache hit of a later run
    now = time.time()
    older_than = now - t_mid

    dry = gc.collect(cache_dir, store, older_than=older_than, dry_run=True, now=now)
    gone = {"cache/lipsync/old.npz", "sources/old.mp4", "runs/r1/", str(old_track)}
    assert {i.name for i in dry.removed} == gone
    assert dry.freed_bytes == 4 * 200 + 100 and "would free" in dry.summary()
    assert store.exists("cache/lipsync/old.npz") and old_track.exists(), "a dry run removed something"

    done = gc.collect(cache_dir, store, older_than=older_than, now=now)
    assert {i.name for i in done.removed} == gone and done.kept == 4
    assert [o.key for o in store.list("runs/")] == ["runs/r2/out/b.mp4"]  # r1 went whole
    assert not store.exists("cache/lipsync/old.npz") and not store.exists("sources/old.mp4")
    assert not old_track.exists() and new_track.exists() and not old_track.parent.exists()
    # a touched object is still whole: its recorded sha256 survived the touch
    assert store.get_bytes("cache/blend/touched.mp4") == b"old " * 50
    assert store.stat("cache/blend/touched.mp4").sha256


@pytest.mark.slow
def test_what_a_running_flow_may_use_is_kept(store, store_settings):
    cache_dir = store_settings.cache_dir
    store.put_bytes("cache/x/before.bin", b"b" * 300)
    time.sleep(1.3)
    with gc.hold(store, "course-1"):
        time.sleep(1.3)
        store.put_bytes("cache/x/during.bin", b"d" * 300)
        report = gc.collect(cache_dir, store, max_size=0)
        assert [i.name for i in report.removed] == ["cache/x/before.bin"]
        assert store.exists("cache/x/during.bin") and report.holds == 1
    assert store.list(gc.HOLDS) == [], "the hold outlived its run"


def test_a_hold_left_by_a_dead_run_expires(store, store_settings):
    stale = {"run": "dead", "started": time.time() - gc.HOLD_MAX_S - 60}
    store.put_bytes("holds/dead.json", json.dumps(stale).encode())
    store.put_bytes("cache/x/a.bin", b"a" * 10)
    report = gc.collect(store_settings.cache_dir, store, max_size=0, now=time.time() + 5)
    assert report.holds == 0 and [i.name for i in report.removed] == ["cache/x/a.bin"]
    assert not store.exists("holds/dead.json")


def test_max_size_evicts_least_recently_used_first(local_store, local_settings):
    cache_dir = local_settings.cache_dir
    now = time.time()
    oldest = _local(cache_dir, "library/aa/1.npy", b"1" * 1000, used=now - 300)
    middle = _local(cache_dir, "phones/bb/2.json", b"2" * 1000, used=now - 200)
    newest = _local(cache_dir, "files/cc/3.json", b"3" * 1000, used=now - 100)
    report = gc.collect(cache_dir, local_store, max_size=2500, now=now)
    assert [i.name for i in report.removed] == [str(oldest)]
    assert middle.exists() and newest.exists()
    _local(cache_dir, "work/task-host-1-x/scratch.mp4", b"s" * 5000, used=now - 10_000)
    gc.collect(cache_dir, local_store, max_size=0, now=now)
    assert (cache_dir / "work/task-host-1-x/scratch.mp4").exists(), "a task's scratch space is not gc's"


@pytest.mark.parametrize("text, seconds", [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2", 2 * 86400)])
def test_ages(text, seconds):
    assert gc.parse_age(text) == seconds


def test_sizes():
    assert (gc.parse_size("20G"), gc.parse_size("500MB"), gc.parse_size("1.5k")) == (20 << 30, 500 << 20, 1536)


def test_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HEYGEM_ARTIFACT_DIR", str(tmp_path / "store"))
    old = _local(tmp_path / "c", "tracks/aa/t.parquet", used=time.time() - 40 * 86400)
    assert main(["gc", "--cache-dir", str(tmp_path / "c"), "--older-than", "30d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would free 100 B in 1 cache objects" in out and old.exists()
    assert main(["gc", "--cache-dir", str(tmp_path / "c"), "--older-than", "30d"]) == 0
    assert "freed 100 B" in capsys.readouterr().out and not old.exists()
    for argv, says in (
        (["gc", "--older-than", "soon"], "--older-than soon"),
        (["gc"], "say what to free"),
        (["gc", "--max-size", "big"], "--max-size big"),
    ):
        assert main(argv + ["--cache-dir", str(tmp_path / "c")]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
