"""One zip per run: the output videos, their QA pictures, a manifest, a report and the log.

Layout inside the zip (the caller chooses the names; these are the conventions)::

    manifest.json          run id, creation time, counts, one entry per sheet row
    report.csv             one line per row, for a spreadsheet
    run.log                what happened, in words
    videos/<output>.mp4    finished outputs
    qa/<output>_contact.png, qa/<output>_opening.png

Names inside the zip are made safe with ``safe_arcname`` (no absolute paths, no ``..``, no
backslashes or drive letters), and ``extract_safely`` refuses any member that would land
outside its destination, so a zip from elsewhere cannot write around the server.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import InputError, MissingFile
from .media import atomic_output

# --------------------------------------------------------------------------- entries


@dataclass
class OutputEntry:
    row: int | None  # sheet row (1-based as a person counts), None for ad-hoc runs
    lecturer: str
    language: str
    title: str
    output_name: str  # file name inside the zip, e.g. "katie_de.mp4"
    output_key: str | None  # key in the artifact store (None when failed)
    sha256: str | None
    duration: float | None
    engine: str | None
    status: str  # "done" | "failed"
    message: str = ""  # failure message (plain words) or notes
    qa: dict | None = None  # QAFigures.as_dict()
    pictures: dict[str, str] = field(default_factory=dict)  # {"contact_sheet": key, "opening_plot": key}

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")


STATUSES = ("done", "failed")
_RESERVED_KEYS = frozenset({"run_id", "created", "counts", "entries"})


def manifest(run_id: str, entries: list[OutputEntry], extra: dict | None = None) -> dict:
    """The run as JSON-ready data: run id, UTC creation time, counts, then every entry.
    ``extra`` (settings, sheet name, …) is merged in at the top level."""
    extra = dict(extra or {})
    clash = _RESERVED_KEYS & extra.keys()
    if clash:
        raise ValueError(f"manifest extra must not set {', '.join(sorted(clash))}")
    flagged = sum(1 for e in entries if e.qa and e.qa.get("flagged"))
    data = {
        "run_id": str(run_id),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "counts": {
            "total": len(entries),
            "done": sum(e.status == "done" for e in entries),
            "failed": sum(e.status == "failed" for e in entries),
            "flagged": flagged,
        },
        **extra,
        "entries": [dataclasses.asdict(e) for e in entries],
    }
    return _jsonable(data)


def manifest_json(run_id: str, entries: list[OutputEntry], extra: dict | None = None) -> str:
    """``manifest`` as indented UTF-8 JSON text (names stay readable, not \\u-escaped)."""
    return json.dumps(manifest(run_id, entries, extra), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _jsonable(value):
    """Paths, tuples, sets, numpy scalars and non-finite floats made plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (Path, PurePosixPath)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    if hasattr(value, "tolist"):  # numpy array
        return _jsonable(value.tolist())
    return str(value)


# --------------------------------------------------------------------------- report.csv

CSV_COLUMNS = (
    "row",
    "lecturer",
    "language",
    "title",
    "output",
    "status",
    "message",
    "sync",
    "coverage",
    "flagged",
    "sha256",
    "duration",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text) -> str:
    """One physical line, and never a spreadsheet formula (a title like '=HYPERLINK(…)')."""
    s = " ".join(str(text or "").split())  # newlines and runs of spaces → one space
    return "'" + s if s.startswith(_FORMULA_START) else s


def _num(x, fmt: str) -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and math.isfinite(x) else ""


def report_csv(entries: list[OutputEntry]) -> str:
    """CSV text: a header and exactly one line per entry (multi-line messages are joined)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        qa = e.qa or {}
        flagged = qa.get("flagged")
        writer.writerow(
            [
                "" if e.row is None else e.row,
                _cell(e.lecturer),
                _cell(e.language),
                _cell(e.title),
                _cell(e.output_name),
                e.status,
                _cell(e.message),
                _num(qa.get("sync"), ".3f"),
                _num(qa.get("coverage"), ".3f"),
                "" if flagged is None else ("yes" if flagged else "no"),
                e.sha256 or "",
                _num(e.duration, ".2f"),
            ]
        )
    return buf.getvalue()


# --------------------------------------------------------------------------- names in a zip

_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_BAD = re.compile(r'[<>:"|?*]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
_MAX_COMPONENT_BYTES = 255


def safe_arcname(name: str) -> str:
    """A member name that extracts inside its folder on any system.

    Cleans what has one obvious meaning: backslashes become '/', a drive letter and leading
    slashes are dropped, '.' and empty parts removed, characters Windows forbids (and control
    characters) become '_', trailing dots/spaces are trimmed, Unicode is NFC. Keeps spaces and
    non-ASCII letters. Raises ValueError for '..' parts, and for names left empty."""
    if not isinstance(name, str):
        raise ValueError(f"a name in a zip must be text, got {type(name).__name__}")
    original = name
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    while _DRIVE.match(name):
        name = name[2:]
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part.strip() == "..":
            raise ValueError(f"unsafe name in zip {original!r}: it climbs out of its folder ('..')")
        part = _CONTROL.sub("_", _WINDOWS_BAD.sub("_", part)).rstrip(" .")
        if not part:
            continue
        if part.split(".")[0].upper() in _WINDOWS_DEVICES:
            part = "_" + part
        if len(part.encode("utf-8")) > _MAX_COMPONENT_BYTES:
            raise ValueError(f"unsafe name in zip {original!r}: a part is longer than {_MAX_COMPONENT_BYTES} bytes")
        parts.append(part)
    if not parts:
        raise ValueError(f"unsafe name in zip {original!r}: nothing usable is left of it")
    return "/".join(parts)


# --------------------------------------------------------------------------- writing

# Already compressed: stored as is (deflating them costs time and saves nothing).
STORED_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".m4a",
        ".mp3",
        ".aac",
        ".ogg",
        ".opus",
        ".flac",
        ".png",
        ".jpg",
        ".jpeg",
        ".webp",
        ".gif",
        ".zip",
        ".gz",
        ".xz",
        ".zst",
        ".7z",
        ".parquet",
    }
)


def _compression(arcname: str) -> int:
    return zipfile.ZIP_STORED if PurePosixPath(arcname).suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED


def _check_names(names: list[str]) -> None:
    """No two members the same — also not by case (macOS/Windows) — and no member that is
    both a file and another member's folder."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            same = "twice" if seen[key] == name else f"twice (as {seen[key]!r}, differing only in case)"
            raise ValueError(f"{name!r} would be in the zip {same}")
        seen[key] = name
    for name in names:
        parts = name.casefold().split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in seen:
                raise ValueError(f"{seen[folder]!r} is a file in the zip but also the folder of {name!r}")


