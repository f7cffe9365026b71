"""Follow one speaking face through a stream of frames.

Detection is the expensive step (~5-10 ms a frame), landmarks are cheap (~1 ms), so we detect
on keyframes and in between place landmarks inside a box carried over from the previous
frame's points. The whole video is known before anything is rendered, so smoothing is done
afterwards with a symmetric filter: no lag, unlike the causal filters live trackers need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from ..filters import savgol_smooth
from .backends import Detection, FaceBackend
from .model import INNER_LIPS, OUTER_LIPS

_MOUTH = np.concatenate([OUTER_LIPS, INNER_LIPS])

# Bump when the tracker's output for the same video and parameters changes (keyframes,
# carried boxes, smoothing, who the speaker is): cached tracks are then made again.
# 2: a keyframe that finds no face looks again with the image turned upright by the last
#    face's roll
VERSION = "2"

# A keyframe that finds no face looks again in the image turned upright by the last face's
# roll, when that face was tilted at least this far (degrees). HOG misses some tilted heads
# that it finds upright (an interviewee tilted 17 degrees and turned: lost for 1.3 s).
UPRIGHT_ROLL = 8.0


@dataclass(frozen=True)
class TrackParams:
    detect_every: int = 5
    detect_max_side: int = 448
    speaker: str = "largest"  # or "central"
    min_interocular_px: float = 12.0
    # Fraction of the face box that may leave the frame before the face counts as lost.
    max_outside: float = 0.3
    # Face width (pixels) at which keyframe re-detection runs; HOG's window is 80 px.
    near_face_px: float = 110.0
    # Landmarks this close to the left or right edge: the face is leaving the picture sideways.
    side_margin_px: float = 1.5

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RawTrack:
    boxes: np.ndarray
    landmarks: np.ndarray
    confidence: np.ndarray
    lost: np.ndarray


@dataclass(frozen=True)
class Seed:
    """Where a run left off: the last frame's points and the detector box's relation to them."""

    points: np.ndarray
    box_rel: np.ndarray
    score: float

    @classmethod
    def of_frame(cls, raw: RawTrack, k: int) -> "Seed | None":
        if raw.lost[k]:
            return None
        return cls(raw.landmarks[k], _relation(raw.boxes[k], raw.landmarks[k]), float(raw.confidence[k]))


class Tracker:
    def __init__(self, backend: FaceBackend, params: TrackParams):
        self.backend = backend
        self.params = params

    def run(
        self, frames: Iterable[np.ndarray], progress=None, on_face=None, first: int = 0, seed: "Seed | None" = None
    ) -> RawTrack:
        """Track every frame (BGR, or grey for a backend that wants grey); ``progress(1)``
        after each, ``on_face()`` once, at the first face. ``frames`` start at frame ``first``
        of the video (keyframes fall where they would in a run from frame 0); ``seed`` carries
        on from the frame before, as if that run had gone on."""
        boxes, points, scores, lost = [], [], [], []
        prev_pts = None if seed is None else seed.points
        # the last face seen, kept through a loss: a head that tilted out of the detector's
        # reach is looked for again at its tilt
        last_pts = prev_pts
        box_rel = np.array([0.0, 0.0, 1.0, 1.0]) if seed is None else seed.box_rel
        prev_box = None if seed is None else _box_from_points(seed.points, box_rel)
        score = 0.0 if seed is None else seed.score
        misses = 0
        for i, frame in enumerate(frames, first):
            image = frame
            if self.backend.wants_gray and frame.ndim == 3:
                image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            h, w = image.shape[:2]
            pts = None
            keyframe = i % self.params.detect_every == 0
            if keyframe:
                det = self._detect(image, prev_box, last_pts)
                if det is not None:
                    misses, score = 0, det.score
                    pts = self.backend.landmarks(image, det.box)
                    box_rel = _relation(det.box, pts)
                    prev_box = det.box
                elif prev_pts is not None and misses < 1:
                    # HOG misses single frames on a slight turn; one miss is not a loss.
                    misses, score = misses + 1, score / 2
                    keyframe = False
            if not keyframe and prev_pts is not None:
                prev_box = _box_from_points(prev_pts, box_rel)
                pts = self.backend.landmarks(image, prev_box)
            if pts is not None and not self._plausible(pts, w, h):
                pts = None
            if pts is None:
                prev_pts, prev_box, score = None, None, 0.0
                boxes.append(np.full(4, np.nan, np.float32))
                points.append(np.full((68, 2), np.nan, np.float32))
                scores.append(0.0)
                lost.append(True)
            else:
                if on_face is not None:  # the first face of the video
                    on_face()
                    on_face = None
                prev_pts = last_pts = pts
                boxes.append(_box_from_points(pts, box_rel).astype(np.float32))
                points.append(pts.astype(np.float32))
                scores.append(score)
                lost.append(False)
            if progress is not None:
                progress(1)
        n = len(lost)
        return RawTrack(
            boxes=np.array(boxes, np.float32).reshape(n, 4),
            landmarks=np.array(points, np.float32).reshape(n, 68, 2),
            confidence=np.array(scores, np.float32),
            lost=np.array(lost, bool),
        )

    def _detect(
        self, image: np.ndarray, prev_box: np.ndarray | None, last_pts: np.ndarray | None = None
    ) -> Detection | None:
        h, w = image.shape[:2]
        if prev_box is not None:
            near = self._detect_near(image, prev_box)
            if near is not None:
                return near
        scale = min(1.0, self.params.detect_max_side / max(h, w))
        dets = self._detect_scaled(image, scale, (0, 0))
        if not dets and scale < 1:
            # Small faces vanish at reduced size: look once more at full resolution.
            dets = self.backend.detect(image, 0)
        if not dets and last_pts is not None and abs(roll := _roll(last_pts)) >= UPRIGHT_ROLL:
            dets = self._detect_upright(image, roll, scale)
        if not dets:
            return None
        if prev_box is not None:
            best = max(dets, key=lambda d: _iou(d.box, prev_box))
            if _iou(best.box, prev_box) > 0.2:
                return best
        return self._choose_speaker(dets, w, h)

    def _detect_near(self, image: np.ndarray, box: np.ndarray) -> Detection | None:
        """Re-detect the known face inside a window around it, at the size HOG likes best:
        a fraction of the full-frame cost, and independent of the video's resolution."""
        h, w = image.shape[:2]
        bw, bh = box[2] - box[0], box[3] - box[1]
        x0, y0 = int(max(0, box[0] - 0.6 * bw)), int(max(0, box[1] - 0.6 * bh))
        x1, y1 = int(min(w, box[2] + 0.6 * bw)), int(min(h, box[3] + 0.6 * bh))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        scale = min(1.0, self.params.near_face_px / max(bw, 1.0))
        dets = self._detect_scaled(image[y0:y1, x0:x1], scale, (x0, y0))
        dets = [d for d in dets if _iou(d.box, box) > 0.2]
        return max(dets, key=lambda d: _iou(d.box, box)) if dets else None

    def _detect_upright(self, image: np.ndarray, roll: float, scale: float) -> list[Detection]:
        """Faces in ``image`` turned by ``roll`` degrees (upright for a face tilted that far),
        each box put back where its centre lies in ``image``, same size: the box the detector
        gives an upright face, which the landmark model was trained on."""
        h, w = image.shape[:2]
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
        upright = cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        back = cv2.invertAffineTransform(turn)
        found = []
        for d in self._detect_scaled(upright, scale, (0, 0)):
            half = (d.box[2:] - d.box[:2]) / 2
            centre = back @ np.append((d.box[:2] + d.box[2:]) / 2, 1.0)
            found.append(Detection(np.concatenate([centre - half, centre + half]).astype(np.float32), d.score))
        return found

    def _detect_scaled(self, image: np.ndarray, scale: float, offset: tuple[int, int]) -> list[Detection]:
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        off = np.array([offset[0], offset[1], offset[0], offset[1]], np.float32)
        return [Detection(d.box / scale + off, d.score) for d in self.backend.detect(small, 0)]

    def _choose_speaker(self, dets: list[Detection], w: int, h: int) -> Detection:
        if self.params.speaker == "central":
            centre = np.array([w / 2, h / 2])
            return min(dets, key=lambda d: np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre))
        return max(dets, key=lambda d: d.area)

    def _plausible(self, pts: np.ndarray, w: int, h: int) -> bool:
        if not np.all(np.isfinite(pts)):
            return False
        if np.linalg.norm(pts[36] - pts[45]) < self.params.min_interocular_px:
            return False
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        # The shape predictor keeps its points inside the picture: a face crossing the left or
        # right edge comes back squeezed against it, its mouth placed on whatever lies there
        # (hair, wall). Points touching a side edge mean the face is leaving: lost, not
        # re-voiced. (The bottom edge is left alone: close-ups often cut the chin.)
        margin = self.params.side_margin_px
        if x0 < margin or x1 > w - 1 - margin:
            return False
        area = max((x1 - x0) * (y1 - y0), 1.0)
        ix = max(0.0, min(x1, w) - max(x0, 0))
        iy = max(0.0, min(y1, h) - max(y0, 0))
        return (ix * iy) / area >= 1.0 - self.params.max_outside


