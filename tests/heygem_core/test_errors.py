"""The error tree's fields: messages are built from them, re-told about another path without
cutting text apart, survive Prefect's pickling, and OS causes read in plain words."""

from __future__ import annotations

import errno
import pickle

import pytest

from heygem_core import errors
from heygem_core.errors import (
    InputError,
    MissingFile,
    NoFaceFound,
    ObjectMissing,
    ProcessingError,
    SheetError,
    StoreUnavailable,
    os_cause,
    os_reason,
)


def test_message_is_built_from_fields():
    err = NoFaceFound("no face in any frame", "/tmp/copy.mp4", hint="film the speaker facing the camera")
    assert (err.path.name, err.reason) == ("copy.mp4", "no face in any frame")
    assert str(err) == "/tmp/copy.mp4: no face in any frame; film the speaker facing the camera"
    assert err.headline == "/tmp/copy.mp4: no face in any frame"


def test_about_keeps_type_reason_and_hint():
    err = MissingFile("file not found", "/var/cache/heygem/sources/ab12.mp4", hint="upload it again")
    told = err.about("lecture.mp4")
    assert type(told) is MissingFile and isinstance(told, FileNotFoundError)
    assert str(told) == "lecture.mp4: file not found; upload it again"
    assert str(err).startswith("/var/cache")  # the original is untouched


def test_processing_error_keeps_cause_and_detail_apart():
    detail = "[out#0/mp4] Error writing trailer: No space left on device"
    err = ProcessingError("ffmpeg failed encoding", "out.mp4", cause=os_cause(detail), detail=detail)
    assert err.cause == "no space left on device (disk full)"
    assert err.headline == "out.mp4: ffmpeg failed encoding: no space left on device (disk full)"
    assert str(err).endswith(detail) and "\n" not in err.headline


ALL = [
    InputError("bad", "a.mp4"),
    MissingFile("gone", "b.wav"),
    ObjectMissing("no such key", "runs/x"),
    SheetError("course.csv", ["row 2: video: file not found", "row 3: language 'xx' unknown"]),
    ProcessingError("ffmpeg failed", "c.mp4", cause="disk quota exceeded", detail="tail"),
    StoreUnavailable("the store does not answer"),
    errors.HeygemError("plain"),
]


@pytest.mark.parametrize("err", ALL, ids=lambda e: type(e).__name__)
def test_every_error_survives_pickling(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.path == err.path
    assert getattr(back, "problems", None) == getattr(err, "problems", None)


def test_os_reason_in_words():
    assert os_reason(OSError(errno.ENOSPC, "No space left on device")) == "no space left on device (disk full)"
    assert os_reason(PermissionError(errno.EACCES, "Permission denied", "/x")) == "permission denied"
    assert os_reason(OSError(errno.ELOOP, "Too many levels of symbolic links")) == "too many levels of symbolic links"
    assert os_reason(RuntimeError("Symlink loop from '/a'")) == "symlink loop from '/a'"
    assert os_reason(KeyError("k")) == "KeyError: 'k'"


def test_os_cause_only_for_known_causes():
    assert os_cause("av_interleaved_write_frame(): File too large") == "file too large (file size limit)"
    assert os_cause("Invalid data found when processing input") is None
