"""A real S3 endpoint for tests: moto's server in a subprocess, and a proxy to cut it off.

``S3Server`` runs ``python -m moto.server`` on 127.0.0.1 (a free port) and speaks the real S3
wire protocol; its state lives in that process's memory.

``OutageProxy`` is a TCP proxy on 127.0.0.1 in front of it. ``down()`` stops listening and
resets every open connection, so clients see "connection refused" (a store outage) while
moto keeps its data; ``up()`` listens again on the same port. Point a store at
``proxy.endpoint`` and toggle it::

    with S3Server() as server, OutageProxy(server.endpoint) as proxy:
        store = S3Store(proxy.endpoint, "bucket", "testing", "testing-secret")
        proxy.down()   # store calls now raise StoreUnavailable
        proxy.up()     # and work again, with everything stored before
        with proxy.outage():
            ...        # down inside the block, up again after it
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Iterator

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class S3Server:
    """moto's standalone S3 server in a subprocess on 127.0.0.1; ``stop()`` / ``start()``.

    Restarting keeps the port but not the data (moto keeps it in memory); use
    ``OutageProxy`` to simulate an outage without losing data.
    """

    def __init__(self, port: int | None = None, startup_timeout: float = 30.0):
        self.host = HOST
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "S3Server":
        if self.running:
            return self
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing-secret",
            AWS_DEFAULT_REGION="us-east-1",
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RuntimeError(f"moto server exited at start:\n{err[-2000:]}")
            if self._answers():
                # Nothing reads stderr from here on: let it go nowhere rather than fill a pipe.
                self._proc.stderr.close()
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {self.startup_timeout} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1) as r:
                return r.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr and not proc.stderr.closed:
            proc.stderr.close()

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Link:
    """One proxied connection: a client socket and its upstream socket, pumped by one thread."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client = client
        self.upstream = upstream
        self.killed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="outage-proxy-link")

    def _send(self, sock: socket.socket, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self.killed.is_set():
                return False
            _, writable, _ = select.select([], [sock], [], 0.1)
            if not writable:
                continue
            sent = sock.send(view)
            view = view[sent:]
        return True

    def _run(self) -> None:
        peer = {self.client: self.upstream, self.upstream: self.client}
        try:
            while not self.killed.is_set():
                readable, _, _ = select.select(list(peer), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return  # one side closed: close both
                    if not self._send(peer[sock], data):
                        return
        except OSError:
            return
        finally:
            if self.killed.is_set():
                # An outage: reset (RST), do not close politely.
                for sock in (self.client, self.upstream):
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for sock in (self.client, self.upstream):
                with contextlib.suppress(OSError):
                    sock.close()


class OutageProxy:
    """A threaded TCP proxy on 127.0.0.1 in front of ``upstream`` ("host:port").

    ``down()`` closes the listening socket and resets every active connection (clients get
    "connection refused" / "connection reset"); ``up()`` listens again on the same port.
    Data behind the proxy is untouched. Both are idempotent and return when done.
    """

    def __init__(self, upstream: str, port: int | None = None):
        host, _, port_text = upstream.rpartition(":")
        self.upstream = (host, int(port_text))
        self.host = HOST
        self.port = port or free_port()
        self._state = threading.RLock()  # serialises up() and down()
        self._lock = threading.Lock()  # guards _links
        self._links: set[_Link] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._accept_thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def up(self) -> "OutageProxy":
        with self._state:
            if self._listener is not None:
                return self
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            deadline = time.monotonic() + 5
            while True:
                try:
                    sock.bind((self.host, self.port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sock.close()
                        raise
                    time.sleep(0.05)
            sock.listen(64)
            self._listener = sock
            self._stop = threading.Event()
            self._accept_thread = threading.Thread(
                target=self._accept_loop, args=(sock, self._stop), daemon=True, name="outage-proxy-accept"
            )
            self._accept_thread.start()
        return self

    start = up

    def down(self) -> "OutageProxy":
        with self._state:
            listener, self._listener = self._listener, None
            if listener is not None:
                self._stop.set()
                if self._accept_thread is not None:
                    self._accept_thread.join(timeout=5)
                with contextlib.suppress(OSError):
                    listener.close()
            with self._lock:
                links = list(self._links)
                self._links.clear()
            for link in links:
                link.killed.set()
            for link in links:
                link.thread.join(timeout=5)
        return self

    stop = down

    @contextlib.contextmanager
    def outage(self) -> Iterator["OutageProxy"]:
        """Down inside the block, up again after it (even on error)."""
        self.down()
        try:
            yield self
        finally:
            self.up()

    def _accept_loop(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                readable, _, _ = select.select([listener], [], [], 0.1)
                if not readable:
                    continue
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                if stop.is_set():
                    link.killed.set()
                self._links.add(link)
            link.thread.start()
            self._reap()

    def _reap(self) -> None:
        with self._lock:
            self._links = {link for link in self._links if link.thread.is_alive() or not link.thread.ident}

    def __enter__(self) -> "OutageProxy":
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
