"""Spreadsheet intake: every problem of a course sheet is found, with its row and column,
before any work starts.

Sheets are real CSV/XLSX files written into tmp_path. Intake never reads media contents, so
most media here are small placeholder files with the right names; where the real fixtures
matter (the sample sheet, symlinks into the fixture folder) they are used read-only.
"""

from __future__ import annotations

import csv
import os
import string
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heygem_core.errors import InputError, MissingFile, SheetError
from heygem_core.intake import Problem, Row, SourceRef, read_sheet, validate_rows
from tests.paths import FIXTURES, LANGUAGE_AUDIO, REPO, VIDEOS

HEADER = ["lecturer", "video", "language", "audio", "title", "output"]
SAMPLE = REPO / "examples" / "course_sample.csv"

needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    wb.save(path)
    return path


def placeholder(path: Path) -> Path:
    """A small non-empty file standing in for media (intake checks names, not contents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"placeholder media\n")
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A sheet folder with two videos and three audio files."""
    for name in ("media/katie.mp4", "media/chaplin.mov", "media/de.wav", "media/fr.wav", "media/ja.mp3"):
        placeholder(tmp_path / name)
    return tmp_path


def problems_of(err: SheetError) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in err.problems}


def expect_problems(sheet: Path, **kwargs) -> SheetError:
    with pytest.raises(SheetError) as info:
        read_sheet(sheet, **kwargs)
    err = info.value
    assert all(isinstance(p, Problem) for p in err.problems)
    for p in err.problems:  # every problem is in the message shown to the user
        assert str(p) in str(err)
    return err


# -- the sample sheet ---------------------------------------------------------------------------


@needs_fixtures
def test_sample_sheet_is_the_fixture_matrix():
    if not (SAMPLE.parent / ".." / ".." / "shared" / "fixtures").resolve() == FIXTURES:
        pytest.skip("checkout is not beside shared/fixtures")
    rows = read_sheet(SAMPLE, input_roots=[FIXTURES])
    assert len(rows) == 15
    assert [r.number for r in rows] == list(range(2, 17))
    assert {(r.video.value, r.language) for r in rows} == {
        (str(v), lang) for v in VIDEOS.values() for lang in LANGUAGE_AUDIO
    }
    for r in rows:
        assert r.audio == SourceRef("path", str(LANGUAGE_AUDIO[r.language]))
        assert r.output == f"{r.video.name.split('_')[0]}_{r.language}.mp4"
        assert r.transcript is None and r.title
    assert rows[0].video.name == "katie_8s.mp4"
    # Without the fixture folder as a root the paths escape the sheet's folder.
    err = expect_problems(SAMPLE)
    assert len(err.problems) == 30
    assert all("outside the allowed input folders" in p.message for p in err.problems)


# -- good sheets ---------------------------------------------------------------------------------


def test_csv_rows_are_read_trimmed_and_defaulted(course: Path):
    sheet = write_csv(
        course / "course.csv",
        [
            ["  Lecturer ", "VIDEO", "Language", "audio", "", "notes", "Title"],
            [" Ana María ", "media/katie.mp4", " pt_br ", "media/de.wav", "", "ignored", " Intro "],
            [],
            ["", "", "", "", "", "", ""],
            ["Bob", str(course / "media" / "chaplin.mov"), "de", "media/katie.mp4", "", "", ""],
        ],
    )
    rows = read_sheet(sheet)
    assert rows == [
        Row(
            number=2,
            lecturer="Ana María",
            video=SourceRef("path", str(course / "media/katie.mp4")),
            language="pt-BR",
            audio=SourceRef("path", str(course / "media/de.wav")),
            transcript=None,
            title="Intro",
            output="Ana_María_pt-BR.mp4",
        ),
        Row(
            number=5,
            lecturer="Bob",
            video=SourceRef("path", str(course / "media/chaplin.mov")),
            language="de",
            audio=SourceRef("path", str(course / "media/katie.mp4")),
            transcript=None,
            title="",
            output="Bob_de.mp4",
        ),
    ]


