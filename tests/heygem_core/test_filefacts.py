"""Facts kept under a file's identity: read back for the same file, asked again for any change."""

import json
import os
import shutil
import time

import pytest

from heygem_core import filefacts, media, probe
from heygem_core.track import track_video, track_stats
from heygem_core.config import Settings
from tests.paths import VIDEOS


@pytest.fixture(autouse=True)
def short_racy_window(monkeypatch):
    # Facts about a file changed within RACY_S are not kept (coarse clocks); the tests wait
    # out a short window instead of 2 s.
    monkeypatch.setattr(filefacts, "RACY_S", 0.05)


def settle():
    time.sleep(0.1)


class Counter:
    def __init__(self, answer):
        self.calls, self.answer = 0, answer

    def __call__(self):
        self.calls += 1
        return dict(self.answer)


def test_facts_are_read_back_for_the_same_file(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    settle()
    ask = Counter({"n": 1})
    first = filefacts.remembered(tmp_path / "c", "kind", f, ask)
    again = filefacts.remembered(tmp_path / "c", "kind", f, ask)
    assert first == again == {"n": 1} and ask.calls == 1
    assert filefacts.remembered(tmp_path / "c", "other", f, ask) == {"n": 1} and ask.calls == 2


def test_a_file_rewritten_in_place_is_asked_again_even_with_its_old_times(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture 1")
    settle()
    ask = Counter({"n": 1})
    filefacts.remembered(tmp_path / "c", "kind", f, ask)
    st = os.stat(f)
    f.write_bytes(b"lecture 2")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # modification time set back
    settle()
    filefacts.remembered(tmp_path / "c", "kind", f, ask)
    assert ask.calls == 2


def test_a_copy_is_a_new_file(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    copy = shutil.copy2(f, tmp_path / "b.bin")
    settle()
    ask = Counter({"n": 1})
    filefacts.remembered(tmp_path / "c", "kind", f, ask)
    filefacts.remembered(tmp_path / "c", "kind", copy, ask)
    assert ask.calls == 2


def test_without_a_cache_folder_nothing_is_kept(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    ask = Counter({"n": 1})
    filefacts.remembered(None, "kind", f, ask)
    filefacts.remembered(None, "kind", f, ask)
    assert ask.calls == 2


def test_errors_are_not_kept(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")

    def fails():
        raise ValueError("unreadable")

    with pytest.raises(ValueError):
        filefacts.remembered(tmp_path / "c", "kind", f, fails)
    assert filefacts.remembered(tmp_path / "c", "kind", f, Counter({"n": 2})) == {"n": 2}


def test_a_damaged_entry_is_asked_again_and_mended(tmp_path, caplog):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    settle()
    filefacts.remembered(tmp_path / "c", "kind", f, Counter({"n": 1}))
    (entry,) = (tmp_path / "c" / "files").rglob("*.json")
    entry.write_text("{not json")
    ask = Counter({"n": 1})
    assert filefacts.remembered(tmp_path / "c", "kind", f, ask) == {"n": 1} and ask.calls == 1
    assert "ignoring damaged file facts" in caplog.text
    assert json.loads(entry.read_text()) == {"n": 1}


def test_a_known_video_is_not_probed_again(tmp_path, monkeypatch):
    video = shutil.copy(VIDEOS["katie_8s"], tmp_path / "v.mp4")
    settle()
    fresh = probe.probe_video(video)
    assert probe.probe_video(video, tmp_path / "c") == fresh

    def no_tool(args):
        pytest.fail(f"ran {args[0]} for a known video")

    monkeypatch.setattr(probe, "run_tool", no_tool)
    kept = probe.probe_video(video, tmp_path / "c")
    assert kept == fresh and isinstance(kept.fps, type(fresh.fps)) and kept.notes == fresh.notes
    other_name = tmp_path / "same file.mp4"
    other_name.symlink_to(video)  # the same file by another name: its answer names that name
    assert probe.probe_video(other_name, tmp_path / "c").path == other_name


def test_a_cached_track_is_found_without_reading_the_video_again(tmp_path, monkeypatch):
    video = shutil.copy(VIDEOS["katie_8s"], tmp_path / "v.mp4")
    settle()
    s = Settings(cache_dir=tmp_path / "c")
    first = track_video(video, s)
    assert first.source_sha256 == media.sha256_file(video)

    def no_read(path, chunk=0):
        pytest.fail(f"read {path} whole again")

    monkeypatch.setattr(filefacts, "sha256_file", no_read)
    runs = track_stats["runs"]
    again = track_video(video, s)
    assert track_stats["runs"] == runs and again.source_sha256 == first.source_sha256


def test_facts_about_a_file_changed_a_moment_ago_are_not_kept(tmp_path, monkeypatch):
    # On a coarse filesystem clock a second write in the same tick keeps every timestamp.
    monkeypatch.setattr(filefacts, "RACY_S", 60.0)
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    ask = Counter({"n": 1})
    filefacts.remembered(tmp_path / "c", "kind", f, ask)
    filefacts.remembered(tmp_path / "c", "kind", f, ask)
    assert ask.calls == 2 and not (tmp_path / "c" / "files").exists()


def test_a_cache_that_cannot_be_written_slows_nothing_but_the_next_job(tmp_path, caplog):
    f = tmp_path / "a.bin"
    f.write_bytes(b"lecture")
    settle()
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")  # root may write anywhere else
    assert filefacts.remembered(blocked, "kind", f, Counter({"n": 3})) == {"n": 3}
    assert "cannot keep the file facts" in caplog.text
