"""Stills to look at: the source's mouth beside the output's, enlarged, at three moments.

    python benchmarks/stills.py [--out docs/stills] [--scale 3]

For each job (video x audio; by default katie + German, chaplin + English, sun (silent
source) + French), runs ``heygem lipsync`` without a transcript, tracks the output, and
picks three output frames by the output's own mouth opening: the most closed, the median
and the most open. Writes ``<video>_<language>_mouth.png``: one row per moment, the source
frame the output frame was made from on the left, the output on the right, both cut to the
same box around the mouth and chin and enlarged ``--scale`` times (cubic), labelled with
the time and the measured opening (lip gap / interocular distance).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import media, mouth, sequence  # noqa: E402
from heygem_core.config import Settings  # noqa: E402
from heygem_core.pipeline import lipsync  # noqa: E402
from heygem_core.track import track_video  # noqa: E402
from tests.paths import LANGUAGE_AUDIO, VIDEOS  # noqa: E402

JOBS = [("katie_8s", "de"), ("chaplin_7s", "en"), ("sun_silent_22s", "fr")]
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def frame_at(info: media.VideoInfo, index: int) -> np.ndarray:
    return next(iter(media.read_frames(info, index, 1)))


def mouth_box(points: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Mouth and chin with some cheek: the region the compositor replaces, and its edge."""
    iod = float(np.linalg.norm(points[45] - points[36]))
    cx, cy = points[48:68].mean(0)
    x0, x1 = int(cx - 0.85 * iod), int(cx + 0.85 * iod)
    y0, y1 = int(points[33, 1] - 0.1 * iod), int(max(points[8, 1], cy) + 0.15 * iod)
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def labelled(tile: np.ndarray, text: str) -> np.ndarray:
    out = cv2.copyMakeBorder(tile, 0, 26, 0, 0, cv2.BORDER_CONSTANT, value=(32, 32, 32))
    cv2.putText(out, text, (6, out.shape[0] - 8), _FONT, 0.5, (235, 235, 235), 1, cv2.LINE_AA)
    return out


def still(video: Path, audio: Path, language: str, out_png: Path, scale: int, work: Path) -> str:
    settings = Settings(cache_dir=work / "cache")
    out_video = work / f"{video.stem}_{language}.mp4"
    lipsync(video, audio, out_video, language=language, settings=settings)
    src_info, out_info = media.probe_video(video), media.probe_video(out_video)
    src_track = track_video(src_info, settings)
    out_track = track_video(out_info, settings, use_cache=False)
    base = sequence.frame_indices(min(src_track.n_frames, src_info.n_frames), out_info.n_frames, settings.extend_mode)
    opening = mouth.opening(out_track.landmarks)
    ok = np.flatnonzero(~out_track.lost & np.isfinite(opening))
    order = ok[np.argsort(opening[ok])]
    picks = [order[0], order[len(order) // 2], order[-1]]
    rows = []
    for t in picks:
        s = int(base[t])
        x0, y0, x1, y1 = mouth_box(src_track.landmarks[s], src_info.out_width, src_info.out_height)
        pair = []
        for name, frame, o in (
            ("source", frame_at(src_info, s), mouth.opening(src_track.landmarks[s][None])[0]),
            ("output", frame_at(out_info, int(t)), opening[t]),
        ):
            tile = cv2.resize(frame[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            pair.append(labelled(tile, f"{name} {int(t) / float(out_info.fps):5.2f} s  opening {o:.2f}"))
        rows.append(np.hstack([pair[0], np.full((pair[0].shape[0], 6, 3), 255, np.uint8), pair[1]]))
    width = max(r.shape[1] for r in rows)
    rows = [
        cv2.copyMakeBorder(r, 0, 6, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255)) for r in rows
    ]
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return f"{out_png}: output frames {[int(t) for t in picks]} from source frames {[int(base[t]) for t in picks]}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("docs/stills"))
    ap.add_argument("--scale", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for video, language in JOBS:
            png = args.out / f"{video}_{language}_mouth.png"
            print(still(VIDEOS[video], LANGUAGE_AUDIO[language], language, png, args.scale, Path(tmp)))


if __name__ == "__main__":
    main()
