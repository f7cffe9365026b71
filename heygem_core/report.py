"""Quality pictures and figures for one output video, for people checking a run.

Everything here looks at the *output*: its face is tracked again, its mouth is read by
FaceMesh (not by the tracker that drove the engine) and compared with the mouth the learned
model expects for the new audio (see ``quality``). Three things come out:

* ``QAFigures`` — sync, face coverage, length, and whether the output should be looked at,
  with the reasons in plain words;
* a contact sheet — the mouth region of a dozen evenly spaced frames, so a person can see at
  a glance whether the mouth looks real and moves;
* an opening plot — mouth opening and audio loudness over time, with the stretches where no
  face was found shaded.

Pictures are written atomically (a hidden temp file renamed into place). Plots use
matplotlib's object API with the Agg canvas, never pyplot: safe headless and from threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import audio as audio_mod
from . import media, mouth
from .config import Settings
from .errors import NoFaceFound
from .filters import true_runs
from . import quality
from .quality import CLOSED_OPENING, MouthSeries, correlation
from .track import FaceTrack, track_video
from .track.model import INNER_LIPS, OUTER_LIPS

# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class QAFigures:
    sync: float  # correlation of the output's mouth (FaceMesh) with the mouth expected for the audio
    coverage: float  # fraction of output frames where a face was tracked
    frames: int
    duration: float  # seconds
    flagged: bool
    reasons: tuple[str, ...] = ()  # why it is flagged, in plain words

    def as_dict(self) -> dict:
        """JSON-ready (no NaN: an unknown figure is None)."""
        return {
            "sync": _finite(self.sync, 4),
            "coverage": _finite(self.coverage, 4),
            "frames": int(self.frames),
            "duration": _finite(self.duration, 3),
            "flagged": bool(self.flagged),
            "reasons": list(self.reasons),
        }


# Bump when the QA figures for the same output change.
QA_VERSION = "1"


def _finite(x: float, digits: int) -> float | None:
    return round(float(x), digits) if x is not None and math.isfinite(x) else None


def qa_figures(
    series: MouthSeries,
    expected: np.ndarray,
    settings: Settings,
    measured: MouthSeries | None = None,
    source: str | None = None,
) -> QAFigures:
    """Figures for one output; flagged below ``settings.qa_min_coverage`` / ``qa_min_sync``,
    or with ``source`` (why the source cannot show speech, ``quality.source_warning``).
    Coverage is ``series``' (the tracker's); sync correlates ``measured``' opening (default
    ``series``') with ``expected`` (per frame)."""
    frames = len(series.opening)
    found = np.asarray(series.found, bool)
    coverage = float(found.mean()) if frames else 0.0
    sync = correlation((measured or series).opening, expected)
    duration = frames / series.fps if series.fps > 0 else 0.0
    reasons = []
    if frames == 0:
        reasons.append("the video has no frames")
    elif not found.any():
        reasons.append("no face found in any frame")
    elif coverage < settings.qa_min_coverage:
        reasons.append(f"face found in only {_pct(coverage)} of frames (threshold {_pct(settings.qa_min_coverage)})")
    if found.any() and sync < settings.qa_min_sync:
        reasons.append(f"mouth hardly follows the audio: sync {sync:.2f} (threshold {settings.qa_min_sync:.2f})")
    if source:
        reasons.append(source)
    return QAFigures(
        sync=sync, coverage=coverage, frames=frames, duration=duration, flagged=bool(reasons), reasons=tuple(reasons)
    )


def _pct(x: float) -> str:
    """72%, but never rounds a shortfall up to 100% or a sliver down to 0%."""
    p = 100.0 * x
    if 99.0 < p < 100.0:
        return f"{math.floor(p * 10) / 10:g}%"
    if 0.0 < p < 1.0:
        return f"{math.ceil(p * 10) / 10:g}%"
    return f"{round(p):d}%"


def series_from_track(track: FaceTrack | None, n_frames: int = 0, fps: float = 25.0) -> MouthSeries:
    """The ``quality.mouth_series`` of an already tracked video (``None``: no face anywhere in
    ``n_frames`` frames at ``fps``)."""
    if track is None:
        return MouthSeries(fps=fps, opening=np.full(n_frames, np.nan), found=np.zeros(n_frames, bool))
    found = ~np.asarray(track.lost, bool)
    opening = np.full(track.n_frames, np.nan)
    opening[found] = mouth.opening(track.landmarks[found])
    return MouthSeries(fps=track.fps, opening=opening, found=found)


