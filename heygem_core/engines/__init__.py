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

Adding an engine is one new module with its class and one line in ``plugins.ENGINES`` (or an
entry point in ``heygem.engines``: ``heygem_core.plugins``). Engines are built once per process
and (name, own settings, ``instance_key``): a model loads once, not per stage. An engine with
``needs_plan = False`` reads the sound itself: no mouth plan is made for it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..plugins import ENGINES

if TYPE_CHECKING:
    from .base import Engine, EngineJob, Motion  # noqa: F401

__all__ = ["ENGINES", "engine_class", "get_engine", "identity", "options_for"]


def engine_class(name: str) -> Any:
    return ENGINES.get(name)


def options_for(name: str, settings: Settings):
    """Engine ``name``'s own settings (an instance of its ``Options``), from the
    ``HEYGEM_<NAME>_<FIELD>`` values in ``settings.engine_options``; None if it declares none."""
    return ENGINES.options(name, settings.engine_options)


def identity(settings: Settings) -> str:
    """What the chosen engine's output for a job depends on beyond the job: its version and
    its own settings. Enters the cache keys of the stages it makes."""
    options = options_for(settings.engine, settings)
    values = dataclasses.asdict(options) if options is not None else {}
    return f"{engine_class(settings.engine).version} {json.dumps(values, sort_keys=True, default=str)}"


def get_engine(name: str, settings: Settings) -> "Engine":
    """The engine ``name`` for ``settings``, built once per process and (name, its own
    settings, cache folder): a flow's task threads and the web app's jobs share it."""
    return ENGINES.build(name, settings, options_for(name, settings))


def __getattr__(name: str):  # the records and the protocol, imported on first use
    if name in ("Engine", "EngineJob", "Motion"):
        from . import base

        return getattr(base, name)
    raise AttributeError(name)
