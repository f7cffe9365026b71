"""The one way to plug something into heygem: engines, planners, face trackers, artifact stores.

A plug-in is a class with

- ``name`` (what a setting calls it: ``HEYGEM_ENGINE=exemplar``) and ``version`` (what its
  output depends on in its code; it enters the cache keys of what it makes, where it makes
  anything),
- ``Options``: a frozen dataclass of its own settings, read from ``HEYGEM_<NAME>_<FIELD>``
  (checked by the dataclass itself), or ``None``,
- how it is built: ``from_settings(settings, options)``, or else ``Class(settings, options)``;
  and, optionally, ``instance_key(settings)``: which settings beyond its options decide which
  instance it is (``Registry.build`` keeps one per process and key; the registry's own
  ``instance_key`` otherwise).

Each kind has one ``Registry`` below. Adding a plug-in is one new module and one line in its
registry's ``builtin`` table, a ``"module:Class"`` string imported only when first used; a
package installed beside heygem adds one with no line here at all, through an entry point in
the group ``heygem.engines``, ``heygem.planners``, ``heygem.trackers`` or ``heygem.stores``::

    [project.entry-points."heygem.engines"]
    wav2lip = "my_package.engine:Wav2LipEngine"

This module imports nothing of heygem's but its errors and ``values`` (how a setting's text is
read): the settings read the registries' names without importing any plug-in, and no plug-in
module imports the settings' module back through here.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

from .errors import InputError
from .values import SettingsError, check, parse, variable


class UnknownPlugin(InputError):
    """A setting names a plug-in no registry knows."""


@dataclass
class Registry:
    """Plug-ins of one kind, by name: built in (``builtin``) or installed (entry points)."""

    kind: str  # "engine", "planner", "tracker", "store": the setting that names one
    group: str  # entry-point group
    builtin: dict[str, str | type]  # name -> "module:Class" (or the class itself)
    _loaded: dict[str, type] = field(default_factory=dict, repr=False)  # by spec
    _instances: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # whether a setting (HEYGEM_<KIND>) chooses one: error messages then name that variable
    is_setting: bool = True
    # which settings decide which instance a plug-in is, for those that do not say
    instance_key: Callable[[Any], tuple] = lambda settings: ()
    # instances kept at most (a new key past it drops the oldest): settings are few per process
    most_instances: int = 16

    @property
    def variable(self) -> str:
        return variable(self.kind)

    @property
    def _where(self) -> str:
        return f" ({self.variable})" if self.is_setting else ""

    def specs(self) -> dict[str, str | type]:
        """Every known plug-in: the built-in ones, then those installed packages declare (a
        built-in name is never shadowed)."""
        found = dict(self.builtin)
        for ep in _entry_points(self.group):
            found.setdefault(ep.name, ep.value)
        return found

    def names(self) -> tuple[str, ...]:
        return tuple(self.specs())

    def builtin_options(self) -> list[tuple[str, type]]:
        """(name, ``Options``) of each built-in plug-in that declares its own settings."""
        found = [(name, getattr(self.get(name), "Options", None)) for name in self.builtin]
        return [(name, model) for name, model in found if model is not None]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.specs()

    def get(self, name: str) -> Any:
        """The class of plug-in ``name`` (imported on first use)."""
        specs = self.specs()
        if name not in specs:
            raise UnknownPlugin(f"unknown {self.kind} '{name}'{self._where}; choose one of: {', '.join(specs)}")
        spec = specs[name]
        if not isinstance(spec, str):
            return spec
        if spec not in self._loaded:
            module, _, attr = spec.partition(":")
            try:
                self._loaded[spec] = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as err:
                raise UnknownPlugin(f"{self.kind} '{name}'{self._where} cannot be loaded from {spec}: {err}") from None
        return self._loaded[spec]

    def options(self, name: str, raw: tuple[tuple[str, str], ...] | dict[str, str] = ()):
        """Plug-in ``name``'s own settings (an instance of its ``Options``, None if it declares
        none), from ``raw``: ("<name>_<field>", value) pairs as read from ``HEYGEM_<NAME>_<FIELD>``."""
        cls = self.get(name)
        model = getattr(cls, "Options", None)
        prefix = f"{name.lower()}_"
        pairs = raw.items() if isinstance(raw, dict) else raw
        given = {k[len(prefix) :]: v for k, v in pairs if k.startswith(prefix)}
        if model is None:
            if given:
                raise SettingsError(f"{variable(prefix + next(iter(given)))}: {self.kind} {name} has no settings")
            return None
        known = {f.name: f for f in dataclasses.fields(model)}
        values = {}
        for key, value in given.items():
            if key not in known:
                raise SettingsError(
                    f"{variable(prefix + key)}: {self.kind} {name} has no setting '{key}' "
                    f"(it has: {', '.join(known) or 'none'})"
                )
            values[key] = parse(variable(prefix + key), str(known[key].type), value)
            check(variable(prefix + key), values[key], known[key].metadata)
        try:
            return model(**values)
        except (ValueError, TypeError) as err:  # the Options' own range checks
            raise SettingsError(f"{self.kind} {name}: {err}") from None

    def create(self, name: str, settings, options=None) -> Any:
        """A new instance of plug-in ``name`` (``build`` shares one instead)."""
        cls = self.get(name)
        return getattr(cls, "from_settings", cls)(settings, options)

    def build(self, name: str, settings, options=None) -> Any:
        """Plug-in ``name`` built from ``settings``: once per process and (name, class, options,
        its ``instance_key(settings)``), shared by every thread."""
        cls = self.get(name)
        key = getattr(cls, "instance_key", self.instance_key)
        ident = (name, cls, options, *key(settings))
        with self._lock:
            if ident not in self._instances:
                if len(self._instances) >= self.most_instances:
                    self._instances.pop(next(iter(self._instances)))
                self._instances[ident] = self.create(name, settings, options)
            return self._instances[ident]

    def forget(self) -> None:
        """Drop every built instance (tests; a process that changes its plug-ins)."""
        with self._lock:
            self._instances.clear()


@functools.lru_cache(maxsize=None)
def _entry_points(group: str) -> tuple:
    """The group's entry points, read once per process (installing a package needs a restart)."""
    try:
        return tuple(metadata.entry_points(group=group))
    except Exception:  # a broken installed package must not stop heygem: its plug-ins are just absent
        return ()


# ----------------------------------------------------------------------------- the registries

ENGINES = Registry(
    "engine",
    "heygem.engines",
    {
        "exemplar": "heygem_core.engines.exemplar:ExemplarEngine",
    },
    instance_key=lambda settings: (str(settings.cache_dir),),
)
PLANNERS = Registry(
    "planner",
    "heygem.planners",
    {
        "learned": "heygem_core.planners.learned:LearnedPlanner",
        "phones": "heygem_core.planners.phones:PhonesPlanner",
    },
)
TRACKERS = Registry(
    "tracker",
    "heygem.trackers",
    {
        "dlib": "heygem_core.track.backends:DlibBackend",
        "insightface": "heygem_core.track.backends:InsightFaceBackend",
    },
)
STORES = Registry(
    "store",
    "heygem.stores",
    {
        "local": "heygem_core.store.local:LocalStore",
        "s3": "heygem_core.store.s3:S3Store",
    },
)
REGISTRIES: tuple[Registry, ...] = (ENGINES, PLANNERS, TRACKERS, STORES)