# --------------------------------------------------------------------------- contact sheet

TILE_W, TILE_H = 200, 150  # each mouth crop, 4:3
LABEL_H = 22  # timestamp strip under each tile
GAP = 4
HEADER_H = 28
SHEET_BG = (36, 36, 36)
NO_FACE_GREY = (128, 128, 128)
PAD_BG = (0, 0, 0)  # crop parts outside the frame
_MOUTH = np.concatenate([OUTER_LIPS, INNER_LIPS])
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Frames further apart than this are fetched by seeking; closer ones by one sequential decode.
_SEEK_GAP_S = 10.0


def sheet_size(n: int, cols: int) -> tuple[int, int]:
    """(width, height) in pixels of a contact sheet of ``n`` tiles in ``cols`` columns."""
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    return cols * TILE_W + (cols + 1) * GAP, HEADER_H + rows * (TILE_H + LABEL_H) + (rows + 1) * GAP


def tile_origin(i: int, cols: int) -> tuple[int, int]:
    """(x, y) of the top-left pixel of tile ``i`` (the picture, not its label)."""
    r, c = divmod(i, cols)
    return GAP + c * (TILE_W + GAP), HEADER_H + GAP + r * (TILE_H + LABEL_H + GAP)


def pick_frames(n_frames: int, n: int) -> np.ndarray:
    """``n`` evenly spaced frame indices from first to last (fewer for a short video)."""
    if n_frames <= 0 or n <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.round(np.linspace(0, n_frames - 1, min(n, n_frames))).astype(np.int64))


def _frames_at(info: media.VideoInfo, indices: np.ndarray):
    """(index, frame) for sorted ``indices``, streamed: one sequential decode when they are
    close together, a seek per frame when they are far apart (a long lecture)."""
    if len(indices) == 0:
        return
    gaps = np.diff(indices)
    if len(gaps) and gaps.mean() > _SEEK_GAP_S * float(info.fps):
        for i in indices:
            for frame in media.read_frames(info, int(i), 1):
                yield int(i), frame
        return
    first, last = int(indices[0]), int(indices[-1])
    wanted = set(int(i) for i in indices)
    frames = media.read_frames(info, first, last - first + 1)
    try:
        for offset, frame in enumerate(frames):
            if first + offset in wanted:
                yield first + offset, frame
    finally:
        frames.close()  # kills ffmpeg if we stop early


