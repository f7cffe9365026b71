"""What a media file holds, asked of ffprobe: streams, size, rotation, frame rate and the exact
frame count the decoder will deliver.

Kept apart from ``heygem_core.media`` on purpose: this module imports neither numpy nor OpenCV,
so the command line starts its probes (each ffprobe costs ~0.1 s) before it loads the rest
of heygem, and they run beside those imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from fractions import Fraction
from pathlib import Path

from heygem_core import filefacts
from heygem_core.errors import MissingFile, NoAudio, ProcessingError, UnsupportedMedia

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
QUIET_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error")
# Demuxers that accept still images; a picture is not a video to re-voice.
_IMAGE_FORMATS = frozenset({"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe"})
# Demuxers that "succeed" on arbitrary text files.
_NON_MEDIA_FORMATS = frozenset({"tty", "ansi"})
_STDERR_LINES = 20
_STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60")
)


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # display size: rotation applied
    height: int
    fps: Fraction  # the constant rate frames are decoded at
    n_frames: int  # exactly what read_frames yields at ``fps``
    duration: float  # n_frames / fps
    rotation: int  # clockwise degrees applied for display: 0, 90, 180 or 270
    vfr: bool  # timestamps do not sit on one constant grid: frames are resampled to ``fps``
    has_audio: bool
    codec: str
    pix_fmt: str
    stream_index: int = 0  # absolute index of the decoded video stream in the file
    start_time: float = 0.0  # presentation time of the first frame (seconds, as in the file)
    notes: tuple[str, ...] = ()  # things the caller may want to tell a person (odd size, VFR...)

    def to_json(self) -> dict:
        """The fields as JSON values (what a helper process or the probe cache is sent)."""
        fields = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        return {**fields, "path": str(self.path), "fps": str(self.fps), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, fields: dict) -> "VideoInfo":
        return cls(
            **{**fields, "path": Path(fields["path"]), "fps": Fraction(fields["fps"]), "notes": tuple(fields["notes"])}
        )

    @property
    def out_width(self) -> int:
        # x264 with yuv420p needs even dimensions: decoded frames lose the odd column.
        return self.width - self.width % 2

    @property
    def out_height(self) -> int:
        return self.height - self.height % 2

    @property
    def frame_bytes(self) -> int:
        return self.out_width * self.out_height * 3


@dataclass(frozen=True)
class AudioStreamInfo:
    path: Path
    sample_rate: int
    channels: int
    duration: float
    codec: str


# --------------------------------------------------------------------------- tools


def run_tool(args: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a short tool call to completion, capturing output."""
    try:
        return subprocess.run(list(args), capture_output=True, check=False)
    except FileNotFoundError as err:
        raise ProcessingError(f"{args[0]} is not installed or not on PATH") from err


def stderr_tail(stderr: bytes, keep: int = _STDERR_LINES) -> str:
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return "\n".join(lines[-keep:])


# --------------------------------------------------------------------------- files


def _check_input(path: str | Path) -> Path:
    """The checks ffprobe would answer cryptically, answered in words."""
    p = Path(path)
    if not p.exists():
        raise MissingFile("file not found", p)
    if p.is_dir():
        raise MissingFile("is a directory, not a file", p)
    if not p.is_file():
        raise UnsupportedMedia("is not a regular file", p)
    if not os.access(p, os.R_OK):
        raise MissingFile("cannot be read (permission denied)", p)
    if p.stat().st_size == 0:
        raise UnsupportedMedia("empty file (0 bytes)", p)
    return p


# --------------------------------------------------------------------------- probing


def probe_args(path: str | Path) -> list[str]:
    return [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]


def packets_args(path: str | Path, stream_index: int) -> list[str]:
    """Demux only (no decoding): the timestamps of every packet of one stream."""
    return [
        FFPROBE,
        "-v",
        "error",
        "-select_streams",
        str(stream_index),
        "-show_entries",
        "packet=pts,dts,flags",
        "-of",
        "csv=p=0",
        str(path),
    ]


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head[4:8] in {b"ftyp", b"mdat", b"moov", b"wide", b"free", b"skip"}


def _explain_probe_failure(path: Path, stderr: str) -> UnsupportedMedia:
    if "moov atom not found" in stderr and _looks_like_mp4(path):
        return UnsupportedMedia(
            "corrupt or truncated MP4: its index (moov atom) is missing, the file was cut short "
            "or never finished writing",
            path,
        )
    if "Invalid data found" in stderr or "moov atom not found" in stderr:
        return UnsupportedMedia("not a media file, or corrupt (ffmpeg cannot read it)", path)
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else "unknown error"
    return UnsupportedMedia(f"cannot be read as media: {detail}", path)


def probe(path: str | Path) -> dict:
    """ffprobe's JSON (format + streams) for a file, or a typed error naming the file."""
    p = _check_input(path)
    done = run_tool(probe_args(p))
    if done.returncode != 0:
        raise _explain_probe_failure(p, done.stderr.decode("utf-8", "replace"))
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as err:
        raise ProcessingError("ffprobe printed unreadable output", p) from err
    if data.get("format", {}).get("format_name") in _NON_MEDIA_FORMATS:
        raise UnsupportedMedia("not a media file (looks like text)", p)
    if not data.get("streams"):
        raise UnsupportedMedia("not a media file, or corrupt: no audio or video streams", p)
    return data


