import csv
import datetime as dt
import io
import json
import os
import zipfile

import numpy as np
import pytest

from heygem_core.errors import InputError, MissingFile
from heygem_core.package import (
    CSV_COLUMNS,
    OutputEntry,
    build_zip,
    extract_safely,
    manifest,
    manifest_json,
    report_csv,
    safe_arcname,
)


def _entries():
    done = OutputEntry(
        row=2,
        lecturer="Katie Müller",
        language="de",
        title="Straße – 1",
        output_name="katie_de.mp4",
        output_key="runs/r1/katie_de.mp4",
        sha256="ab" * 32,
        duration=8.0,
        engine="exemplar",
        status="done",
        qa={"sync": 0.213, "coverage": 1.0, "frames": 200, "duration": 8.0, "flagged": False, "reasons": []},
        pictures={
            "contact_sheet": "runs/r1/qa/katie_de_contact.png",
            "opening_plot": "runs/r1/qa/katie_de_opening.png",
        },
    )
    failed = OutputEntry(
        row=3,
        lecturer="Chaplin",
        language="fr",
        title='=HYPERLINK("http://x")',
        output_name="chaplin_fr.mp4",
        output_key=None,
        sha256=None,
        duration=None,
        engine=None,
        status="failed",
        message="chaplin.mp4: no face found in any frame of the video\n  - second line",
    )
    flagged = OutputEntry(
        row=4,
        lecturer="Sun",
        language="ja",
        title='silent, "quoted"',
        output_name="sun_ja.mp4",
        output_key="runs/r1/sun_ja.mp4",
        sha256="cd" * 32,
        duration=22.0,
        engine="exemplar",
        status="done",
        qa={
            "sync": float("nan"),
            "coverage": np.float64(0.52),
            "flagged": True,
            "reasons": ["face found in only 52% of frames (threshold 90%)"],
        },
    )
    return [done, failed, flagged]


def test_manifest_is_json_with_counts():
    data = manifest("run-1", _entries(), {"sheet": "lectures.xlsx", "engine": "exemplar"})
    text = json.dumps(data, allow_nan=False)  # NaN and numpy values were made plain JSON
    back = json.loads(text)
    assert back["run_id"] == "run-1"
    assert back["counts"] == {"total": 3, "done": 2, "failed": 1, "flagged": 1}
    assert back["sheet"] == "lectures.xlsx"
    created = dt.datetime.fromisoformat(back["created"])
    assert created.utcoffset() == dt.timedelta(0)
    assert [e["status"] for e in back["entries"]] == ["done", "failed", "done"]
    assert back["entries"][2]["qa"]["sync"] is None
    assert back["entries"][2]["qa"]["coverage"] == 0.52
    assert back["entries"][0]["pictures"]["contact_sheet"].endswith("_contact.png")
    with pytest.raises(ValueError, match="created"):
        manifest("run-1", [], {"created": "yesterday"})
    assert "Straße – 1" in manifest_json("run-1", _entries(), {})


def test_entry_status_is_checked():
    with pytest.raises(ValueError, match="status"):
        OutputEntry(
            row=1,
            lecturer="a",
            language="de",
            title="t",
            output_name="a.mp4",
            output_key=None,
            sha256=None,
            duration=None,
            engine=None,
            status="ok",
        )


def test_report_csv_one_line_per_entry():
    text = report_csv(_entries())
    lines = text.splitlines()
    assert len(lines) == 4, "a header and one physical line per entry"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert rows[0]["title"] == "Straße – 1" and rows[0]["sync"] == "0.213" and rows[0]["flagged"] == "no"
    assert rows[0]["duration"] == "8.00" and rows[0]["sha256"] == "ab" * 32
    failed = rows[1]
    assert failed["status"] == "failed"
    assert failed["message"] == "chaplin.mp4: no face found in any frame of the video - second line"
    assert failed["title"].startswith("'="), "a title must not run as a spreadsheet formula"
    assert failed["sync"] == failed["flagged"] == failed["sha256"] == failed["duration"] == ""
    assert rows[2]["title"] == 'silent, "quoted"' and rows[2]["sync"] == "" and rows[2]["flagged"] == "yes"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("/etc/passwd", "etc/passwd"),
        ("C:\\x", "x"),
        ("C:x", "x"),
        ("videos\\katie_de.mp4", "videos/katie_de.mp4"),
        ("Straße – 1.mp4", "Straße – 1.mp4"),
        ("videos/Straße – 1.mp4", "videos/Straße – 1.mp4"),
        ("./qa//a.png", "qa/a.png"),
        ("Lecture 1: Intro?.mp4", "Lecture 1_ Intro_.mp4"),
        ("tab\there.mp4", "tab_here.mp4"),
        ("con.mp4", "_con.mp4"),
        ("name. ", "name"),
        ("//server/share/x", "server/share/x"),
        ("Caf\u0065\u0301.mp4", "Caf\u00e9.mp4"),  # macOS-style decomposed accents become NFC
    ],
)
def test_safe_arcname_cleans(name, expected):
    assert safe_arcname(name) == expected


@pytest.mark.parametrize(
    "name", ["../x", "a/../../b", "..\\x", "videos/../../etc", "", "/", "C:\\", ".", "...", "x" * 300]
)
def test_safe_arcname_rejects(name):
    with pytest.raises(ValueError):
        safe_arcname(name)


@pytest.fixture()
def media_files(tmp_path):
    video = tmp_path / "katie_de.mp4"
    video.write_bytes(os.urandom(200_000))
    png = tmp_path / "contact.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(5_000))
    return video, png


def _texts():
    entries = _entries()
    return {
        "manifest.json": manifest_json("run-1", entries, {}),
        "report.csv": report_csv(entries),
        "run.log": "12:00 started\n12:01 katie_de done\n12:02 chaplin_fr failed: no face\n" * 50,
    }