def test_xlsx_cells_are_text_and_row_numbers_match_the_sheet(course: Path):
    placeholder(course / "media" / "de.txt")
    sheet = write_xlsx(
        course / "course.xlsx",
        [
            ["Lecturer", None, "video", "language", "audio", "transcript", "output"],
            [None],
            [42, None, "media/katie.mp4", "de", "media/de.wav", "media/de.txt", 7.0],
            [3.5, None, "media/katie.mp4", "fr", "media/fr.wav", None, None],
        ],
    )
    rows = read_sheet(sheet)
    assert [(r.number, r.lecturer, r.output) for r in rows] == [(3, "42", "7.mp4"), (4, "3.5", "3.5_fr.mp4")]
    assert rows[0].transcript == SourceRef("path", str(course / "media" / "de.txt"))
    assert rows[0].transcript.name == "de.txt"


def test_csv_with_bom_and_multiline_cell_counts_records_as_rows(course: Path):
    sheet = course / "course.csv"
    sheet.write_text(
        "\ufefflecturer,video,language,audio,title\n"
        'Ana,media/katie.mp4,de,media/de.wav,"two\nlines"\n'
        "Ana,media/katie.mp4,xx,media/fr.wav,\n",
        encoding="utf-8",
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(3, "language")}  # the record after the two-line cell is row 3


# -- several bad rows at once --------------------------------------------------------------------


def test_three_bad_rows_are_reported_together(course: Path):
    sheet = write_csv(
        course / "course.csv",
        [
            HEADER,
            ["Katie", "media/katie.mp4", "de", "media/de.wav", "", "katie_de.mp4"],
            ["Katie", "media/katie.mp4", "fr", "media/missing.wav", "", ""],
            ["Katie", "media/katie.mp4", "xx", "media/ja.mp3", "", ""],
            ["Chaplin", "media/chaplin.mov", "ja", "media/ja.mp3", "", "KATIE_DE.mp4"],
            ["Chaplin", "media/chaplin.mov", "en-US", "media/fr.wav", "", ""],
        ],
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(3, "audio"), (4, "language"), (5, "output")}
    text = str(err)
    assert text.startswith(f"{sheet}: 3 problems found")
    assert f"row 3, column 'audio': file not found: {course / 'media' / 'missing.wav'}" in text
    assert ("row 4, column 'language': unknown language tag 'xx' (use a BCP-47 tag such as en, de, pt-BR)") in text
    assert "row 5, column 'output': duplicate output 'KATIE_DE.mp4' (also row 2)" in text


def test_missing_columns_are_reported_once_each(course: Path):
    sheet = write_csv(
        course / "course.csv",
        [
            ["lecturer", "video", "title"],
            ["Katie", "media/katie.mp4", "x"],
            ["Katie", "media/nope.mp4", "x"],
        ],
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(None, "language"), (None, "audio"), (3, "video")}
    assert "column 'language': missing from the header" in str(err)


def test_duplicate_header_and_blank_required_cells(course: Path):
    sheet = write_csv(
        course / "course.csv",
        [
            ["lecturer", "video", "language", "audio", "Video"],
            ["", "media/katie.mp4", "de", "", "media/katie.mp4"],
        ],
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(None, "video"), (2, "lecturer"), (2, "audio")}
    assert "appears 2 times in the header (columns B, E)" in str(err)


def test_formula_cells_in_xlsx_are_refused(course: Path):
    sheet = write_xlsx(
        course / "course.xlsx",
        [
            HEADER + [None],
            ["Katie", "media/katie.mp4", "de", "media/de.wav", '=HYPERLINK("http://x")', None, "=1+1"],
            ["Katie", "media/katie.mp4", "fr", "media/fr.wav", None, None],
        ],
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(2, "title"), (2, "G (no header)")}
    assert all(p.message.startswith("formula cells are not accepted") for p in err.problems)


def test_csv_cell_starting_with_equals_is_plain_text(course: Path):
    sheet = write_csv(
        course / "course.csv", [HEADER, ["=cmd|'/c calc'!A1", "media/katie.mp4", "de", "media/de.wav", "+1", "@x"]]
    )
    [row] = read_sheet(sheet)
    assert row.lecturer == "=cmd|'/c calc'!A1" and row.title == "+1" and row.output == "x.mp4"


# -- file cells ------------------------------------------------------------------------------------


