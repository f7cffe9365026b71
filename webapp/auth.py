"""Who may use the web app, and the web app's own settings (``HEYGEM_UI_*``).

Login is optional on a loopback address (127.0.0.1, ::1, localhost: only this machine can
connect) and required on any other interface: ``heygem ui --host 0.0.0.0`` without
``HEYGEM_UI_USER`` and ``HEYGEM_UI_PASSWORD`` refuses to start. When both are set, the login
is on wherever the app listens. The password is compared in constant time and never logged,
printed or passed to Gradio in clear (Gradio gets a checking function, not the pair).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from heygem_core.errors import InputError

from .line import WAITING_HANDLERS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_CONCURRENCY = 1
DEFAULT_MAX_UPLOAD_MB = 500.0
# Waiting jobs told their place in words (each holds one of Gradio's 40 worker threads while it
# waits; more wait in Gradio's own queue first): webapp/line.py.
DEFAULT_WAITING = WAITING_HANDLERS
MAX_WAITING = 32


@dataclass(frozen=True)
class UISettings:
    concurrency: int = DEFAULT_CONCURRENCY  # jobs (single, batch, course) running at once
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB  # per uploaded file
    user: str = ""
    password: str = ""
    waiting: int = DEFAULT_WAITING  # waiting jobs told their place in line in words

    def __repr__(self) -> str:  # the password must never show up in a log or a traceback
        return (
            f"UISettings(concurrency={self.concurrency}, max_upload_mb={self.max_upload_mb:g}, "
            f"waiting={self.waiting}, "
            f"user={self.user!r}, password={'***' if self.password else ''!r})"
        )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def has_login(self) -> bool:
        return bool(self.user)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UISettings:
        env = os.environ if env is None else env
        concurrency = _number(env, "HEYGEM_UI_CONCURRENCY", int, DEFAULT_CONCURRENCY)
        if concurrency < 1:
            raise InputError("HEYGEM_UI_CONCURRENCY must be at least 1")
        max_mb = _number(env, "HEYGEM_UI_MAX_UPLOAD_MB", float, DEFAULT_MAX_UPLOAD_MB)
        if not max_mb > 0:
            raise InputError("HEYGEM_UI_MAX_UPLOAD_MB must be a positive number of megabytes")
        user = env.get("HEYGEM_UI_USER", "").strip()
        password = env.get("HEYGEM_UI_PASSWORD", "")
        if bool(user) != bool(password):
            raise InputError("set both HEYGEM_UI_USER and HEYGEM_UI_PASSWORD for the login, or neither")
        waiting = _number(env, "HEYGEM_UI_WAITING", int, DEFAULT_WAITING)
        if not 0 <= waiting <= MAX_WAITING:
            raise InputError(f"HEYGEM_UI_WAITING must be from 0 to {MAX_WAITING} (jobs told their place in line)")
        return cls(concurrency=concurrency, max_upload_mb=max_mb, user=user, password=password, waiting=waiting)


def _number(env: Mapping[str, str], name: str, kind, default):
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a {'whole ' if kind is int else ''}number") from None


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host``."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def login_for(host: str, ui: UISettings) -> Callable[[str, str], bool] | None:
    """The login check Gradio should use for ``host``, or None for no login.

    Raises ``InputError`` (the CLI exits with 2) when ``host`` is not a loopback address and
    no credentials are configured: the app would be open to the whole network."""
    if not ui.has_login:
        if is_loopback(host):
            return None
        raise InputError(
            f"refusing to serve the web app on {host} without a login: anyone on the network could "
            "use it. Set HEYGEM_UI_USER and HEYGEM_UI_PASSWORD, or keep the default --host 127.0.0.1"
        )
    return _checker(ui.user, ui.password)


def _checker(user: str, password: str) -> Callable[[str, str], bool]:
    want_user, want_pw = user.encode("utf-8"), password.encode("utf-8")

    def check(given_user: str, given_password: str) -> bool:
        ok_user = hmac.compare_digest((given_user or "").strip().encode("utf-8"), want_user)
        ok_pw = hmac.compare_digest((given_password or "").encode("utf-8"), want_pw)
        return ok_user and ok_pw

    return check
