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

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import cache
from ..media import atomic_output
from ..plugins import TRACKERS
from .model import FaceTrack

SCHEMA_VERSION = 1

SCHEMA = pa.schema(
    [
        ("frame", pa.int32()),
        ("time", pa.float64()),
        ("box", pa.list_(pa.float32(), 4)),
        ("landmarks", pa.list_(pa.float32(), 136)),
        ("confidence", pa.float32()),
        ("lost", pa.bool_()),
    ]
)


def made_by(backend: str) -> dict[str, str]:
    """The declared versions a track depends on: tracker, backend, file schema."""
    from .tracker import VERSION

    found = TRACKERS.get(backend) if backend in TRACKERS else None
    return {"tracker": VERSION, "backend": getattr(found, "version", backend), "schema": str(SCHEMA_VERSION)}


def track_path(cache_dir: Path, source_sha256: str, backend: str, params: dict) -> Path:
    key = cache.key("tracks", made_by=made_by(backend), settings=params, inputs={"video": source_sha256})
    return cache.entry(cache_dir, "tracks", key, ".parquet")


def write_track(track: FaceTrack, path: Path) -> Path:
    n = track.n_frames
    table = pa.table(
        {
            "frame": _array(np.arange(n), pa.int32()),
            "time": _array(track.time, pa.float64()),
            "box": pa.FixedSizeListArray.from_arrays(_array(track.boxes.ravel(), pa.float32()), 4),
            "landmarks": pa.FixedSizeListArray.from_arrays(_array(track.landmarks.ravel(), pa.float32()), 136),
            "confidence": _array(track.confidence, pa.float32()),
            "lost": _array(track.lost, pa.bool_()),
        },
        schema=SCHEMA,
    )
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
    # A temp name of this call's own: two jobs on one source may write its track at once.
    with atomic_output(path) as tmp:  # readers never see a half-written track
        pq.write_table(table, tmp, compression="zstd")
    return path


def read_track(path: Path) -> FaceTrack:
    table = pq.ParquetFile(path).read()  # pq.read_table would import pyarrow.dataset and pandas
    meta = table.schema.metadata or {}
    version = int(meta.get(b"heygem.schema_version", b"0"))
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: track schema version {version}, expected {SCHEMA_VERSION}")
    if not table.schema.remove_metadata().equals(SCHEMA):
        raise ValueError(f"{path}: columns are not those of track schema {SCHEMA_VERSION}")
    n = table.num_rows
    return FaceTrack(
        source_sha256=meta[b"heygem.source_sha256"].decode(),
        backend=meta[b"heygem.backend"].decode(),
        width=int(meta[b"heygem.width"]),
        height=int(meta[b"heygem.height"]),
        fps=float(meta[b"heygem.fps"]),
        time=_values(table, "time", np.float64),
        boxes=_values(table, "box", np.float32).reshape(n, 4),
        landmarks=_values(table, "landmarks", np.float32).reshape(n, 68, 2),
        confidence=_values(table, "confidence", np.float32),
        lost=_values(table, "lost", np.bool_),
        params=json.loads(meta.get(b"heygem.params", b"{}")),
    )


def _array(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """An Arrow array over numpy values' bytes (booleans packed to bits, least significant
    first). ``pa.array`` would import pandas to check for pandas input: ~0.35 s."""
    if kind == pa.bool_():
        data = np.packbits(np.asarray(values, bool), bitorder="little")
    else:
        data = np.ascontiguousarray(values, _NUMPY[kind])
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(data)])


_NUMPY = {pa.int32(): np.int32, pa.float32(): np.float32, pa.float64(): np.float64}


def _values(table: pa.Table, name: str, dtype) -> np.ndarray:
    """One column's values (lists flattened) read from its Arrow buffers. pyarrow's own
    ``to_numpy`` imports pandas, ~0.35 s: a tenth of a short job with a cached track."""
    arr = table.column(name).combine_chunks()
    if arr.null_count:
        raise ValueError(f"column {name!r} has {arr.null_count} missing values")
    if isinstance(arr, pa.FixedSizeListArray):  # not .flatten(): it imports pyarrow.compute
        size = arr.type.list_size
        arr = arr.values.slice(arr.offset * size, len(arr) * size)
    if arr.null_count:
        raise ValueError(f"column {name!r} has {arr.null_count} missing values")
    data = arr.buffers()[1]
    if dtype is np.bool_:  # Arrow packs booleans as bits, least significant first
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[arr.offset : arr.offset + len(arr)].astype(bool)
    values = np.frombuffer(data, np.dtype(dtype), count=arr.offset + len(arr))
    return values[arr.offset :].copy()