def build_zip(zip_path: str | Path, files: list[tuple[str, Path]], texts: dict[str, str]) -> Path:
    """Write ``zip_path`` atomically: ``texts`` (name → UTF-8 text, deflated) first, then
    ``files`` (arcname, local path), media stored as is. Names go through ``safe_arcname``;
    duplicates raise ValueError and missing files MissingFile, before anything is written.
    Until the final rename ``zip_path`` keeps its old content (or does not exist)."""
    zip_path = Path(zip_path)
    text_items = [(safe_arcname(name), text) for name, text in texts.items()]
    file_items = [(safe_arcname(name), Path(path)) for name, path in files]
    _check_names([n for n, _ in text_items] + [n for n, _ in file_items])
    for name, path in file_items:
        if not path.is_file():
            raise MissingFile(f"cannot be packed as {name!r}: not a file", path)
    now = dt.datetime.now().timetuple()[:6]
    with atomic_output(zip_path) as tmp:
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", allowZip64=True, strict_timestamps=False) as zf:
                for name, text in text_items:
                    info = zipfile.ZipInfo(name, date_time=now)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = (stat.S_IFREG | 0o644) << 16
                    zf.writestr(info, text.encode("utf-8"))
                for name, path in file_items:
                    zf.write(path, name, compress_type=_compression(name))
            fh.flush()
            os.fsync(fh.fileno())
    return zip_path


# --------------------------------------------------------------------------- reading


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in name:
        return "has a NUL character in its name"
    if "\\" in name:
        return "uses backslashes (Windows paths)"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    if any(part == ".." for part in name.split("/")):
        return "climbs out of the folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def extract_safely(zip_path: str | Path, dest: str | Path, max_bytes: int | None = None) -> list[Path]:
    """Extract every file of ``zip_path`` under ``dest``; returns the files written.

    The whole zip is checked first and nothing is written if any member is absolute, climbs
    out with '..', uses backslashes or a drive letter, is a symbolic link, appears twice, or
    resolves outside ``dest``; ``max_bytes`` bounds the total unpacked size (zip bombs).
    Problems raise InputError (a ValueError) naming the member."""
    zip_path, dest = Path(zip_path), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise InputError(f"not a zip file ({err})", zip_path) from err
    with zf:
        members = zf.infolist()
        seen: set[str] = set()
        targets = []
        for info in members:
            problem = _member_problem(info)
            target = (root / info.filename).resolve()
            if problem is None and target != root and root not in target.parents:
                problem = "would be written outside the destination"
            if problem is None and info.filename.rstrip("/") in seen:
                problem = "appears twice"
            if problem:
                raise InputError(f"refusing to extract: member {info.filename!r} {problem}", zip_path)
            seen.add(info.filename.rstrip("/"))
            targets.append((info, target))
        if max_bytes is not None and sum(i.file_size for i in members) > max_bytes:
            raise InputError(f"refusing to extract: it unpacks to more than {max_bytes} bytes", zip_path)
        written: list[Path] = []
        budget = max_bytes
        for info, target in targets:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                budget = _copy(src, out, budget, zip_path)
            written.append(target)
    return written


def _copy(src, out, budget: int | None, zip_path: Path) -> int | None:
    """Copy in chunks; a member that unpacks to more than its header said cannot exceed the
    budget either."""
    if budget is None:
        shutil.copyfileobj(src, out, 1 << 20)
        return None
    while chunk := src.read(1 << 20):
        budget -= len(chunk)
        if budget < 0:
            raise InputError("refusing to extract: it unpacks to more than its stated size", zip_path)
        out.write(chunk)
    return budget
