"""Backends load their models once and lend them out, never to two threads at once."""

import threading

import pytest

from heygem_core.track.backends import DlibBackend, leased_backend


def test_a_returned_backend_is_lent_again_in_another_thread():
    with leased_backend("dlib") as first:
        assert isinstance(first, DlibBackend)
    again = []

    def borrow():
        with leased_backend("dlib") as backend:
            again.append(backend)

    worker = threading.Thread(target=borrow)
    worker.start()
    worker.join()
    assert again == [first], "a second thread loaded the models again"


def test_concurrent_callers_get_their_own_instances():
    with leased_backend("dlib") as outer:
        with leased_backend("dlib") as inner:
            assert inner is not outer and isinstance(inner, DlibBackend)
    # Both are kept for later callers.
    with leased_backend("dlib") as a, leased_backend("dlib") as b:
        assert {id(a), id(b)} == {id(outer), id(inner)}


@pytest.mark.slow
def test_the_saved_face_detector_is_dlibs_own(tmp_path, fixtures_dir):
    import dlib

    from heygem_core import media
    from heygem_core.config import Settings

    katie = media.probe_video(fixtures_dir / "video" / "katie_8s.mp4")
    frames = list(media.read_gray_frames(katie, 0, 60))[::12]
    builtin = dlib.get_frontal_face_detector()
    settings = Settings(cache_dir=tmp_path)
    first = DlibBackend(settings)  # builds the detector, and saves it
    [saved] = (tmp_path / "models").glob("*frontal_face_detector.svm")
    second = DlibBackend(settings)  # loads the saved one
    for frame in frames:
        want = builtin.run(frame, 0, 0.0)
        for backend in (first, second):
            got = backend._detector.run(frame, 0, 0.0)
            assert [(r.left(), r.top(), r.right(), r.bottom()) for r in got[0]] == [
                (r.left(), r.top(), r.right(), r.bottom()) for r in want[0]
            ]
            assert list(got[1]) == list(want[1]) and len(want[0]) == 1

    saved.write_bytes(b"not a detector")
    third = DlibBackend(settings)  # a damaged file is rebuilt, not fatal
    assert len(third.detect(frames[0])) == 1
    assert saved.stat().st_size > 1000
