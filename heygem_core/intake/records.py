"""What a course sheet becomes: its columns, the file kinds each accepts, and the rows,
sources and problems that checking it yields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REQUIRED_COLUMNS = ("lecturer", "video", "language", "audio")
OPTIONAL_COLUMNS = ("transcript", "title", "output")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}) | VIDEO_EXTENSIONS
TRANSCRIPT_EXTENSIONS = frozenset({".txt"})
_FILE_COLUMNS = {"video": VIDEO_EXTENSIONS, "audio": AUDIO_EXTENSIONS, "transcript": TRANSCRIPT_EXTENSIONS}

SHEET_EXTENSIONS = (".csv", ".xlsx")


@dataclass(frozen=True)
class SourceRef:
    """A file named by the sheet: a local path (``kind="path"``, ``value`` absolute and
    resolved) or a key in the artifact store (``kind="store"``)."""

    kind: str  # "path" | "store"
    value: str

    @property
    def name(self) -> str:
        if self.kind == "store":
            return PurePosixPath(self.value).name
        return Path(self.value).name

    def __str__(self) -> str:
        return f"store:{self.value}" if self.kind == "store" else self.value


@dataclass(frozen=True)
class Row:
    number: int  # the sheet's row number (header = 1)
    lecturer: str
    video: SourceRef
    language: str  # normalised BCP-47 tag
    audio: SourceRef
    transcript: SourceRef | None
    title: str
    output: str  # safe bare file name ending in .mp4


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Skipped:
    """A row left out of a run for its problems (``--skip-invalid``, or a batch's bad video)."""

    row: int
    lecturer: str
    language: str
    output: str
    message: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)
