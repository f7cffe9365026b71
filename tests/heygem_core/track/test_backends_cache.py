"""Backends load their models once and lend them out, never to two threads at once."""
import threading

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