def _ratio(text: str | None) -> Fraction | None:
    """'30000/1001' -> Fraction; None for missing or 0/0."""
    if not text or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        value = Fraction(int(num), int(den))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _video_stream(data: dict) -> dict | None:
    # Cover art in music files is a "video" stream flagged as an attached picture.
    for stream in data.get("streams", []):
        if stream.get("codec_type") == "video" and not stream.get("disposition", {}).get("attached_pic"):
            return stream
    return None


def _audio_stream(data: dict) -> dict | None:
    return next((s for s in data.get("streams", []) if s.get("codec_type") == "audio"), None)


def _rotation(stream: dict) -> int:
    """Clockwise display rotation, the convention ffmpeg's autorotate applies."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            # Display-matrix angles are counter-clockwise.
            return int(round(-float(side["rotation"]) / 90.0)) * 90 % 360
    tag = stream.get("tags", {}).get("rotate")
    if tag is not None:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360
        except ValueError:
            return 0
    return 0


@dataclass(frozen=True)
class _Timing:
    fps: Fraction
    n_frames: int
    vfr: bool


def _read_packet_times(path: Path, stream_index: int) -> tuple[list[int], int]:
    """Presentation times (stream time-base ticks, sorted) of the packets the decoder keeps,
    and the number of packets present (discarded ones included)."""
    done = run_tool(packets_args(path, stream_index))
    if done.returncode != 0:
        raise UnsupportedMedia(f"corrupt video stream: {stderr_tail(done.stderr, 1)}", path)
    times: list[int] = []
    present = 0
    untimed = False
    for line in done.stdout.decode("ascii", "replace").splitlines():
        fields = line.strip().split(",")
        if len(fields) < 3:
            continue
        present += 1
        pts, dts, flags = fields[0], fields[1], fields[2]
        if "D" in flags:  # edit-list discard: the decoder drops it
            continue
        stamp = pts if pts not in ("", "N/A") else dts
        if stamp in ("", "N/A"):
            untimed = True
        else:
            times.append(int(stamp))
    # Without every timestamp the grid cannot be checked: no times makes the caller count frames
    # by decoding.
    return ([] if untimed else sorted(times)), present


def _on_grid(times: list[int], time_base: Fraction, rate: Fraction) -> bool:
    """Every frame one period after the previous, give or take the time-base rounding."""
    if len(times) < 2:
        return bool(times)
    period = 1 / (rate * time_base)  # in ticks
    tolerance = 1 + float(period) * 1e-3
    step = float(period)
    return all(abs(b - a - step) <= tolerance for a, b in zip(times, times[1:]))


def count_frames_args(path: str | Path, stream_index: int, fps: Fraction) -> list[str]:
    """Decode through the same fps filter as read_frames, discarding the pictures."""
    return [
        FFMPEG,
        *QUIET_ARGS,
        "-copyts",
        "-i",
        str(path),
        "-map",
        f"0:{stream_index}",
        "-vf",
        f"fps={fps}",
        "-fps_mode",
        "passthrough",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-nostats",
        "-",
    ]


def _count_decoded_frames(path: Path, stream_index: int, fps: Fraction) -> int:
    done = run_tool(count_frames_args(path, stream_index, fps))
    if done.returncode != 0:
        raise UnsupportedMedia(f"video cannot be decoded: {stderr_tail(done.stderr, 3)}", path)
    counts = re.findall(rb"^frame=(\d+)", done.stdout, flags=re.MULTILINE)
    if not counts:
        raise ProcessingError("ffmpeg reported no frame count", path)
    return int(counts[-1])


def _resample_rate(avg_rate: Fraction) -> Fraction:
    """The rate to resample variable-rate video at: the average, snapped to a standard rate
    when within 1% (phones record "30 fps" that averages 29.87), so the output plays at a
    rate every tool expects."""
    for standard in _STANDARD_RATES:
        if abs(avg_rate / standard - 1) <= Fraction(1, 100):
            return standard
    return avg_rate.limit_denominator(1001)


def _timing(path: Path, stream: dict) -> _Timing:
    time_base = _ratio(stream.get("time_base")) or Fraction(1, 90000)
    r_rate = _ratio(stream.get("r_frame_rate"))
    avg_rate = _ratio(stream.get("avg_frame_rate"))
    times, present = _read_packet_times(path, int(stream["index"]))
    listed = int(stream.get("nb_frames") or 0)
    if listed and present < listed:
        raise UnsupportedMedia(
            f"corrupt or truncated: the container lists {listed} video frames but only {present} are in the file", path
        )
    if not present:
        raise UnsupportedMedia("corrupt or truncated: the video stream holds no frames", path)
    # A constant grid at r_frame_rate (or avg) means the fps filter passes every frame through
    # untouched, so the packet count is the frame count. avg alone can be skewed by an edit list
    # or the last frame's duration, so it is not trusted over regular timestamps.
    for rate in (r_rate, avg_rate):
        if rate is not None and rate <= 240 and _on_grid(times, time_base, rate):
            return _Timing(fps=rate, n_frames=len(times), vfr=False)
    fps = _resample_rate(avg_rate or r_rate or Fraction(25))
    # The fps filter's drop/duplicate decisions are only known exactly by running it.
    return _Timing(fps=fps, n_frames=_count_decoded_frames(path, int(stream["index"]), fps), vfr=True)


def _bit_depth(pix_fmt: str) -> int:
    match = re.search(r"(\d+)(le|be)$", pix_fmt)
    return int(match.group(1)) if match else 8


def _notes(width: int, height: int, timing: _Timing, rotation: int, stream: dict) -> tuple[str, ...]:
    notes = []
    if width % 2 or height % 2:
        notes.append(
            f"odd size {width}x{height}: frames are cropped to "
            f"{width - width % 2}x{height - height % 2} for H.264 output"
        )
    if timing.vfr:
        notes.append(f"variable frame rate: resampled to a constant {float(timing.fps):.3f} fps")
    if rotation:
        notes.append(f"rotated {rotation} degrees by metadata: frames are turned upright")
    pix_fmt = stream.get("pix_fmt", "")
    if _bit_depth(pix_fmt) > 8:
        notes.append(f"{_bit_depth(pix_fmt)}-bit video ({pix_fmt}): decoded to 8 bits per channel")
    sar = _ratio((stream.get("sample_aspect_ratio") or "").replace(":", "/"))
    if sar is not None and abs(float(sar) - 1.0) > 0.01:
        notes.append(f"non-square pixels (aspect {sar}): frames keep the stored size")
    return tuple(notes)


# Kept probes are filed under this: bump PROBE_VERSION when probing changes what it answers;
# a field added to or removed from VideoInfo changes it by itself.
PROBE_VERSION = 1
_PROBE_KIND = (
    f"video-probe-{PROBE_VERSION}-"
    + hashlib.sha256(" ".join(f.name for f in dataclass_fields(VideoInfo)).encode()).hexdigest()[:8]
)


def probe_video(path: str | Path, cache_dir: Path | None = None) -> VideoInfo:
    """What read_frames will deliver for ``path``: upright size, constant rate, exact frame count.
    Demuxes the whole stream once (no decoding) to check the timestamps; variable-rate input is
    decoded once more to count the resampled frames. With ``cache_dir``, the answer is kept
    there for this very file (``filefacts``) and a second job on it probes nothing."""
    if cache_dir is not None:
        # The answer carries the caller's path, not the one it was first probed under: the
        # same file may be reached by another name.
        return filefacts.remembered(
            cache_dir,
            _PROBE_KIND,
            path,
            lambda: probe_video(path).to_json(),
            lambda facts: VideoInfo.from_json({**facts, "path": str(path)}),
        )
    data = probe(path)
    p = Path(path)
    if data.get("format", {}).get("format_name") in _IMAGE_FORMATS:
        raise UnsupportedMedia("is a still image, not a video", p)
    stream = _video_stream(data)
    if stream is None:
        kind = "audio-only file" if _audio_stream(data) else "no playable streams"
        raise UnsupportedMedia(f"no video stream ({kind})", p)
    codec = stream.get("codec_name")
    if not codec or codec == "none":
        raise UnsupportedMedia(f"video codec {stream.get('codec_tag_string', '?')} is not supported", p)
    if not stream.get("width") or not stream.get("height"):
        raise UnsupportedMedia("corrupt video stream: no picture size", p)
    rotation = _rotation(stream)
    width, height = int(stream["width"]), int(stream["height"])
    if rotation in (90, 270):
        width, height = height, width
    timing = _timing(p, stream)
    return VideoInfo(
        path=p,
        width=width,
        height=height,
        fps=timing.fps,
        n_frames=timing.n_frames,
        duration=timing.n_frames / float(timing.fps),
        rotation=rotation,
        vfr=timing.vfr,
        has_audio=_audio_stream(data) is not None,
        codec=codec,
        pix_fmt=stream.get("pix_fmt", "unknown"),
        stream_index=int(stream["index"]),
        start_time=float(stream.get("start_time") or 0.0),
        notes=_notes(width, height, timing, rotation, stream),
    )


def probe_audio(path: str | Path) -> AudioStreamInfo:
    """The first audio stream of any media file (a video's soundtrack included)."""
    data = probe(path)
    p = Path(path)
    stream = _audio_stream(data)
    if stream is None:
        kind = " (the file has video only)" if _video_stream(data) else ""
        raise NoAudio(f"no audio stream{kind}", p)
    if not stream.get("codec_name") or stream.get("codec_name") == "none":
        raise UnsupportedMedia(f"audio codec {stream.get('codec_tag_string', '?')} is not supported", p)
    duration = stream.get("duration") or data.get("format", {}).get("duration") or 0.0
    return AudioStreamInfo(
        path=p,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        duration=float(duration),
        codec=stream["codec_name"],
    )
