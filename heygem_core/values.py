"""How a setting's raw text (an environment variable, a CLI flag, a flow parameter) becomes a
value, and the one error that says it cannot: shared by the settings (``config``) and the
plug-ins' own settings (``plugins``), so that every bad value is worded the same way."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

ENV_PREFIX = "HEYGEM_"
TRUE, FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


class SettingsError(InputError):
    """A setting with a value it may not have."""


def variable(name: str) -> str:
    """The environment variable of setting ``name``."""
    return ENV_PREFIX + name.upper()


def parse(name: str, kind: str, raw: str):
    """``raw`` (the value of variable ``name``) as a value of type ``kind`` (a field's type as
    text: ``int``, ``float``, ``bool``, ``Path``, ``tuple[Path, ...]``, anything else is text)."""
    raw = raw.strip()
    try:
        if kind.startswith("tuple"):
            return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return value
    except ValueError:
        what = "a whole number" if kind.startswith("int") else "a number"
        raise SettingsError(f"{name}={raw}: must be {what}") from None
    if kind.startswith("bool"):
        if raw.lower() not in TRUE | FALSE:
            raise SettingsError(f"{name}={raw}: must be true or false (1/0, yes/no, on/off)")
        return raw.lower() in TRUE
    return raw


def check(name: str, value, meta) -> None:
    """``value`` of variable ``name`` against a field's declared ``choices`` or numeric
    ``limits`` (its metadata, as ``config.setting`` writes it)."""
    if "choices" in meta and value not in meta["choices"]:
        raise SettingsError(f"{name}={value}: choose one of {', '.join(meta['choices'])}")
    if "limits" in meta:
        low, high = meta["limits"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise SettingsError(f"{name}={value}: must be a number from {low:g} to {high:g}")
