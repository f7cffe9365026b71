"""All settings in one place.

Every field can be set from the environment as ``HEYGEM_<FIELD>`` (upper case), and any
caller (CLI flags, flow parameters) may override fields with ``settings.replace(...)``.
An engine's or a store's own settings are ``HEYGEM_<NAME>_<FIELD>`` (e.g.
``HEYGEM_EXEMPLAR_MAX_OPEN_STRETCH``, ``HEYGEM_S3_ENDPOINT``), declared by the plug-in in its
``Options`` and kept here as raw ``engine_options`` and ``store_options``, which the plug-in
reads and checks (``plugins.Registry.options``).

Every value is checked when a ``Settings`` is made, without looking at the disk: a bad one
raises ``SettingsError`` naming the variable, the value and what is allowed (the CLI prints that
line and exits 2 before any work). ``check()``, called once by every entry point (the CLI, a
task's ``settings_for``, the web app), also checks the choices that live in registries
(``heygem_core.plugins``: engine, planner, tracker, store) and the folders and files the settings
name.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from .plugins import ENGINES, REGISTRIES, STORES, UnknownPlugin
from .values import ENV_PREFIX, SettingsError, check, parse, variable

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "parse", "variable"]

log = logging.getLogger(__name__)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "heygem"


def _default_artifact_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "heygem" / "artifacts"


# The S3 store's connection may also be given with the names MinIO's own tools use
# (HEYGEM_S3_<FIELD> wins where both are set).
_ALIASES = {
    "s3_endpoint": "MINIO_ENDPOINT",
    "s3_access_key": "MINIO_ACCESS_KEY",
    "s3_secret_key": "MINIO_SECRET_KEY",
    "s3_bucket": "MINIO_BUCKET",
    "s3_secure": "MINIO_SECURE",
    "s3_region": "MINIO_REGION",
}
# Which section of docs/configuration.md lists each registry's plug-ins' own settings.
_OPTIONS_SECTION = {"engine": "mouth", "store": "store"}


SECTIONS = {
    "media": "the output's picture and sound",
    "mouth": "planning and drawing the mouth",
    "tracking": "finding the face",
    "store": "where runs and cached stages are kept",
    "intake": "course sheets",
    "qa": "checking outputs",
    "flows": "the Prefect layer (read by flows/ and tasks/ only)",
}


def setting(
    default: Any = MISSING,
    *,
    section: str,
    doc: str,
    factory: Callable[[], Any] | None = None,
    choices: tuple[str, ...] | None = None,
    limits: tuple[float, float] | None = None,
    shown: str | None = None,
    allowed: str | None = None,
    secret: bool = False,
) -> Any:
    """A field of ``Settings`` with what a person needs beside it: its ``section``, its ``doc``,
    its ``choices`` or numeric ``limits`` (checked when a ``Settings`` is made), how its default
    is ``shown`` in docs/configuration.md when the value itself would mislead (a path under the
    home folder), what is ``allowed`` where its type does not say. ``secret`` keeps it out of
    ``repr``."""
    meta: dict[str, Any] = {"section": section, "doc": doc}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if limits is not None:
        meta["limits"] = limits
    if shown is not None:
        meta["shown"] = shown
    if allowed is not None:
        meta["allowed"] = allowed
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class Settings:
    # -- media -----------------------------------------------------------------------------
    cache_dir: Path = setting(
        factory=_default_cache_dir,
        section="media",
        shown="~/.cache/heygem",
        doc="face tracks (Parquet), mouth libraries, the phones of each audio, known videos' "
        "probes and hashes, scratch folders, dlib's face detector (saved once)",
    )
    target_lufs: float = setting(
        -16.0, section="media", limits=(-70, -5), doc="loudness of the new audio (EBU R128 integrated, LUFS)"
    )
    crf: int = setting(18, section="media", limits=(0, 51), doc="output quality: x264 CRF (18 is visually lossless)")
    x264_preset: str = setting(
        "veryfast",
        section="media",
        doc="output encoding speed",
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"),
    )
    audio_bitrate: str = setting(
        "192k", section="media", allowed="kbit/s as `<n>k`, e.g. `128k`", doc="the output's AAC bit rate"
    )
    extend_mode: str = setting(
        "pingpong", section="media", choices=("pingpong", "loop"), doc="how the video fills an audio longer than it"
    )

    # -- mouth -----------------------------------------------------------------------------
    engine: str = setting("exemplar", section="mouth", doc="the lip-sync engine (heygem_core/plugins.py: ENGINES)")
    planner: str = setting(
        "learned",
        section="mouth",
        doc="what plans the mouth from the audio: `learned` (the sound-to-mouth network, any "
        "language; with a transcript, shared with the scripted phones) or `phones` (the "
        "phone aligners alone)",
    )
    mouth_model: Path | None = setting(
        None,
        section="mouth",
        shown="the shipped heygem_core/models/mouth_net.npz",
        allowed="a weights file (.npz)",
        doc="the learned planner's weights (scripts/train_mouth.py makes them)",
    )
    mouth_lead_ms: float = setting(
        0.0,
        section="mouth",
        limits=(-200, 200),
        doc="how far the learned mouth moves ahead of its sound, ms; on the in-step sets "
        "the self-dub does not score, the mean is best at 0 "
        "(docs/research/learned_mouth.md)",
    )
    adapt: str = setting(
        "auto",
        section="mouth",
        choices=("auto", "off"),
        doc="per-lecturer adaptation of the learned mouth: `auto` fits it on the source video's "
        "own sound and mouth and uses it where it helps on held-back parts of the source (8 s "
        "of face at least)",
    )
    # Engine-declared settings as (name, raw value), name = "<engine>_<field>" in lower case;
    # each engine reads and checks its own (plugins.ENGINES.options). Not a variable itself.
    engine_options: tuple[tuple[str, str], ...] = ()

    # -- tracking --------------------------------------------------------------------------
    tracker: str = setting("dlib", section="tracking", doc="the face tracker: `dlib` (bundled) or `insightface`")
    detect_every: int = setting(
        5, section="tracking", limits=(1, 250), doc="full face detection every N frames (landmarks on every frame)"
    )
    detect_max_side: int = setting(
        480,
        section="tracking",
        limits=(64, 8192),
        doc="detection runs on frames scaled to at most this many pixels on the longer side",
    )
    speaker: str = setting(
        "largest", section="tracking", choices=("largest", "central"), doc="which face speaks when several are visible"
    )
    insightface_root: Path | None = setting(
        None, section="tracking", doc="folder holding models/buffalo_l/*.onnx (never downloaded)"
    )
    tracking_processes: int = setting(
        0,
        section="tracking",
        limits=(0, 256),
        shown="0 (one per core)",
        doc="parts a long video is tracked in at once, all but the first in helper "
        "processes (1: all in the calling process)",
    )

    # -- store -----------------------------------------------------------------------------
    store: str = setting(
        "local", section="store", doc="the artifact store: `local` (a folder) or `s3` (MinIO or any S3 endpoint)"
    )
    artifact_dir: Path = setting(
        factory=_default_artifact_dir,
        section="store",
        shown="~/.local/share/heygem/artifacts",
        doc="the local store's folder",
    )
    # Store-declared settings as (name, raw value), name = "<store>_<field>" in lower case (the
    # s3 store's endpoint, bucket and credentials); the store reads and checks its own
    # (plugins.STORES.options). Never from a flow parameter, and never shown: it holds secrets.
    store_options: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    link_expiry_hours: int = setting(
        72, section="store", limits=(1, 168 * 100), doc="presigned links in reports stay valid this long"
    )

    # -- intake ----------------------------------------------------------------------------
    input_roots: tuple[Path, ...] = setting(
        (),
        section="intake",
        shown="the sheet's own folder",
        doc="folders (os.pathsep-separated) a sheet's files must lie in",
    )
    max_sheet_rows: int = setting(2000, section="intake", limits=(1, 1_000_000), doc="row limit of a sheet")

    # -- qa --------------------------------------------------------------------------------
    qa_min_coverage: float = setting(
        0.9, section="qa", limits=(0, 1), doc="outputs whose face is found in fewer frames than this are flagged"
    )
    qa_min_sync: float = setting(
        0.2,
        section="qa",
        limits=(-1, 1),
        doc="outputs whose mouth (read by FaceMesh) follows the judge model's expectation "
        "for the audio at a lower r are flagged; at 0.2, 81% of real footage passes "
        "with its own sound, 14% with it shuffled (benchmarks/qa_calibration.py)",
    )

    # -- flows -----------------------------------------------------------------------------
    workers: int = setting(2, section="flows", limits=(1, 256), doc="parallel task threads in a local flow run")
    retry_delay_s: float = setting(
        2.0,
        section="flows",
        limits=(0, 3600),
        doc="first retry delay of a task hit by a transient fault (4 retries, doubling)",
    )
    lipsync_deployment: str = setting(
        "",
        section="flows",
        allowed="`flow/deployment`",
        doc="flow/deployment of lip-sync on the gpu pool, e.g. lipsync_row/gpu-lipsync; "
        "empty: lip-sync runs in the calling flow (deployments/README.md)",
    )
    gpu_queue_s: float = setting(
        3600.0,
        section="flows",
        limits=(1, 7 * 86400),
        doc="a row's lip-sync may wait this long for a gpu worker to take it; then the row "
        "fails, saying whether any gpu worker is online",
    )
    gpu_start_s: float = setting(
        180.0,
        section="flows",
        limits=(1, 86400),
        doc="a gpu worker that took a row must start it within this (and one gone offline "
        "is given this long); else the row is cancelled and started once more",
    )
    gpu_run_s: float = setting(
        3600.0,
        section="flows",
        limits=(1, 7 * 86400),
        doc="a row's lip-sync on the gpu pool must finish within this; else the same",
    )
    prefect_port: int = setting(
        4200,
        section="flows",
        limits=(1, 65535),
        doc="the local Prefect server heygem starts or finds on 127.0.0.1, when PREFECT_API_URL is unset",
    )

    def __post_init__(self) -> None:
        for f in _CHECKED:
            check(variable(f.name), getattr(self, f.name), f.metadata)
        if not re.fullmatch(r"[1-9][0-9]{0,3}k", str(self.audio_bitrate)):
            raise SettingsError(
                f"{variable('audio_bitrate')}={self.audio_bitrate}: an AAC bit rate in kbit/s such as 128k or 192k"
            )
        if self.lipsync_deployment and not re.fullmatch(r"[^/\s]+/[^/\s]+", self.lipsync_deployment):
            raise SettingsError(
                f"{variable('lipsync_deployment')}={self.lipsync_deployment}: "
                "flow/deployment, e.g. lipsync_row/gpu-lipsync"
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if f.name in _RAW_OPTIONS:
                continue
            raw = env.get(variable(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = parse(variable(f.name), str(f.type), raw)
        values["engine_options"] = _engine_options(env)
        values["store_options"] = _store_options(env)
        return cls(**values)

    def replace(self, **overrides) -> "Settings":
        clean = {k: v for k, v in overrides.items() if v is not None}
        for name in _RAW_OPTIONS:
            if name in clean:  # from a flow parameter: JSON lists, or a dict
                opts = clean[name]
                opts = opts.items() if isinstance(opts, dict) else opts
                clean[name] = tuple(sorted((str(k).lower(), str(v)) for k, v in opts))
        return dataclasses.replace(self, **clean)

    def check(self) -> "Settings":
        """Also check the choices that live in registries (``heygem_core.plugins``: the plug-in
        each names exists and loads), the chosen engine's own settings, and the chosen store's
        settings where it checks them (s3: endpoint, bucket name, link lifetime; connects to
        nothing)."""
        for registry in REGISTRIES:
            try:
                cls = registry.get(getattr(self, registry.kind))
            except UnknownPlugin as err:
                raise SettingsError(str(err)) from None
            checker = getattr(cls, "check_settings", None)
            if checker is not None:
                checker(self)
        ENGINES.options(self.engine, self.engine_options)
        for name in STORES.names():  # any store's settings given, even one not chosen: a typo shows now
            if any(k.startswith(f"{name}_") for k, _ in self.store_options):
                STORES.options(name, self.store_options)
        self._check_places()
        return self

    def _check_places(self) -> None:
        """The folders and files the settings name are what they should be (the disk is
        looked at here, never when a ``Settings`` is made)."""
        for name in ("cache_dir", "artifact_dir"):
            if Path(getattr(self, name)).exists() and not Path(getattr(self, name)).is_dir():
                raise SettingsError(f"{variable(name)}={getattr(self, name)}: is a file, not a folder")
        if self.insightface_root is not None and not Path(self.insightface_root).is_dir():
            raise SettingsError(f"{variable('insightface_root')}={self.insightface_root}: no such folder")
        for root in self.input_roots:
            if not Path(root).is_dir():
                raise SettingsError(
                    f"{variable('input_roots')}: {root} is not a folder (folders are separated by '{os.pathsep}')"
                )
        if self.mouth_model is not None and not Path(self.mouth_model).is_file():
            raise SettingsError(f"{variable('mouth_model')}={self.mouth_model}: no such file")


# Choices and limits, from each field's metadata; those of registries (heygem_core.plugins) are
# checked by Settings.check().
_CHECKED = [f for f in fields(Settings) if "choices" in f.metadata or "limits" in f.metadata]
_DEPRECATED = {"MAX_OPEN_STRETCH": "EXEMPLAR_MAX_OPEN_STRETCH"}
_warned: set[str] = set()


_RAW_OPTIONS = ("engine_options", "store_options")


def _store_options(env) -> tuple[tuple[str, str], ...]:
    found = _prefixed(env, STORES.names())
    for name, alias in _ALIASES.items():
        if name not in found and env.get(alias):
            found[name] = env[alias]
    return tuple(sorted(found.items()))


def _prefixed(env, names) -> dict[str, str]:
    """("<name>_<field>" in lower case, value) of every HEYGEM_<NAME>_<FIELD> set for ``names``."""
    prefixes = tuple(f"{ENV_PREFIX}{name.upper()}_" for name in names)  # no plug-in imported
    return {var[len(ENV_PREFIX) :].lower(): raw for var, raw in env.items() if var.startswith(prefixes) and raw != ""}


def _engine_options(env) -> tuple[tuple[str, str], ...]:
    found = {}
    for old, new in _DEPRECATED.items():
        if env.get(ENV_PREFIX + old):
            if old not in _warned:
                _warned.add(old)
                log.warning("%s%s is deprecated: use %s%s", ENV_PREFIX, old, ENV_PREFIX, new)
            found[new.lower()] = env[ENV_PREFIX + old]
    found.update(_prefixed(env, ENGINES.names()))
    return tuple(sorted(found.items()))


# ----------------------------------------------------------------------------- documentation

DOC_BEGIN, DOC_END = "<!-- settings: made by scripts/settings_doc.py -->", "<!-- settings: end -->"


def settings_markdown() -> str:
    """docs/configuration.md's table of every setting, by section, from the fields' own
    metadata (scripts/settings_doc.py writes it; a test keeps the file equal to it)."""
    lines = []
    for section, about in SECTIONS.items():
        lines += ["", f"**{section}**: {about}", "", "| variable | default | allowed | meaning |", "|---|---|---|---|"]
        for name, f in _documented(section):
            alias = f", `{_ALIASES[name]}`" if name in _ALIASES else ""
            lines.append(
                f"| `{variable(name)}`{alias} | {shown_default(f)} | {allowed_text(f)} | {f.metadata['doc']} |"
            )
    return "\n".join([DOC_BEGIN, *lines, "", DOC_END])


def _documented(section: str):
    """(variable's field name, field) of the section's settings, then of the built-in plug-ins'
    own ``Options`` that belong there (an engine's under "mouth", a store's under "store")."""
    out = [(f.name, f) for f in fields(Settings) if f.metadata.get("section") == section]
    for registry in REGISTRIES:
        if _OPTIONS_SECTION.get(registry.kind) == section:
            for name, model in registry.builtin_options():
                out += [(f"{name}_{f.name}", f) for f in fields(model) if "doc" in f.metadata]
    return out


def setting_field(name: str):
    """The field of ``Settings`` called ``name``, with its metadata (doc, section, limits)."""
    return next(f for f in fields(Settings) if f.name == name)


def shown_default(f) -> str:
    """A setting's default as docs and help show it."""
    if "shown" in f.metadata:
        return f.metadata["shown"]
    value = f.default if f.default is not MISSING else f.default_factory()
    if value in (None, "", ()):
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def allowed_text(f) -> str:
    """What values a setting takes, in words (a registry's plug-ins, its choices or limits)."""
    meta = f.metadata
    registry = {r.kind: r for r in REGISTRIES}.get(f.name)
    if registry is not None:
        return ", ".join(f"`{n}`" for n in registry.builtin) + " (or an installed plug-in)"
    if "choices" in meta:
        return ", ".join(f"`{c}`" for c in meta["choices"])
    if "limits" in meta:
        return " to ".join(str(x) if isinstance(x, int) else f"{x:g}" for x in meta["limits"])
    if "allowed" in meta:
        return meta["allowed"]
    kind = str(f.type)
    return (
        "true or false"
        if kind.startswith("bool")
        else "folders"
        if kind.startswith("tuple")
        else "a folder"
        if "Path" in kind
        else "text"
    )
