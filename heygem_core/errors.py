"""The one exception tree of heygem.

Every error a user can cause derives from ``HeygemError`` and carries a message meant for a
person: it names the file (or row) and the problem. The CLI, the flows and the web app show
``str(err)`` and nothing else; tracebacks are for bugs, not for bad input.

The parts of the message are kept as fields, so a boundary that knows better can re-word an
error without cutting its text apart: ``path`` (the file it is about), ``reason`` (what is
wrong), ``hint`` (what to do), and for a tool's failure ``cause`` (an OS cause in plain words,
e.g. a full disk) and ``detail`` (the tool's own last lines, for -v and logs).

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

import errno
from pathlib import Path


class HeygemError(Exception):
    """Base of every heygem error; ``str()`` is the user-facing message."""

    def __init__(self, reason: str = "", path: str | Path | None = None, hint: str | None = None):
        self.reason = reason
        self.path = Path(path) if path is not None else None
        self.hint = hint
        super().__init__(self._text())

    @property
    def headline(self) -> str:
        """The path and the reason on one line, without hint or detail."""
        return f"{self.path}: {self.reason}" if self.path is not None else self.reason

    def about(self, path: str | Path | None) -> "HeygemError":
        """The same error (type, reason, hint, cause) about another path: a local copy's
        error re-told about the user's own file."""
        clone = _blank(type(self))
        clone.__dict__.update(self.__dict__)
        clone.path = Path(path) if path is not None else None
        clone.args = (clone._text(),)
        return clone

    def _text(self) -> str:
        return self.headline + (f"; {self.hint}" if self.hint else "")

    def __reduce__(self):
        # Prefect pickles a failed task's exception; rebuilding from the fields (not by calling
        # __init__ with the message) keeps every subclass's own signature out of it.
        return _rebuild, (type(self), dict(self.__dict__), self.args)


def _blank(cls) -> HeygemError:
    # an error that is also an OSError (MissingFile) must be made by OSError's constructor
    return OSError.__new__(cls) if issubclass(cls, OSError) else cls.__new__(cls)


def _rebuild(cls, state: dict, args: tuple) -> HeygemError:
    err = _blank(cls)
    err.__dict__.update(state)
    err.args = args
    return err


class InputError(HeygemError, ValueError):
    """Input the user can fix. Never retried."""


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
    """A tool failed where the input looked valid (may be transient: retried by flows).

    ``cause`` is what the OS told the tool, in plain words (see ``os_cause``), when it says;
    ``detail`` the tool's last lines, which ``str()`` shows after the headline."""

    def __init__(
        self,
        reason: str = "",
        path: str | Path | None = None,
        hint: str | None = None,
        cause: str | None = None,
        detail: str = "",
    ):
        self.cause = cause
        self.detail = detail.strip()
        super().__init__(reason, path, hint)

    @property
    def headline(self) -> str:
        line = super().headline
        return f"{line}: {self.cause}" if self.cause else line

    def _text(self) -> str:
        return super()._text() + (f":\n{self.detail}" if self.detail else "")


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


# --------------------------------------------------------------------------- OS errors in words

# What the OS says (errno, or the strerror() text a tool such as ffmpeg prints), in a user's words.
_PLAIN = {
    errno.ENOSPC: ("No space left on device", "no space left on device (disk full)"),
    errno.EDQUOT: ("Disk quota exceeded", "disk quota exceeded"),
    errno.EFBIG: ("File too large", "file too large (file size limit)"),
    errno.EACCES: ("Permission denied", "permission denied"),
    errno.EROFS: ("Read-only file system", "read-only file system"),
}
_SIGNAL_WORDS = (("SIGXFSZ", "file size limit exceeded"),)


def os_reason(err: BaseException) -> str:
    """An OS error (or any other) as a short reason for a message: its cause in words where
    known, its strerror otherwise, never a traceback."""
    if isinstance(err, OSError):
        known = _PLAIN.get(err.errno) if err.errno is not None else None
        if known:
            return known[1]
        if err.strerror:
            return err.strerror.lower()
    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
    if isinstance(err, (OSError, RuntimeError, ValueError)) and text:
        return text[:1].lower() + text[1:]  # "Symlink loop from ...", "embedded null byte"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def os_cause(tool_output: str) -> str | None:
    """The OS cause a tool printed (ffmpeg prints strerror()), in words; None when it names none.
    Read where the tool failed, once, so that no boundary has to read its output again."""
    for marker, words in [*_PLAIN.values(), *_SIGNAL_WORDS]:
        if marker in tool_output:
            return words
    return None