def test_paths_escaping_the_input_folders_are_refused(tmp_path: Path):
    sheet_dir = tmp_path / "sheet"
    outside = placeholder(tmp_path / "elsewhere" / "secret.mp4")
    placeholder(sheet_dir / "inside.wav")
    (sheet_dir / "link.mp4").symlink_to(outside)
    sheet = write_csv(
        sheet_dir / "course.csv",
        [
            HEADER,
            ["A", "../elsewhere/secret.mp4", "de", "inside.wav", "", ""],
            ["B", str(outside), "de", "inside.wav", "", ""],
            ["C", "link.mp4", "de", "inside.wav", "", ""],
            ["D", "sub/../../elsewhere/secret.mp4", "de", "inside.wav", "", ""],
        ],
    )
    err = expect_problems(sheet)
    assert problems_of(err) == {(n, "video") for n in (2, 3, 4, 5)}
    for p in err.problems:
        assert f"resolves to {outside}, outside the allowed input folders ({sheet_dir})" in p.message
    # The same sheet is fine once the other folder is allowed.
    rows = read_sheet(sheet, input_roots=[sheet_dir, tmp_path / "elsewhere"])
    assert {r.video.value for r in rows} == {str(outside)}


@needs_fixtures
def test_symlinks_into_allowed_roots_resolve_to_their_target(tmp_path: Path):
    (tmp_path / "v.mp4").symlink_to(VIDEOS["katie_8s"])
    (tmp_path / "a.wav").symlink_to(LANGUAGE_AUDIO["de"])
    sheet = write_csv(tmp_path / "course.csv", [HEADER, ["Katie", "v.mp4", "de", "a.wav", "", ""]])
    assert "outside" in str(expect_problems(sheet))
    [row] = read_sheet(sheet, input_roots=[tmp_path, FIXTURES])
    assert row.video == SourceRef("path", str(VIDEOS["katie_8s"]))
    assert row.audio.name == "de_9s.wav"


