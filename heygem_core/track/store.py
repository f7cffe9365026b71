"""Face tracks on disk: one Parquet file per (source content, backend, parameters).

Schema, version 1 — one row per decoded frame:

| column      | type                       | meaning                                           |
|-------------|----------------------------|---------------------------------------------------|
| frame       | int32                      | frame index at the decode frame rate              |
| time        | float64                    | seconds, frame / fps                              |
| box         | fixed_size_list<float32>[4]| face box x0, y0, x1, y1 (pixels); NaN when lost   |
| landmarks   | fixed_size_list<float32>[136] | 68 points as x0, y0, x1, y1, …; NaN when lost  |
| confidence  | float32                    | detector score of the supporting keyframe; 0 lost |
| lost        | bool                       | no usable face in this frame                      |

File metadata (``heygem.*`` keys): schema version, source sha256, backend, width, height,
fps and the tracking parameters as JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .model import FaceTrack

SCHEMA_VERSION = 1

SCHEMA = pa.schema([
    ("frame", pa.int32()),
    ("time", pa.float64()),
    ("box", pa.list_(pa.float32(), 4)),
    ("landmarks", pa.list_(pa.float32(), 136)),
    ("confidence", pa.float32()),
    ("lost", pa.bool_()),
])


def track_path(cache_dir: Path, source_sha256: str, backend: str, params: dict) -> Path:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache_dir) / "tracks" / source_sha256[:2] / f"{source_sha256}.{backend}.{digest}.v{SCHEMA_VERSION}.parquet"


def write_track(track: FaceTrack, path: Path) -> Path:
    n = track.n_frames
    table = pa.table({
        "frame": pa.array(np.arange(n, dtype=np.int32)),
        "time": pa.array(track.time.astype(np.float64)),
        "box": pa.FixedSizeListArray.from_arrays(pa.array(track.boxes.astype(np.float32).ravel()), 4),
        "landmarks": pa.FixedSizeListArray.from_arrays(
            pa.array(track.landmarks.astype(np.float32).reshape(n * 136)), 136),
        "confidence": pa.array(track.confidence.astype(np.float32)),
        "lost": pa.array(track.lost.astype(bool)),
    }, schema=SCHEMA)
    meta = {
        b"heygem.schema_version": str(SCHEMA_VERSION).encode(),
        b"heygem.source_sha256": track.source_sha256.encode(),
        b"heygem.backend": track.backend.encode(),
        b"heygem.width": str(track.width).encode(),
        b"heygem.height": str(track.height).encode(),
        b"heygem.fps": repr(float(track.fps)).encode(),
        b"heygem.params": json.dumps(track.params, sort_keys=True).encode(),
    }
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)  # readers never see a half-written track
    return path


def read_track(path: Path) -> FaceTrack:
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    version = int(meta.get(b"heygem.schema_version", b"0"))
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: track schema version {version}, expected {SCHEMA_VERSION}")
    n = table.num_rows
    return FaceTrack(
        source_sha256=meta[b"heygem.source_sha256"].decode(),
        backend=meta[b"heygem.backend"].decode(),
        width=int(meta[b"heygem.width"]),
        height=int(meta[b"heygem.height"]),
        fps=float(meta[b"heygem.fps"]),
        time=table.column("time").to_numpy(),
        boxes=table.column("box").combine_chunks().flatten().to_numpy().reshape(n, 4),
        landmarks=table.column("landmarks").combine_chunks().flatten().to_numpy().reshape(n, 68, 2),
        confidence=table.column("confidence").to_numpy(),
        lost=table.column("lost").to_numpy(zero_copy_only=False),
        params=json.loads(meta.get(b"heygem.params", b"{}")),
    )
