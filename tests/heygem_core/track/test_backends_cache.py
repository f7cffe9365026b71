"""Backends load their models once per thread."""
import threading

from heygem_core.track.backends import DlibBackend, get_backend


def test_backend_is_loaded_once_per_thread():
    first = get_backend("dlib")
    assert isinstance(first, DlibBackend)
    assert get_backend("dlib") is first
    other = []
    worker = threading.Thread(target=lambda: other.append(get_backend("dlib")))
    worker.start()
    worker.join()
    assert other[0] is not first and isinstance(other[0], DlibBackend)