def test_home_relative_paths_are_expanded(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    placeholder(tmp_path / "clips" / "v.mp4")
    placeholder(tmp_path / "clips" / "a.wav")
    (tmp_path / "sheets").mkdir()
    sheet = write_csv(
        tmp_path / "sheets" / "course.csv", [HEADER, ["K", "~/clips/v.mp4", "de", "~/clips/a.wav", "", ""]]
    )
    [row] = read_sheet(sheet, input_roots=[Path("~/clips")])
    assert row.video.value == str(tmp_path / "clips" / "v.mp4")


def test_missing_folder_empty_and_wrong_format_files(course: Path):
    (course / "media" / "folder.mp4").mkdir()
    (course / "media" / "empty.wav").touch()
    placeholder(course / "media" / "notes.srt")
    placeholder(course / "media" / "slides.pdf")
    sheet = write_csv(
        course / "course.csv",
        [
            HEADER + ["transcript"],
            ["A", "media/folder.mp4", "de", "media/empty.wav", "", "", "media/notes.srt"],
            ["B", "media/slides.pdf", "de", "media/katie", "", "", ""],
            ["C", "media/gone.mkv", "de", "media/katie.mp4", "", "", "media/gone.txt"],
        ],
    )
    err = expect_problems(sheet)
    by_cell = {(p.row, p.column): p.message for p in err.problems}
    assert set(by_cell) == {
        (2, "video"),
        (2, "audio"),
        (2, "transcript"),
        (3, "video"),
        (3, "audio"),
        (4, "video"),
        (4, "transcript"),
    }
    assert by_cell[2, "video"].startswith("is a folder, not a file")
    assert by_cell[2, "audio"].startswith("file is empty (0 bytes)")
    assert by_cell[2, "transcript"].startswith("unsupported transcript format ('.srt'")
    assert by_cell[3, "video"].startswith("unsupported video format ('.pdf'")
    assert by_cell[3, "audio"].startswith("unsupported audio format (no extension")
    assert by_cell[4, "video"] == f"file not found: {course / 'media' / 'gone.mkv'}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(course: Path):
    locked = placeholder(course / "media" / "locked.wav")
    locked.chmod(0)
    try:
        sheet = write_csv(course / "course.csv", [HEADER, ["A", "media/katie.mp4", "de", "media/locked.wav", "", ""]])
        err = expect_problems(sheet)
        assert "cannot be read" in err.problems[0].message
    finally:
        locked.chmod(0o644)


def test_unicode_spaces_and_shell_metacharacters_in_names(tmp_path: Path):
    names = [
        "Vorlesung über Ökonomie (1).mp4",
        "$(touch pwned); rm -rf `x` & 'q' \"d\" | *.mp4",
        "讲座 第一课.wav",
        "-leading dash.m4a",
        "new\tline?.wav",
    ]
    for n in names:
        placeholder(tmp_path / "in" / n)
    sheet = write_csv(
        tmp_path / "course.csv",
        [
            HEADER,
            ["Zoë O'Brien", f"in/{names[0]}", "de", f"in/{names[2]}", "", ""],
            ["Li Wei", f"in/{names[1]}", "zh-Hans", f"in/{names[3]}", "", "$(reboot); `x`.mp4"],
            ["李 伟", f"in/{names[1]}", "ja", f"in/{names[4]}", "", ""],
        ],
    )
    rows = read_sheet(sheet)
    assert [r.video.name for r in rows] == [names[0], names[1], names[1]]
    assert [r.audio.name for r in rows] == [names[2], names[3], names[4]]
    assert [r.output for r in rows] == ["Zoë_OBrien_de.mp4", "reboot_x.mp4", "李_伟_ja.mp4"]
    assert not (Path.cwd() / "pwned").exists()


# -- object-store references -----------------------------------------------------------------------


def test_store_references(course: Path):
    keys = {"course/katie.mp4", "course/de.wav"}
    calls = []

    def exists(key: str) -> bool:
        calls.append(key)
        return key in keys

    sheet = write_csv(
        course / "course.csv",
        [
            HEADER,
            ["A", "store:course/katie.mp4", "de", "s3://any-bucket/course/de.wav", "", ""],
            ["B", "S3://heygem/course/katie.mp4", "fr", "media/fr.wav", "", ""],
            ["C", "store:course/missing.mp4", "ja", "store:course/de.wav", "", ""],
            ["D", "store:../etc/x.mp4", "de", "store:/abs/de.wav", "", "d.mp4"],
            ["E", "store:course/notes.pdf", "de", "s3://bucket", "", "e.mp4"],
        ],
    )
    err = expect_problems(sheet, store_exists=exists)
    by_cell = {(p.row, p.column): p.message for p in err.problems}
    assert set(by_cell) == {(4, "video"), (5, "video"), (5, "audio"), (6, "video"), (6, "audio")}
    assert by_cell[4, "video"] == "not found in the artifact store: course/missing.mp4"
    assert "not a plain key" in by_cell[5, "video"] and "not a plain key" in by_cell[5, "audio"]
    assert by_cell[6, "video"].startswith("unsupported video format")
    assert "has no key" in by_cell[6, "audio"]
    assert sorted(calls) == ["course/de.wav", "course/katie.mp4", "course/missing.mp4"]  # once per key

    good = write_csv(
        course / "good.csv", [HEADER, ["A", "store:course/katie.mp4", "de", "s3://b/course/de.wav", "", ""]]
    )
    [row] = read_sheet(good, store_exists=keys.__contains__)
    assert row.video == SourceRef("store", "course/katie.mp4") and row.video.name == "katie.mp4"
    assert row.audio == SourceRef("store", "course/de.wav")

    err = expect_problems(good)  # no store configured
    assert {p.message.split(": ", 1)[1] for p in err.problems} == {"store references need a configured artifact store"}


# -- languages and outputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, tag",
    [
        ("de", "de"),
        ("de_DE", "de-DE"),
        ("EN-us", "en-US"),
        ("pt-br", "pt-BR"),
        ("zh-hans", "zh-Hans"),
        ("iw", "he"),
        ("eng", "en"),
        ("es-419", "es-419"),
        ("yue", "yue"),
    ],
)
def test_language_tags_are_normalised(course: Path, given: str, tag: str):
    sheet = write_csv(course / "c.csv", [HEADER, ["A", "media/katie.mp4", given, "media/de.wav", "", ""]])
    assert read_sheet(sheet)[0].language == tag


@pytest.mark.parametrize(
    "given", ["xx", "english", "English", "und", "mul", "zxx", "qaa", "x-klingon", "de-", "d", "de DE", "日本語", "123"]
)
def test_unknown_language_tags(course: Path, given: str):
    sheet = write_csv(course / "c.csv", [HEADER, ["A", "media/katie.mp4", given, "media/de.wav", "", ""]])
    err = expect_problems(sheet)
    [p] = err.problems
    assert (p.row, p.column) == (2, "language")
    assert p.message == f"unknown language tag {given!r} (use a BCP-47 tag such as en, de, pt-BR)"


