"""All settings in one place.

Every field can be set from the environment as ``HEYGEM_<FIELD>`` (upper case), and any
caller (CLI flags, flow parameters) may override fields with ``settings.replace(...)``.
An engine's own settings are ``HEYGEM_<ENGINE>_<FIELD>`` (e.g. ``HEYGEM_EXEMPLAR_MAX_OPEN_STRETCH``),
declared by the engine (``heygem_core.engines``) and kept here as raw ``engine_options``.

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
from dataclasses import dataclass, field, fields
from pathlib import Path

from .plugins import ENGINES, REGISTRIES, UnknownPlugin
from .values import ENV_PREFIX, SettingsError, parse, variable

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "parse", "variable"]

log = logging.getLogger(__name__)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "heygem"


def _default_artifact_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "heygem" / "artifacts"


# The S3/MinIO connection may also be given with the names MinIO's own tools use.
_ALIASES = {
    "s3_endpoint": "MINIO_ENDPOINT",
    "s3_access_key": "MINIO_ACCESS_KEY",
    "s3_secret_key": "MINIO_SECRET_KEY",
    "s3_bucket": "MINIO_BUCKET",
    "s3_secure": "MINIO_SECURE",
    "s3_region": "MINIO_REGION",
}


@dataclass(frozen=True)
class Settings:
    cache_dir: Path = field(default_factory=_default_cache_dir)
    # Loudness target of the new audio track, EBU R128 integrated loudness.
    target_lufs: float = -16.0
    # Output video quality: x264 CRF (18 is visually lossless) and preset.
    crf: int = 18
    x264_preset: str = "veryfast"
    audio_bitrate: str = "192k"
    engine: str = "exemplar"
    # What plans the mouth from the new audio: "learned" (the network of heygem_core/soundmouth,
    # any language; with a transcript, shared with the scripted phones) or "phones" (the phone
    # aligners alone: pocketsphinx blind, espeak with a transcript).
    planner: str = "learned"
    # The learned planner's weights (default: the model shipped in the package).
    mouth_model: Path | None = None
    # The learned planner's mouth moves this many milliseconds ahead of its sound. The model
    # learned real mouths' timing from real footage; on the in-step sets the self-dub does not
    # score, the Arabic anchors ask 40 ms more and GRID s1 0 or less, and their mean is
    # highest at 0 (benchmarks/fold_models.py).
    mouth_lead_ms: float = 0.0
    # Per-lecturer adaptation of the learned mouth: "auto" fits a head on the source video's
    # own sound and mouth and uses it where it helps on a held-back part of the source (a
    # source with under 8 s of face keeps the general model); "off" never adapts.
    adapt: str = "auto"
    tracker: str = "dlib"
    # Face tracking: full detection every N frames, landmarks on every frame.
    detect_every: int = 5
    # Detection runs on frames scaled so the longer side is at most this many pixels.
    detect_max_side: int = 480
    # Which face speaks when several are visible: "largest" or "central".
    speaker: str = "largest"
    insightface_root: Path | None = None
    # A long video (or any of 200 frames or more, once helpers are loaded) is tracked in this
    # many parts at once, all but the first in helper processes (0: one per core; 1: all in
    # the calling process). See heygem_core/track/helpers.py.
    tracking_processes: int = 0
    # Engine-declared settings as (name, raw value), name = "<engine>_<field>" in lower case;
    # each engine reads and checks its own (heygem_core.engines.options_for).
    engine_options: tuple[tuple[str, str], ...] = ()
    # Behaviour when the audio is longer than the video: "pingpong" or "loop".
    extend_mode: str = "pingpong"

    # -- artifact store ------------------------------------------------------------------
    # "local" (a folder, the embedded default) or "s3" (MinIO or any S3 endpoint).
    store: str = "local"
    artifact_dir: Path = field(default_factory=_default_artifact_dir)
    s3_endpoint: str = ""  # host:port, no scheme
    s3_bucket: str = "heygem"
    s3_access_key: str = field(default="", repr=False)
    s3_secret_key: str = field(default="", repr=False)
    s3_secure: bool = False
    s3_region: str = ""
    # Presigned links in reports stay valid this long.
    link_expiry_hours: int = 72

    # -- spreadsheet intake ------------------------------------------------------------
    # Files a sheet names must lie under one of these folders (os.pathsep-separated in the
    # environment); empty means "the sheet's own folder".
    input_roots: tuple[Path, ...] = ()
    max_sheet_rows: int = 2000

    # -- flows ---------------------------------------------------------------------------
    # Parallel task threads in a local flow run (lip-sync and encoding are CPU-bound).
    workers: int = 2
    # A task failing on a transient fault (store outage, tool failure) is retried 4 times,
    # after 1, 2, 4 and 8 times this many seconds (with jitter): 30 s in all by default.
    retry_delay_s: float = 2.0
    # "flow/deployment" of the lip-sync sub-flow on the gpu pool (e.g. lipsync_row/gpu-lipsync);
    # empty: lip-sync runs inside the calling flow. See deployments/README.md.
    lipsync_deployment: str = ""
    # Bounded waits for a row's lip-sync on the gpu pool (tasks/remote.py): queued, no worker
    # took it (the row then fails, saying whether any gpu worker is online); claimed by a worker
    # but not started (its worker is taken as gone: the sub-flow is cancelled and started once
    # more for another worker); running (the same). Seconds.
    gpu_queue_s: float = 3600.0
    gpu_start_s: float = 180.0
    gpu_run_s: float = 3600.0
    # The local Prefect server heygem starts or finds (127.0.0.1), when PREFECT_API_URL is unset.
    prefect_port: int = 4200
    # QA: outputs under these figures are flagged in the report and the dashboard.
    qa_min_coverage: float = 0.9
    # Correlation of the output's mouth (read by FaceMesh) with the mouth the learned model
    # expects for the audio. Calibrated by benchmarks/qa_calibration.py on 19 real clips: at
    # 0.2, 79% of real footage with its own sound passes and 16% of it with its sound shuffled
    # in time (0.4 s blocks); heygem's outputs read 0.5-0.9.
    qa_min_sync: float = 0.2

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise SettingsError(f"{variable(name)}={value}: choose one of {', '.join(allowed)}")
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise SettingsError(f"{variable(name)}={value}: must be a number from {low:g} to {high:g}")
        if not re.fullmatch(r"[1-9][0-9]{0,3}k", str(self.audio_bitrate)):
            raise SettingsError(f"{variable('audio_bitrate')}={self.audio_bitrate}: "
                                "an AAC bit rate in kbit/s such as 128k or 192k")
        if self.lipsync_deployment and not re.fullmatch(r"[^/\s]+/[^/\s]+", self.lipsync_deployment):
            raise SettingsError(f"{variable('lipsync_deployment')}={self.lipsync_deployment}: "
                                "flow/deployment, e.g. lipsync_row/gpu-lipsync")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            if f.name == "engine_options":
                continue
            raw = env.get(variable(f.name))
            name = variable(f.name)
            if (raw is None or raw == "") and f.name in _ALIASES:
                raw, name = env.get(_ALIASES[f.name]), _ALIASES[f.name]
            if raw is None or raw == "":
                continue
            values[f.name] = parse(name, str(f.type), raw)
        values["engine_options"] = _engine_options(env)
        return cls(**values)

    def replace(self, **overrides) -> "Settings":
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "engine_options" in clean:  # from a flow parameter: JSON lists, or a dict
            opts = clean["engine_options"]
            opts = opts.items() if isinstance(opts, dict) else opts
            clean["engine_options"] = tuple(sorted((str(k).lower(), str(v)) for k, v in opts))
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
                raise SettingsError(f"{variable('input_roots')}: {root} is not a folder "
                                    f"(folders are separated by '{os.pathsep}')")
        if self.mouth_model is not None and not Path(self.mouth_model).is_file():
            raise SettingsError(f"{variable('mouth_model')}={self.mouth_model}: no such file")


# Choices fixed here; those of registries (heygem_core.plugins) are checked by Settings.check().
_CHOICES = {
    "x264_preset": ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                    "slower", "veryslow"),
    "extend_mode": ("pingpong", "loop"),
    "speaker": ("largest", "central"),
    "adapt": ("auto", "off"),
}
_RANGES = {
    "target_lufs": (-70, -5), "crf": (0, 51), "detect_every": (1, 250), "detect_max_side": (64, 8192),
    "tracking_processes": (0, 256), "link_expiry_hours": (1, 168 * 100), "max_sheet_rows": (1, 1_000_000),
    "workers": (1, 256), "retry_delay_s": (0, 3600), "qa_min_coverage": (0, 1), "qa_min_sync": (-1, 1),
    "prefect_port": (1, 65535), "mouth_lead_ms": (-200, 200),
    "gpu_queue_s": (1, 7 * 86400), "gpu_start_s": (1, 86400), "gpu_run_s": (1, 7 * 86400),
}
# Old names of engine settings, still read (with a line saying so).
_DEPRECATED = {"MAX_OPEN_STRETCH": "EXEMPLAR_MAX_OPEN_STRETCH"}
_warned: set[str] = set()


def _engine_options(env) -> tuple[tuple[str, str], ...]:
    prefixes = tuple(f"{ENV_PREFIX}{name.upper()}_" for name in ENGINES.names())  # no plug-in imported
    found = {}
    for old, new in _DEPRECATED.items():
        if env.get(ENV_PREFIX + old):
            if old not in _warned:
                _warned.add(old)
                log.warning("%s%s is deprecated: use %s%s", ENV_PREFIX, old, ENV_PREFIX, new)
            found[new.lower()] = env[ENV_PREFIX + old]
    for var, raw in env.items():
        if var.startswith(prefixes) and raw != "":
            found[var[len(ENV_PREFIX):].lower()] = raw
    return tuple(sorted(found.items()))
