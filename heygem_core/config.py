"""All settings in one place.

Every field can be set from the environment as ``HEYGEM_<FIELD>`` (upper case), and any
caller (CLI flags, flow parameters) may override fields with ``settings.replace(...)``.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "HEYGEM_"


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
    # Upper bound on how far the lips of an exemplar may be opened by warping (×).
    max_open_stretch: float = 1.3
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
    # QA: outputs under these figures are flagged in the report and the dashboard.
    qa_min_coverage: float = 0.9
    # Correlation of the output's mouth (read by FaceMesh) with the mouth the learned model
    # expects for the audio. Calibrated by benchmarks/qa_calibration.py on 19 real clips: at
    # 0.2, 79% of real footage with its own sound passes and 16% of it with its sound shuffled
    # in time (0.4 s blocks); heygem's outputs read 0.5-0.9.
    qa_min_sync: float = 0.2

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if (raw is None or raw == "") and f.name in _ALIASES:
                raw = env.get(_ALIASES[f.name])
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f, raw)
        return cls(**values)

    def replace(self, **overrides) -> "Settings":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **clean)


def _coerce(f: dataclasses.Field, raw: str):
    kind = str(f.type)
    if kind.startswith("tuple"):
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    if kind.startswith("bool"):
        return raw.lower() in {"1", "true", "yes", "on"}
    return raw
