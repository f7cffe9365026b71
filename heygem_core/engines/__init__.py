"""Lip-sync engines: given a source video's face track and a mouth plan for the new audio,
produce for every output frame a lower-face ``Patch`` (or ``None`` to keep the frame).

An engine works in two steps so the expensive, possibly GPU-bound decision can run on another
machine than the compositing, with only a small record between them:

- ``drive(job) -> Motion``: what each output frame shows (for the exemplar engine, which
  library frame and how far to bend its lips; a neural engine would put its generated mouth
  crops here). A ``Motion`` saves to one ``.npz`` file.
- ``patches(job, motion)``: the lower-face patches, one per output frame, for the compositor.

``drive`` gets the new audio too (``EngineJob.sound``, 16 kHz mono, as the planner heard it),
so an engine that reads sound itself needs nothing more. An engine's ``version`` and its own
settings (``Options``, read from ``HEYGEM_<NAME>_<FIELD>``) enter the cache key of every
motion it makes (``identity``), and nothing else's.

Adding an engine is one new module with its class and one line in ``ENGINES``. Engines are
built once per process and (name, own settings, cache folder): a model loads once, not per
stage. This module stays light (no numpy): the settings read the registry at start-up.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import threading
from typing import TYPE_CHECKING, Any

from ..config import Settings, SettingsError, parse, variable
from ..errors import InputError

if TYPE_CHECKING:
    from .base import Engine, EngineJob, Motion  # noqa: F401

# name -> "module:Class" (imported when first used) or the class itself.
ENGINES: dict[str, Any] = {
    "exemplar": "heygem_core.engines.exemplar:ExemplarEngine",
}


def engine_class(name: str) -> type:
    if name not in ENGINES:
        raise InputError(f"unknown engine '{name}' ({variable('engine')}); choose one of: {', '.join(ENGINES)}")
    spec = ENGINES[name]
    if isinstance(spec, str):
        module, _, attr = spec.partition(":")
        spec = getattr(importlib.import_module(module), attr)
    return spec


def options_for(name: str, settings: Settings):
    """Engine ``name``'s own settings (an instance of its ``Options``), from the
    ``HEYGEM_<NAME>_<FIELD>`` values in ``settings.engine_options``; None if it declares none."""
    model = getattr(engine_class(name), "Options", None)
    prefix = f"{name.lower()}_"
    given = {k[len(prefix):]: v for k, v in settings.engine_options if k.startswith(prefix)}
    if model is None:
        if given:
            raise SettingsError(f"{variable(prefix + next(iter(given)))}: engine {name} has no settings")
        return None
    known = {f.name: f for f in dataclasses.fields(model)}
    values = {}
    for key, raw in given.items():
        if key not in known:
            raise SettingsError(f"{variable(prefix + key)}: engine {name} has no setting '{key}' "
                                f"(it has: {', '.join(known) or 'none'})")
        values[key] = parse(variable(prefix + key), str(known[key].type), raw)
    try:
        return model(**values)
    except (ValueError, TypeError) as err:  # the Options' own range checks
        raise SettingsError(f"engine {name}: {err}") from None


def identity(settings: Settings) -> str:
    """What the chosen engine's output for a job depends on beyond the job: its version and
    its own settings. Enters the cache keys of the stages it makes."""
    options = options_for(settings.engine, settings)
    values = dataclasses.asdict(options) if options is not None else {}
    return f"{engine_class(settings.engine).version} {json.dumps(values, sort_keys=True, default=str)}"


_built_lock = threading.Lock()
# (name, class, options, cache folder) -> engine; only what decides which engine it is.
_built: dict[tuple, Any] = {}


def get_engine(name: str, settings: Settings) -> "Engine":
    """The engine ``name`` for ``settings``, built once per process and (name, its own
    settings, cache folder): a flow's task threads and the web app's jobs share it."""
    cls = engine_class(name)
    options = options_for(name, settings)
    key = (name, cls, options, str(settings.cache_dir))
    with _built_lock:
        if key not in _built:
            if len(_built) >= 16:
                _built.pop(next(iter(_built)))
            _built[key] = cls(settings, options)
        return _built[key]


def __getattr__(name: str):  # the records and the protocol, imported on first use
    if name in ("Engine", "EngineJob", "Motion"):
        from . import base

        return getattr(base, name)
    raise AttributeError(name)