def _roll(pts: np.ndarray) -> float:
    """The face's roll in degrees: the angle of the line from its left eye to its right eye
    (image coordinates, y down), which turning the image by it makes level."""
    left, right = pts[36:42].mean(0), pts[42:48].mean(0)
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def _relation(det_box: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The detector box expressed relative to the landmarks' bounding box.

    The shape predictor was trained on detector boxes, so between keyframes we rebuild a box
    of the same proportions from the previous frame's points."""
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return np.array([(det_box[0] - x0) / bw, (det_box[1] - y0) / bh, (det_box[2] - x0) / bw, (det_box[3] - y0) / bh])


def _box_from_points(pts: np.ndarray, rel: np.ndarray) -> np.ndarray:
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    bw, bh = x1 - x0, y1 - y0
    return np.array([x0 + rel[0] * bw, y0 + rel[1] * bh, x0 + rel[2] * bw, y0 + rel[3] * bh])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def smooth_landmarks(landmarks: np.ndarray, lost: np.ndarray, fps: float) -> np.ndarray:
    """Zero-phase smoothing inside each run of found frames.

    Rigid points get a ~0.2 s window (they carry pose, where jitter shows as a swimming
    patch); lips get a ~0.1 s window, since real lip motion is fast and must survive."""
    out = landmarks.copy()
    padded = np.concatenate([[True], lost, [True]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    rigid = np.setdiff1d(np.arange(68), _MOUTH)
    for a, b in zip(edges[::2], edges[1::2]):
        for idx, seconds in ((rigid, 0.2), (_MOUTH, 0.1)):
            win = _odd_window(seconds * fps, b - a)
            if win >= 5:
                out[a:b, idx] = savgol_smooth(landmarks[a:b, idx], win, 2)
    return out


def _odd_window(frames: float, limit: int) -> int:
    win = max(5, int(round(frames)) | 1)
    if win > limit:
        win = limit if limit % 2 else limit - 1
    return win