def test_zip_round_trip(tmp_path, media_files):
    video, png = media_files
    zip_path = build_zip(
        tmp_path / "run-1.zip", [("videos/katie_de.mp4", video), ("qa/katie_de_contact.png", png)], _texts()
    )
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == ["manifest.json", "report.csv", "run.log", "videos/katie_de.mp4", "qa/katie_de_contact.png"]
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
        assert kinds["videos/katie_de.mp4"] == zipfile.ZIP_STORED
        assert kinds["qa/katie_de_contact.png"] == zipfile.ZIP_STORED
        assert kinds["manifest.json"] == kinds["report.csv"] == kinds["run.log"] == zipfile.ZIP_DEFLATED
        assert zf.getinfo("run.log").compress_size < zf.getinfo("run.log").file_size / 5
        data = json.loads(zf.read("manifest.json").decode("utf-8"))
        rows = list(csv.DictReader(io.StringIO(zf.read("report.csv").decode("utf-8"))))
        assert zf.read("videos/katie_de.mp4") == video.read_bytes()
    assert data["counts"]["failed"] == 1
    assert len(rows) == 3
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and "no face found" in failed[0]["message"]

    out = extract_safely(zip_path, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in out) == sorted(names)
    assert (tmp_path / "out" / "videos" / "katie_de.mp4").read_bytes() == video.read_bytes()


def test_build_zip_unicode_names(tmp_path, media_files):
    video, _ = media_files
    zip_path = build_zip(tmp_path / "u.zip", [("videos/Straße – 1.mp4", video)], {"run.log": "ok"})
    with zipfile.ZipFile(zip_path) as zf:
        assert "videos/Straße – 1.mp4" in zf.namelist()
        assert zf.getinfo("videos/Straße – 1.mp4").flag_bits & 0x800, "names stored as UTF-8"
    [_, path] = sorted(extract_safely(zip_path, tmp_path / "out"))
    assert path.name == "Straße – 1.mp4"


def test_build_zip_refuses_duplicates_and_missing_files(tmp_path, media_files):
    video, png = media_files
    target = tmp_path / "dup.zip"
    with pytest.raises(ValueError, match="twice"):
        build_zip(target, [("videos/a.mp4", video), ("videos/a.mp4", png)], {})
    with pytest.raises(ValueError, match="case"):
        build_zip(target, [("videos/A.mp4", video), ("videos/a.mp4", png)], {})
    with pytest.raises(ValueError, match="twice"):
        build_zip(target, [("run.log", video)], {"run.log": "x"})
    with pytest.raises(ValueError, match="twice"):  # the same after cleaning
        build_zip(target, [("videos\\a.mp4", video), ("videos/a.mp4", png)], {})
    with pytest.raises(ValueError, match="folder"):
        build_zip(target, [("videos", video), ("videos/a.mp4", png)], {})
    with pytest.raises(ValueError):
        build_zip(target, [("../a.mp4", video)], {})
    with pytest.raises(MissingFile):
        build_zip(target, [("videos/gone.mp4", tmp_path / "gone.mp4")], {})
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contact.png", "katie_de.mp4"]


def test_build_zip_replaces_existing_atomically(tmp_path, media_files, monkeypatch):
    video, png = media_files
    target = tmp_path / "run.zip"
    target.write_bytes(b"old zip")
    build_zip(target, [("videos/katie_de.mp4", video)], {"run.log": "first"})
    with zipfile.ZipFile(target) as zf:
        assert zf.read("run.log") == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contact.png", "katie_de.mp4", "run.zip"]

    # A failure half way leaves the previous zip whole and no temp file behind.
    before = target.read_bytes()
    real_write = zipfile.ZipFile.write

    def failing_write(self, filename, *args, **kwargs):
        if str(filename).endswith(".png"):
            raise OSError("disk full")
        return real_write(self, filename, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        build_zip(target, [("videos/katie_de.mp4", video), ("qa/c.png", png)], {"run.log": "second"})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contact.png", "katie_de.mp4", "run.zip"]


def _raw_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


@pytest.mark.parametrize("member", ["../evil", "a/../../evil", "/abs/evil", "C:/evil", "a\\..\\evil"])
def test_extract_safely_refuses_escaping_members(tmp_path, member):
    zip_path = _raw_zip(tmp_path / "bad.zip", [("good.txt", b"fine"), (member, b"gotcha")])
    dest = tmp_path / "dest"
    with pytest.raises(InputError, match="refusing"):
        extract_safely(zip_path, dest)
    assert not (tmp_path / "evil").exists()
    assert list(dest.rglob("*")) == [], "nothing is extracted when any member is bad"


def test_extract_safely_refuses_symlinks_duplicates_bombs_and_non_zips(tmp_path):
    link = zipfile.ZipInfo("link")
    link.external_attr = (0o120777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        extract_safely(tmp_path / "link.zip", tmp_path / "d1")

    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name while writing
        _raw_zip(tmp_path / "dup.zip", [("a.txt", b"1"), ("a.txt", b"2")])
    with pytest.raises(InputError, match="twice"):
        extract_safely(tmp_path / "dup.zip", tmp_path / "d2")

    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 5_000_000)
    assert (tmp_path / "bomb.zip").stat().st_size < 50_000
    with pytest.raises(InputError, match="more than"):
        extract_safely(tmp_path / "bomb.zip", tmp_path / "d3", max_bytes=1_000_000)
    assert len(extract_safely(tmp_path / "bomb.zip", tmp_path / "d4", max_bytes=10_000_000)) == 1

    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(InputError, match="not a zip"):
        extract_safely(tmp_path / "not.zip", tmp_path / "d5")