@pytest.mark.parametrize(
    "given, output",
    [
        ("", "A_B_de.mp4"),
        ("Intro", "Intro.mp4"),
        ("intro.MP4", "intro.mp4"),
        ("week 1 intro.mp4", "week_1_intro.mp4"),
        (".hidden.mp4", "hidden.mp4"),
        ("Dr. Who", "Dr._Who.mp4"),
        ("Ünïcödé 講義", "Ünïcödé_講義.mp4"),
    ],
)
def test_output_names(course: Path, given: str, output: str):
    sheet = write_csv(course / "c.csv", [HEADER, ["A  B", "media/katie.mp4", "de", "media/de.wav", "", given]])
    assert read_sheet(sheet)[0].output == output


@pytest.mark.parametrize(
    "given, message",
    [
        ("../x.mp4", "not a plain file name"),
        ("a/b.mp4", "not a plain file name"),
        ("a\\b.mp4", "not a plain file name"),
        ("..", "not a plain file name"),
        ("talk.mov", "must be an .mp4 file"),
        ("talk.MKV", "must be an .mp4 file"),
        ("???", "no usable characters"),
        ("x" * 300, "too long"),
    ],
)
def test_bad_output_names(course: Path, given: str, message: str):
    sheet = write_csv(course / "c.csv", [HEADER, ["A", "media/katie.mp4", "de", "media/de.wav", "", given]])
    [p] = expect_problems(sheet).problems
    assert (p.row, p.column) == (2, "output") and message in p.message


# -- the sheet itself --------------------------------------------------------------------------------


def test_row_limit(course: Path):
    rows = [HEADER] + [["A", "media/missing.mp4", "xx", "x.wav", "", ""]] * 5000
    err = expect_problems(write_csv(course / "big.csv", rows))
    assert [str(p) for p in err.problems] == ["sheet has 5000 rows; the limit is 2000 (HEYGEM_MAX_SHEET_ROWS)"]
    # At the limit it is fine.
    ok = write_csv(
        course / "ok.csv", [HEADER] + [["A", "media/katie.mp4", "de", "media/de.wav", "", f"{i}"] for i in range(3)]
    )
    assert len(read_sheet(ok, max_rows=3)) == 3
    with pytest.raises(SheetError, match="sheet has 3 rows; the limit is 2"):
        read_sheet(ok, max_rows=2)


