"""What every task shares: settings, the artifact store, content-addressed keys, retry rules.

Tasks take only small JSON-able arguments (store keys, hashes, names) so a task can run on
another machine: the bytes travel through the artifact store, never through Prefect. Secrets
never travel as parameters either; each process reads them from its own environment.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from prefect.tasks import exponential_backoff

from heygem_core import cache
from heygem_core.config import Settings
from heygem_core.errors import TRANSIENT_ERRORS, InputError
from heygem_core.store import ArtifactStore, shared_store

# Settings a non-secret override may change from a flow parameter; anything else (credentials,
# store location) comes from the worker's own environment.
OVERRIDABLE = {
    "target_lufs",
    "crf",
    "x264_preset",
    "audio_bitrate",
    "engine",
    "engine_options",
    "planner",
    "tracker",
    "detect_every",
    "detect_max_side",
    "speaker",
    "extend_mode",
    "qa_min_coverage",
    "qa_min_sync",
    "adapt",
}

# Which settings each stage's output depends on: they enter its cache key, nothing else does.
# (An engine's own settings enter through its identity, below.)
STAGE_SETTINGS = {
    "normalize_audio": ("target_lufs",),
    "track_faces": ("tracker", "detect_every", "detect_max_side", "speaker"),
    "adapt_mouth": ("planner", "adapt"),
    "lipsync": ("engine", "extend_mode", "planner", "adapt", "mouth_lead_ms"),
    "blend": ("engine", "crf", "x264_preset"),
    "mux": ("audio_bitrate",),
    "qa": ("qa_min_coverage", "qa_min_sync", "mouth_lead_ms"),
}


def _engine(settings: Settings) -> str:
    from heygem_core import engines

    return engines.identity(settings)


def _planner(settings: Settings) -> str:
    from heygem_core import planners

    return planners.version(settings)


def _tracker(settings: Settings) -> str:
    from heygem_core import track

    return track.version(settings)


def _mouth_model(settings: Settings) -> str:
    from heygem_core.soundmouth import net

    return net.load(settings.mouth_model).version


def _judge_model(settings: Settings) -> str:
    from heygem_core.soundmouth import net

    return net.load(net.JUDGE_PATH).version


def _declared(module: str, name: str) -> Callable[[Settings], str]:
    def version(settings: Settings) -> str:
        return str(getattr(importlib.import_module(module), name))

    return version


# The declared versions of the code and models that make each stage's output, each declared
# where that code lives (an engine's ``version`` and own settings, the tracker's and its
# backend's, the mouth model's weights hash, blend.VERSION...): a new one changes the key, so
# its outputs are made afresh and nothing else is.
STAGE_PRODUCERS: dict[str, dict[str, Callable[[Settings], str]]] = {
    "normalize_audio": {"normalize": _declared("heygem_core.audio", "NORMALIZE_VERSION")},
    "track_faces": {"tracker": _tracker},
    "adapt_mouth": {"mouth_model": _mouth_model, "adapt": _declared("heygem_core.soundmouth.adapt", "ADAPT_VERSION")},
    "lipsync": {"engine": _engine, "planner": _planner},
    "blend": {"engine": _engine, "blend": _declared("heygem_core.blend", "VERSION")},
    "mux": {"mux": _declared("heygem_core.media", "MUX_VERSION")},
    "qa": {"qa": _declared("heygem_core.report", "QA_VERSION"), "expected_mouth": _judge_model},
}
STAGES = tuple(STAGE_SETTINGS)
# Settings of the mouth plan: an engine that reads the sound itself gets no plan, so these do not
# enter its keys (heygem_core.planners.wanted).
PLAN_SETTINGS = frozenset({"planner", "adapt", "mouth_lead_ms"})


def settings_for(overrides: dict[str, Any] | None) -> Settings:
    overrides = dict(overrides or {})
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise InputError(f"these settings cannot be set per run: {', '.join(sorted(unknown))}")
    return _checked(Settings.from_env().replace(**overrides))


@functools.lru_cache(maxsize=64)
def _checked(settings: Settings) -> Settings:
    # Once per settings value: a task and its cache key ask several times, and checking an s3
    # store's settings builds a client.
    return settings.check()


def store_for(settings: Settings) -> ArtifactStore:
    """One store client per configuration and process (clients hold connection pools)."""
    return shared_store(settings)


def context_for(params: dict[str, Any]) -> tuple[Settings, ArtifactStore]:
    """The settings a task's ``overrides`` parameter gives, and their store."""
    settings = settings_for(params.get("overrides"))
    return settings, store_for(settings)


