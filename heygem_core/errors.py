"""The one exception tree of heygem.

Every error a user can cause derives from ``HeygemError`` and carries a message meant for a
person: it names the file (or row) and the problem. The CLI, the flows and the web app show
``str(err)`` and nothing else; tracebacks are for bugs, not for bad input.

    HeygemError
    ├── InputError            bad input the user can fix (also a ValueError)
    │   ├── MissingFile       (also a FileNotFoundError)
    │   ├── UnsupportedMedia  not decodable / wrong kind of stream / corrupt
    │   ├── NoAudio           no audio stream, zero-length or silent audio
    │   ├── NoFaceFound       no face anywhere in a video
    │   ├── SheetError        a spreadsheet with one or more bad rows (lists every problem)
    │   └── ObjectMissing     a key named by the user is not in the artifact store
    ├── ModelMissing          a configured model pack is absent
    ├── ProcessingError       a tool (ffmpeg, …) failed on input we believed good
    └── StoreError            the artifact store failed
        ├── StoreUnavailable  cannot reach it / it answered 5xx (transient: retried)
        └── IntegrityError    a download did not match its recorded sha256 (retried)
"""
from __future__ import annotations

from pathlib import Path


class HeygemError(Exception):
    """Base of every heygem error; ``str()`` is the user-facing message."""


class InputError(HeygemError, ValueError):
    """Input the user can fix. Never retried."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class MissingFile(InputError, FileNotFoundError):
    pass


class UnsupportedMedia(InputError):
    pass


class NoAudio(InputError):
    pass


class NoFaceFound(InputError):
    pass


class ModelMissing(HeygemError):
    pass


class ProcessingError(HeygemError):
    """A tool failed where the input looked valid (may be transient: retried by flows)."""


class ObjectMissing(InputError, FileNotFoundError):
    pass


class StoreError(HeygemError):
    """The artifact store failed. Messages never contain credentials."""


class StoreUnavailable(StoreError):
    """Transient: the store could not be reached or answered with a server error."""


class IntegrityError(StoreError):
    """A stored object's bytes do not match its recorded checksum."""


class SheetError(InputError):
    """A spreadsheet failed validation; ``problems`` holds every problem found."""

    def __init__(self, sheet: str | Path, problems: list):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found, nothing was run:\n{lines}", sheet)


TRANSIENT_ERRORS = (StoreUnavailable, IntegrityError, ProcessingError)