def test_sheet_file_errors(tmp_path: Path):
    with pytest.raises(MissingFile, match="sheet not found"):
        read_sheet(tmp_path / "nope.csv")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(InputError, match=r"\.xls workbooks are not supported; save the sheet as \.xlsx"):
        read_sheet(tmp_path / "old.xls")
    (tmp_path / "sheet.ods").write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported sheet type '.ods'"):
        read_sheet(tmp_path / "sheet.ods")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        read_sheet(tmp_path / "dir.csv")
    (tmp_path / "latin1.csv").write_bytes("lecturer,video\nJosé,a.mp4\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_sheet(tmp_path / "latin1.csv")


@pytest.mark.parametrize("content", [os.urandom(2048), b"PK\x03\x04" + os.urandom(500), b"not a zip"])
def test_corrupt_xlsx_is_an_input_error_naming_the_file(tmp_path: Path, content: bytes):
    bad = tmp_path / "course.xlsx"
    bad.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_sheet(bad)
    assert type(info.value) is InputError
    text = str(info.value)
    assert text.startswith(f"{bad}: cannot open the workbook: it is not a valid .xlsx file")
    assert "Traceback" not in text and "\n" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_xlsx_with_corrupt_or_foreign_parts(tmp_path: Path):
    good = write_xlsx(tmp_path / "good.xlsx", [HEADER, ["A"] * 6])
    cut = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(cut, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # the worksheet XML ends mid-tag
            zout.writestr(item, data)
    with pytest.raises(InputError, match=r"cut\.xlsx: cannot read the sheet: the file looks corrupt"):
        read_sheet(cut)
    foreign = tmp_path / "document.xlsx"  # a zip, but a Word document's parts
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(InputError, match="not a valid .xlsx file"):
        read_sheet(foreign)


def test_symlink_loop_is_a_row_problem(course: Path):
    (course / "a.mp4").symlink_to(course / "b.mp4")
    (course / "b.mp4").symlink_to(course / "a.mp4")
    sheet = write_csv(course / "c.csv", [HEADER, ["A", "a.mp4", "de", "media/de.wav", "", ""]])
    [p] = expect_problems(sheet).problems
    assert (p.row, p.column) == (2, "video") and "symlink loop" in p.message.lower()


def test_empty_sheets(tmp_path: Path):
    (tmp_path / "zero.csv").touch()
    for sheet in (
        tmp_path / "zero.csv",
        write_csv(tmp_path / "blank.csv", [[], ["", " "]]),
        write_xlsx(tmp_path / "blank.xlsx", [[None]]),
    ):
        assert "empty" in str(expect_problems(sheet))
    err = expect_problems(write_csv(tmp_path / "header.csv", [HEADER]))
    assert [str(p) for p in err.problems] == ["the sheet has a header but no data rows"]


def test_validate_rows_works_without_a_sheet(course: Path):
    rows, problems = validate_rows(
        [(2, {"lecturer": "A", "video": "media/katie.mp4", "language": "fr", "audio": "media/fr.wav"})], base_dir=course
    )
    assert problems == [] and rows[0].output == "A_fr.mp4"


# -- property: arbitrary cell text never escapes as anything but a user error -------------------------

_CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "media/katie.mp4",
            "media/de.wav",
            "../x.mp4",
            "/etc/passwd",
            "~",
            "~nobody9/x.mp4",
            "store:a/b.mp4",
            "s3://",
            "store:",
            "de",
            "xx",
            "de_DE",
            "a.mp4",
            "..",
            "=1+1",
            " ",
        ]
    ),
)
# Rows of arbitrary cells, and rows that are valid apart from free text, so that both the
# problem paths and the success path (output names from arbitrary lecturers) are exercised.
_LIKELY_ROW = st.tuples(
    st.text(max_size=30),
    st.sampled_from(["media/katie.mp4", "store:a/b.mp4", " media/katie.mp4 "]),
    st.sampled_from(["de", "pt_br", "zh-hans", "xx"]),
    st.sampled_from(["media/de.wav", "media/katie.mp4"]),
    st.text(max_size=30),
    st.one_of(st.just(""), st.text(max_size=30)),
    st.just(""),
).map(list)
_ROWS = st.lists(st.one_of(st.lists(_CELL, min_size=7, max_size=7), _LIKELY_ROW), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def prop_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("intake_prop")
    for name in ("media/katie.mp4", "media/de.wav"):
        placeholder(root / name)
    return root


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS, store=st.booleans())
def test_arbitrary_cells_give_user_errors_only(prop_dir: Path, kind, rows, store):
    header = HEADER + ["transcript"]
    sheet = prop_dir / f"prop.{kind}"
    if kind == "csv":
        write_csv(sheet, [header] + rows)
    else:  # characters XML cannot hold cannot be in a real workbook either
        write_xlsx(sheet, [header] + [[ILLEGAL_CHARACTERS_RE.sub("", c) or None for c in r] for r in rows])
    try:
        out = read_sheet(sheet, store_exists={"a/b.mp4"}.__contains__ if store else None)
    except SheetError as err:
        assert err.problems
        for p in err.problems:
            assert p.row is None or 2 <= p.row <= len(rows) + 1
            assert p.column is None or p.column in header or p.column.endswith("(no header)")
        return
    except InputError:
        return
    safe = set(string.ascii_letters + string.digits + "._-")
    for row in out:
        assert 2 <= row.number <= len(rows) + 1
        assert row.output.endswith(".mp4") and not row.output.startswith((".", "-"))
        assert all(c in safe or c.isalpha() or not c.isascii() for c in row.output)
        assert "/" not in row.output and "\\" not in row.output


def test_batch_lecturers_with_the_same_file_name_are_told_apart():
    from heygem_core.intake import lecturer_names

    assert lecturer_names(["/c/week1/lecture.mp4", "/c/week2/lecture.mp4", "/c/intro.mp4"]) == [
        "week1-lecture",
        "week2-lecture",
        "intro",
    ]
    # the same folder name, or store keys (an upload's folder is a hash): numbered
    assert lecturer_names(["/a/x/lecture.mp4", "/b/x/lecture.mov"]) == ["lecture", "lecture-2"]
    assert lecturer_names(["store:uploads/d/aa/talk.mp4", "store:uploads/d/bb/talk.mp4"]) == ["talk", "talk-2"]