def _stage_settings(stage: str, settings: Settings) -> tuple[str, ...]:
    from heygem_core import planners

    names = STAGE_SETTINGS[stage]
    if stage == "lipsync" and not planners.wanted(settings):
        names = tuple(n for n in names if n not in PLAN_SETTINGS)
    return names


def stage_key(stage: str, settings: Settings, store: ArtifactStore, **inputs: Any) -> str:
    """Content address of a stage's output (heygem_core.cache's rule): the stage, the declared
    versions of what makes it, the settings it depends on, its inputs (content hashes or
    content-addressed keys) and which store it lives in (``identity``: never its location).
    Never a path or a modification time."""
    return cache.key(
        stage,
        made_by={what: version(settings) for what, version in STAGE_PRODUCERS[stage].items()},
        settings={name: str(getattr(settings, name)) for name in _stage_settings(stage, settings)},
        inputs={**inputs, "store": store.identity()},
    )


@dataclass(frozen=True)
class Stage:
    """A stage's output location, computed the same way by the cache key and by the task."""

    name: str
    ext: str
    inputs: Callable[[dict[str, Any]], dict[str, Any]]  # task parameters -> what the key hashes

    def key(self, params: dict[str, Any], settings: Settings | None = None, store: ArtifactStore | None = None) -> str:
        """The output's store key for the task's ``params`` (``settings`` and ``store``: those the
        params' overrides give, when the caller has them already)."""
        if settings is None or store is None:
            settings, store = context_for(params)
        return f"cache/{self.name}/{stage_key(self.name, settings, store, **self.inputs(params))}{self.ext}"

    def cache_key_fn(self, context, params: dict[str, Any]) -> str | None:
        """Prefect's cache key is the output's store key. If a cache record exists but its
        object has gone from the store (cleaned up by hand), the record would point at
        nothing: then a one-off key makes the task run again and store the object anew."""
        settings, store = context_for(params)
        key = self.key(params, settings, store)
        try:
            recorded = context.result_store.exists(key)
            if recorded and not store.exists(key):
                return f"{key}#rebuild-{uuid.uuid4().hex}"
            if recorded:
                store.touch(key)  # a hit is a use: `heygem gc` keeps recently used objects
        except Exception:  # store down: trust the record; the task's own store calls retry
            pass
        return key


@dataclass(frozen=True)
class StageRun:
    """What a stage's body gets from ``stage``: its settings, its store and its output's key."""

    settings: Settings
    store: ArtifactStore
    key: str


def stage(spec: Stage, *, reuse: Callable[[ArtifactStore, str], Any] | None = None):
    """The preamble every stage task shares, said once: the settings its ``overrides``
    parameter gives, the store, the content-addressed key of its output (``spec``), and an early
    return when that output is already stored (its key, or ``reuse(store, key)``). The body
    gets a ``StageRun`` first; the task's own signature (what Prefect sees, binds and names runs
    by) is the body's without it.

        @task(name="mux", cache_key_fn=MUX.cache_key_fn, ...)
        @stage(MUX)
        def mux(run: StageRun, silent_key: str, audio_key: str, overrides=None) -> str: ...
    """

    def wrap(body: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(body)
        public = signature.replace(parameters=list(signature.parameters.values())[1:])

        @functools.wraps(body)
        def run(*args, **kwargs):
            bound = public.bind(*args, **kwargs)
            bound.apply_defaults()
            params = dict(bound.arguments)
            settings, store = context_for(params)
            key = spec.key(params, settings, store)
            if store.exists(key):
                return reuse(store, key) if reuse is not None else key
            return body(StageRun(settings, store, key), *bound.args, **bound.kwargs)

        run.__signature__ = public  # type: ignore[attr-defined]  # inspect (and Prefect) stop here, not at the body
        return run

    return wrap


def retry_transient(task, task_run, state) -> bool:
    """Retry storage and tool faults; never invalid input, which fails at once."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # the result itself could not be read: treat as transient
        return True
    if isinstance(exc, InputError):
        return False
    return isinstance(exc, TRANSIENT_ERRORS + (OSError, TimeoutError, ConnectionError))


RETRY_COUNT = 4


def retry_delays(settings: Settings) -> list[float]:
    """The waits before each retry of a transient failure (``HEYGEM_RETRY_DELAY_S`` doubling)."""
    return exponential_backoff(backoff_factor=settings.retry_delay_s)(RETRY_COUNT)


# The decorators' waits are the built-in default's (nothing is read from the environment at
# import); a run submits its tasks with its own settings' waits (flows.common._Tasks).
RETRIES = dict(
    retries=RETRY_COUNT,
    retry_delay_seconds=retry_delays(Settings()),
    retry_jitter_factor=0.3,
    retry_condition_fn=retry_transient,
)