def _mouth_box(landmarks: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of a TILE_W:TILE_H box around the lips, with room for their movement
    and a little of nose and chin; None when the landmarks are unusable."""
    pts = np.asarray(landmarks, np.float64)
    lips = pts[_MOUTH]
    if not np.isfinite(lips).all():
        return None
    (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
    eyes = float(np.linalg.norm(pts[36] - pts[45])) if np.isfinite(pts[[36, 45]]).all() else 0.0
    width = max((x1 - x0) * 1.8, eyes * 1.4, 8.0)
    height = width * TILE_H / TILE_W
    height = max(height, (y1 - y0) * 1.6)  # a wide-open mouth stays whole
    width = height * TILE_W / TILE_H
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _crop_tile(frame: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    h, w = frame.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=PAD_BG)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    crop = frame[y0:y1, x0:x1]
    shrink = crop.shape[1] > TILE_W
    return cv2.resize(crop, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _no_face_tile() -> np.ndarray:
    tile = np.full((TILE_H, TILE_W, 3), NO_FACE_GREY, np.uint8)
    _centred_text(tile, "no face", TILE_W // 2, TILE_H // 2, 0.7, (235, 235, 235), 2)
    return tile


def _centred_text(img, text, cx, cy, scale, colour, thickness=1) -> None:
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    cv2.putText(img, text, (int(cx - tw / 2), int(cy + th / 2)), _FONT, scale, colour, thickness, cv2.LINE_AA)


def _fit_text(text: str, max_width: int, scale: float) -> str:
    """``text`` shortened with '...' in the middle until it fits (cv2 fonts are ASCII only)."""
    text = text.encode("ascii", "replace").decode("ascii")
    if cv2.getTextSize(text, _FONT, scale, 1)[0][0] <= max_width:
        return text
    keep = len(text)
    while keep > 4:
        keep -= 1
        short = text[: keep // 2] + "..." + text[len(text) - (keep - keep // 2) :]
        if cv2.getTextSize(short, _FONT, scale, 1)[0][0] <= max_width:
            return short
    return text[:4]


def contact_sheet(
    video: str | Path | media.VideoInfo, track: FaceTrack | None, out_png: str | Path, n: int = 12, cols: int = 6
) -> Path:
    """A PNG of the mouth region of ``n`` evenly spaced frames of ``video``, ``cols`` per row,
    each with its time under it. Frames where ``track`` has no face (or ``track`` is None)
    show a grey tile saying "no face". Frames are streamed, never all held in memory."""
    info = video if isinstance(video, media.VideoInfo) else media.probe_video(video)
    out_png = Path(out_png)
    indices = pick_frames(info.n_frames, n)
    if len(indices) == 0:
        raise ValueError(f"{info.path}: no frames to show")
    cols = max(1, min(cols, len(indices)))
    width, height = sheet_size(len(indices), cols)
    sheet = np.full((height, width, 3), SHEET_BG, np.uint8)
    fps = float(info.fps)
    lost = 0
    for k, (i, frame) in enumerate(_frames_at(info, indices)):
        box = None
        if track is not None and i < track.n_frames and not track.lost[i]:
            box = _mouth_box(track.landmarks[i])
        if box is None:
            lost += 1
        tile = _no_face_tile() if box is None else _crop_tile(frame, box)
        x, y = tile_origin(k, cols)
        sheet[y : y + TILE_H, x : x + TILE_W] = tile
        _centred_text(
            sheet, f"{_clock(i / fps)}  #{i}", x + TILE_W // 2, y + TILE_H + LABEL_H // 2, 0.45, (225, 225, 225)
        )
    header = f"{info.path.name}  -  mouth region of {len(indices)} frames"
    if lost:
        header += f", {lost} without a face"
    cv2.putText(
        sheet,
        _fit_text(header, width - 2 * GAP - 8, 0.55),
        (GAP + 4, HEADER_H - 9),
        _FONT,
        0.55,
        (240, 240, 240),
        1,
        cv2.LINE_AA,
    )
    with media.atomic_output(out_png) as tmp:
        if not cv2.imwrite(str(tmp), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"{out_png}: cannot write the contact sheet")
    return out_png


def _clock(t: float) -> str:
    """0:03.52 / 1:02:03.5 — short and unambiguous under a tile."""
    m, s = divmod(t, 60.0)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m}:{s:05.2f}"


# --------------------------------------------------------------------------- opening plot


def opening_plot(series: MouthSeries, loudness_db: np.ndarray, out_png: str | Path, title: str = "") -> Path:
    """A 1000x350 PNG: mouth opening (left axis) and audio loudness (right axis) over time,
    with no-face stretches shaded and a dashed line where lips count as closed."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import Patch

    out_png = Path(out_png)
    fps = series.fps if series.fps > 0 else 25.0
    opening = np.asarray(series.opening, float)
    loud = np.asarray(loudness_db, float)
    t_open = np.arange(len(opening)) / fps
    t_loud = np.arange(len(loud)) / fps
    end = max(len(opening), len(loud), 1) / fps

    fig = Figure(figsize=(10, 3.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loud = fig.add_subplot()
    ax = ax_loud.twinx()  # the opening is drawn on top of the loudness
    ax.yaxis.tick_left()
    ax.yaxis.set_label_position("left")
    ax_loud.yaxis.tick_right()
    ax_loud.yaxis.set_label_position("right")

    # Loudness: a soft filled band.
    if len(loud):
        floor = max(audio_mod.FLOOR_DB, float(np.nanpercentile(loud, 2)) - 3.0)
        top = max(float(np.nanmax(loud)) + 3.0, floor + 10.0)
        ax_loud.fill_between(t_loud, floor, np.clip(loud, floor, None), color="#f0a040", alpha=0.35, lw=0)
        ax_loud.plot(t_loud, np.clip(loud, floor, None), color="#d07000", lw=0.8)
        ax_loud.set_ylim(floor, top)
    ax_loud.set_ylabel("audio loudness (dBFS)", color="#b06000")
    ax_loud.tick_params(axis="y", colors="#b06000")

    # No-face stretches.
    found = np.asarray(series.found, bool)
    for a, b in true_runs(~found):
        ax_loud.axvspan(a / fps, b / fps, color="#9a9a9a", alpha=0.45, lw=0, zorder=0)

    ax.plot(t_open, opening, color="#1f4fb4", lw=1.6)
    ax.axhline(CLOSED_OPENING, color="#1f4fb4", ls="--", lw=1.0, alpha=0.7)
    finite = opening[np.isfinite(opening)]
    top = max(float(finite.max()) * 1.12 if finite.size else 0.0, CLOSED_OPENING * 4)
    ax.set_ylim(0.0, top)
    ax.set_ylabel("mouth opening\n(lip gap / eye distance)", color="#1f4fb4")
    ax.tick_params(axis="y", colors="#1f4fb4")
    ax_loud.set_xlim(0.0, end)
    ax_loud.set_xlabel("time (s)")
    ax_loud.grid(axis="x", color="0.85", lw=0.6)

    handles = [
        ax.lines[0],
        ax.lines[1],
        Patch(facecolor="#f0a040", alpha=0.6, label="audio loudness"),
    ]
    labels = ["mouth opening", f"lips closed below ({CLOSED_OPENING:g})", "audio loudness"]
    if (~found).any():
        handles.append(Patch(facecolor="#9a9a9a", alpha=0.6))
        labels.append("no face found")
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        fontsize=9,
        frameon=False,
        borderaxespad=0.2,
    )
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    with media.atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return out_png


# --------------------------------------------------------------------------- all at once


def job_qa(
    measured: MouthSeries,
    track: FaceTrack,
    base_index: np.ndarray,
    clip: audio_mod.Audio,
    settings: Settings,
    source: str | None = None,
) -> QAFigures:
    """QA figures of a job just made, without tracking its output again: ``measured`` is the
    output read while rendered (``quality.OutputReader``); coverage comes from the source's
    track at each output frame's source frame; ``source`` is the job's
    ``quality.source_warning``, if any."""
    found = ~np.asarray(track.lost, bool)[base_index]
    series = MouthSeries(fps=measured.fps, opening=np.where(found, 0.0, np.nan), found=found)
    expected = quality.expected_opening(clip, measured.fps, len(base_index), settings)
    return qa_figures(series, expected, settings, measured=measured, source=source)


def qa_line(figures: QAFigures, settings: Settings) -> str:
    """One line for a terminal: sync, coverage, and what is flagged."""
    line = f"QA: sync {figures.sync:.2f} (pass {settings.qa_min_sync:.2f}), face in {_pct(figures.coverage)} of frames"
    return line + (f"; FLAGGED: {'; '.join(figures.reasons)}" if figures.flagged else "; not flagged")


def output_qa(
    video: str | Path,
    audio: str | Path,
    out_dir: str | Path,
    settings: Settings,
    title: str = "",
    source_track: FaceTrack | None = None,
) -> tuple[QAFigures, Path, Path]:
    """Track ``video`` (an output), compare its mouth with ``audio`` (the new track), and
    write ``<stem>_contact.png`` and ``<stem>_opening.png`` into ``out_dir``.

    An output without any face is not an error here: it comes back flagged, with an all-grey
    contact sheet."""
    info = media.probe_video(video)
    try:
        track = track_video(info, settings)
    except NoFaceFound:
        track = None
    series = series_from_track(track, info.n_frames, float(info.fps))
    clip = audio_mod.load_audio(audio, sr=16000)
    loud = audio_mod.loudness_envelope(clip, series.fps, len(series.opening))
    expected = quality.expected_opening(clip, series.fps, len(series.opening), settings)
    measured = quality.independent_series(info, settings, track) if track is not None else series
    source = quality.source_warning(source_track) if source_track is not None else None
    figures = qa_figures(series, expected, settings, measured=measured, source=source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = info.path.stem
    contact = contact_sheet(info, track, out_dir / f"{stem}_contact.png")
    summary = f"{title or stem}  -  sync {figures.sync:.2f}"
    if figures.sync < settings.qa_min_sync:
        summary += f" (min {settings.qa_min_sync:.2f})"
    summary += f"  -  face in {_pct(figures.coverage)} of frames"
    if figures.coverage < settings.qa_min_coverage:
        summary += f" (min {_pct(settings.qa_min_coverage)})"
    if figures.flagged:
        summary += "  -  FLAGGED"
    plot = opening_plot(series, loud, out_dir / f"{stem}_opening.png", title=summary)
    return figures, contact, plot
