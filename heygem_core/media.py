"""Video and container I/O through ffmpeg.

Every ffmpeg/ffprobe command line is built by a pure ``*_args`` function (tested by comparing
lists) and run with an argument list, never through a shell. Frames travel through a pipe one
at a time, so no function here holds a whole video in memory.

Frame numbering is defined by the decoder: frame ``i`` is the ``i``-th frame that ffmpeg's
``fps`` filter yields at ``VideoInfo.fps``. Timestamps are kept absolute (``-copyts``) so that a
seek lands on the same grid as a read from the start, which is what makes seeks frame-exact.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Generator, Literal

import cv2
import numpy as np

from heygem_core.errors import ProcessingError, UnsupportedMedia, os_cause

# Probing lives in its own numpy-free module (the command line starts it before numpy is
# loaded); its names stay reachable here, where callers have always found them.
from heygem_core.probe import (  # noqa: F401
    _STDERR_LINES,
    FFMPEG,
    FFPROBE,
    QUIET_ARGS,
    AudioStreamInfo,
    VideoInfo,
    count_frames_args,
    packets_args,
    probe,
    probe_args,
    probe_audio,
    probe_video,
    run_tool,
    stderr_tail,
)
from heygem_core.files import _check_output, _remove, _temp_sibling, atomic_output, sha256_file  # noqa: F401

# Seek this far before the wanted frame: the demuxer picks the keyframe by decode time, and a
# keyframe's presentation time can trail its decode time by the B-frame delay.
SEEK_MARGIN_S = 0.5
# swscale's default YUV<->RGB paths round with a bias: a decode+encode round trip darkens every
# pixel by ~2 levels (PSNR ~41 dB even with lossless x264). Its exact paths are 3x slower at
# 1080p, so frames cross the pipe as yuv420p and OpenCV converts them (unbiased, ~60 dB round
# trip, fast); these flags keep any conversion ffmpeg still does (10-bit, full range, 4:4:4,
# or a caller asking decode_args for RGB) exact.
SWS_FLAGS = "accurate_rnd+full_chroma_int"
PIPE_PIX_FMT = "yuv420p"


# --------------------------------------------------------------------------- processes


def _popen(args: Sequence[str], **kwargs) -> subprocess.Popen:
    try:
        return subprocess.Popen(list(args), stderr=subprocess.PIPE, **kwargs)
    except FileNotFoundError as err:
        raise ProcessingError(f"{args[0]} is not installed or not on PATH") from err


# A stream of frames; closing it stops its decoder early.
Frames = Generator[np.ndarray, None, None]


class _StderrTail:
    """Drains a child's stderr in a thread (a full pipe would stall ffmpeg) keeping the last lines."""

    def __init__(self, stream: IO[bytes] | None, keep: int = _STDERR_LINES):
        self._lines: deque[str] = deque(maxlen=keep)
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                self._lines.append(raw.decode("utf-8", "replace").rstrip())

    def text(self) -> str:
        self._thread.join(timeout=5)
        return "\n".join(line for line in self._lines if line)


def _how_it_ended(returncode: int | None) -> str:
    """How a tool that failed ended, in words: killed by which signal, or its exit status."""
    if not returncode:
        return ""
    if returncode < 0:
        try:
            return f"ffmpeg was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"ffmpeg was killed by signal {-returncode}"
    return f"ffmpeg exited with status {returncode}"


def _stop(proc: subprocess.Popen) -> None:
    """Kill a child that may still be running and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


# --------------------------------------------------------------------------- argument builders


def _first_pts(info: VideoInfo) -> int:
    """The fps filter's output pts (in frames) of frame 0: the first timestamp rounded to the
    nearest frame tick, halves away from zero as libavutil rounds."""
    x = info.start_time * float(info.fps)
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def decode_args(info: VideoInfo, start_frame: int = 0, pix_fmt: str = "bgr24", count: int | None = None) -> list[str]:
    """ffmpeg command decoding frames ``start_frame`` .. (``count`` of them, default all) as raw
    pixels on stdout: upright, cropped to even size, at the constant rate ``info.fps``."""
    args = [FFMPEG, *QUIET_ARGS]
    filters = [f"fps={info.fps}"]
    if start_frame > 0:
        seek = start_frame / float(info.fps) - SEEK_MARGIN_S
        if seek > 0:
            # Land on a keyframe before the frame and let trim drop the rest by exact pts.
            args += ["-noaccurate_seek", "-ss", f"{seek:.6f}"]
        filters.append(f"trim=start_pts={_first_pts(info) + start_frame}")
    if (info.out_width, info.out_height) != (info.width, info.height):
        filters.append(f"crop={info.out_width}:{info.out_height}:0:0")
    args += ["-copyts", "-i", str(info.path), "-map", f"0:{info.stream_index}", "-vf", ",".join(filters)]
    if count is not None:
        args += ["-frames:v", str(count)]
    # passthrough: the fps filter already made the rate constant; no second resampling.
    args += ["-fps_mode", "passthrough", "-sws_flags", SWS_FLAGS, "-f", "rawvideo", "-pix_fmt", pix_fmt, "pipe:1"]
    return args


def encode_args(
    out_path: str | Path,
    width: int,
    height: int,
    fps: Fraction,
    crf: int = 18,
    preset: str = "veryfast",
    pix_fmt_in: str = "bgr24",
    audio: str | Path | None = None,
    audio_bitrate: str = "192k",
) -> list[str]:
    """ffmpeg command encoding raw frames from stdin to H.264 yuv420p, one output frame per
    input frame at ``fps``, index up front for streaming. No audio, or the first audio stream
    of ``audio`` encoded to AAC in the same pass (no separate mux: one less read and write of
    the whole video); as in mux_args, no -shortest."""
    args = [
        FFMPEG,
        *QUIET_ARGS,
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        pix_fmt_in,
        "-video_size",
        f"{width}x{height}",
        "-framerate",
        str(Fraction(fps)),
        "-i",
        "pipe:0",
    ]
    if audio is None:
        args += ["-an"]
    else:
        args += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", audio_bitrate]
    return args + [
        "-sws_flags",
        SWS_FLAGS,
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-fps_mode",
        "passthrough",
        "-movflags",
        "+faststart",
        str(out_path),
    ]


def mux_args(
    video_path: str | Path, audio_path: str | Path, out_path: str | Path, audio_bitrate: str = "192k"
) -> list[str]:
    """Video copied as is, first audio stream of ``audio_path`` encoded to AAC. No -shortest:
    the caller decides both lengths."""
    return [
        FFMPEG,
        *QUIET_ARGS,
        "-y",
        "-i",
        str(video_path),
        "-i",
        str(audio_path),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-b:a",
        audio_bitrate,
        "-movflags",
        "+faststart",
        str(out_path),
    ]


# --------------------------------------------------------------------------- decoding


def _read_exact(stream: Any, buf: memoryview) -> int:  # a pipe: IO[bytes] has no readinto in the stubs
    """Fill ``buf`` from a pipe; returns the bytes read (short only at end of stream)."""
    got = 0
    while got < len(buf):
        n = stream.readinto(buf[got:])
        if not n:
            break
        got += n
    return got


def read_frames(info: VideoInfo, start_frame: int = 0, count: int | None = None, i420: bool = False) -> Frames:
    """Frames ``start_frame`` .. as (out_height, out_width, 3) uint8 BGR arrays, streamed; with
    ``i420`` as the decoder's own (out_height * 3 / 2, out_width) I420 planes, unconverted.

    Stops after ``count`` frames or at the end; closing the generator early kills ffmpeg. If the
    decoder ends before ``info.n_frames`` the file is damaged and UnsupportedMedia is raised.
    Bad arguments raise ValueError here, not at the first ``next()``.
    """
    return _decode(info, *_span(info, start_frame, count), "i420" if i420 else "bgr")


def read_gray_frames(info: VideoInfo, start_frame: int = 0, count: int | None = None) -> Frames:
    """As ``read_frames``, frames as (out_height, out_width) full-range grey: the luma plane,
    stretched from video range by ffmpeg (what cv2's BGR-to-grey of the BGR frame gives, to
    within a level except where a colour clips). The conversion runs in the decoder's
    process, not the tracker's, and a third less crosses the pipe."""
    return _decode(info, *_span(info, start_frame, count), "gray")


def _span(info: VideoInfo, start_frame: int, count: int | None) -> tuple[int, int]:
    """(start_frame, frames to decode), checked."""
    if not 0 <= start_frame <= info.n_frames:
        raise ValueError(f"start_frame {start_frame} outside 0..{info.n_frames} for {info.path}")
    if count is not None and count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    available = info.n_frames - start_frame
    return start_frame, available if count is None else min(count, available)


# What each form reads from the pipe: pixel format, and frame height as a fraction of the picture's.
_PIPE_FORMS = {"bgr": (PIPE_PIX_FMT, 3, 2), "i420": (PIPE_PIX_FMT, 3, 2), "gray": ("gray", 1, 1)}


def _decode(info: VideoInfo, start_frame: int, wanted: int, form: str = "bgr") -> Frames:
    if wanted == 0:
        return
    pix_fmt, num, den = _PIPE_FORMS[form]
    # One buffer reused for every frame; each frame handed out is a new array.
    raw = np.empty((info.out_height * num // den, info.out_width), dtype=np.uint8)
    proc = _popen(decode_args(info, start_frame, pix_fmt, count=wanted), stdout=subprocess.PIPE)
    tail = _StderrTail(proc.stderr)
    stdout = proc.stdout
    assert stdout is not None  # opened with stdout=PIPE
    delivered = 0
    try:
        while delivered < wanted:
            if _read_exact(stdout, raw.data.cast("B")) < raw.nbytes:
                break
            delivered += 1
            yield cv2.cvtColor(raw, cv2.COLOR_YUV2BGR_I420) if form == "bgr" else raw.copy()
        rc = proc.wait()
    finally:
        _stop(proc)
        stdout.close()
    if rc != 0:
        detail = tail.text()
        raise ProcessingError(
            f"ffmpeg failed decoding from frame {start_frame}", info.path, cause=os_cause(detail), detail=detail
        )
    if delivered < wanted:
        raise UnsupportedMedia(
            f"corrupt or truncated: decoding stopped at frame {start_frame + delivered} of {info.n_frames}", info.path
        )


def read_frames_reversed(
    info: VideoInfo, start_frame: int, stop_frame: int, max_chunk_bytes: int = 256 << 20, i420: bool = False
) -> Frames:
    """Frames start_frame, start_frame-1, ..., stop_frame+1 (as ``range(start, stop, -1)``).

    Video only decodes forwards, so this decodes chunks forwards (each from a seek) and emits
    each chunk back to front; at most ``max_chunk_bytes`` of frames are held at once.
    """
    if start_frame >= info.n_frames or stop_frame < -1:
        raise ValueError(f"frames {start_frame}..{stop_frame} outside the {info.n_frames} of {info.path}")
    return _decode_backwards(info, start_frame, stop_frame, max(1, max_chunk_bytes // info.frame_bytes), i420)


def _decode_backwards(info: VideoInfo, start_frame: int, stop_frame: int, chunk: int, i420: bool = False) -> Frames:
    high = start_frame
    while high > stop_frame:
        low = max(stop_frame + 1, high - chunk + 1)
        frames = list(read_frames(info, low, high - low + 1, i420))
        while frames:
            yield frames.pop()  # pop: a frame is freed as soon as the consumer drops it
        high = low - 1


# --------------------------------------------------------------------------- encoding


class FrameWriter:
    """Encodes BGR frames to an H.264 file, all-or-nothing.

    Frames go to a hidden temp file next to ``out_path`` that is renamed into place only when
    ffmpeg finished cleanly. If the ``with`` body raises, ffmpeg is killed, the temp file removed
    and the body's exception propagates; if ffmpeg fails, ProcessingError carries its stderr.
    """

    def __init__(
        self,
        out_path: str | Path,
        width: int,
        height: int,
        fps: Fraction | float,
        crf: int = 18,
        preset: str = "veryfast",
        audio: str | Path | None = None,
        audio_bitrate: str = "192k",
    ):
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"frame size must be positive and even for H.264, got {width}x{height}")
        self.out_path = _check_output(out_path)
        self.width, self.height = width, height
        self.frames_written = 0
        self._tmp = _temp_sibling(self.out_path)
        args = encode_args(
            self._tmp,
            width,
            height,
            Fraction(fps).limit_denominator(1001),
            crf,
            preset,
            pix_fmt_in=PIPE_PIX_FMT,
            audio=audio,
            audio_bitrate=audio_bitrate,
        )
        self._proc = _popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self._tail = _StderrTail(self._proc.stderr)
        self._closed = False

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc_type is not None:
            self.abort()
            return False
        self.close()
        return False

    @property
    def _stdin(self) -> IO[bytes]:
        assert self._proc.stdin is not None  # opened with stdin=PIPE
        return self._proc.stdin

    def write(self, frame: np.ndarray) -> None:
        """One frame: (height, width, 3) BGR, or (height * 3 / 2, width) I420 as
        read_frames(..., i420=True) gives, which goes to the encoder untouched."""
        if self._closed:
            raise ValueError(f"FrameWriter for {self.out_path} is closed")
        if frame.dtype != np.uint8 or frame.shape not in (
            (self.height, self.width, 3),
            (self.height * 3 // 2, self.width),
        ):
            raise ValueError(
                f"expected a {self.height}x{self.width}x3 BGR or a "
                f"{self.height * 3 // 2}x{self.width} I420 uint8 frame, got "
                f"{frame.shape} {frame.dtype}"
            )
        yuv = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)  # see SWS_FLAGS
        try:
            self._stdin.write(np.ascontiguousarray(yuv).data.cast("B"))
        except (BrokenPipeError, OSError) as err:
            raise self._failure("ffmpeg stopped accepting frames") from err
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._closed:
            return self.out_path
        if self.frames_written == 0:
            self.abort()
            raise ProcessingError("no frames were written", self.out_path)
        try:
            self._stdin.close()
        except (BrokenPipeError, OSError):
            pass  # ffmpeg already gone: its exit status says why
        if self._proc.wait() != 0:
            raise self._failure("ffmpeg failed encoding")
        try:
            os.replace(self._tmp, self.out_path)
        except OSError as err:
            raise self._failure(f"cannot move the finished video into place ({err})") from err
        self._closed = True
        return self.out_path

    def abort(self) -> None:
        """Kill ffmpeg and leave no file behind."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stdin.close()
        except (BrokenPipeError, OSError):
            pass
        _stop(self._proc)
        _remove(self._tmp)

    def _failure(self, what: str) -> ProcessingError:
        try:  # ffmpeg closed the pipe because it is ending: let it end, to tell how
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        how = _how_it_ended(self._proc.returncode)
        self.abort()
        detail = self._tail.text()
        return ProcessingError(
            what + (f" ({how})" if how else ""), self.out_path, cause=os_cause(detail), detail=detail
        )


# Bump when mux's output for the same video and audio changes.
MUX_VERSION = "1"


def mux(video_path: str | Path, audio_path: str | Path, out_path: str | Path, audio_bitrate: str = "192k") -> Path:
    """The video stream of ``video_path`` with the audio of ``audio_path``, written atomically."""
    probe_video(video_path)
    probe_audio(audio_path)
    with atomic_output(out_path) as tmp:
        done = run_tool(mux_args(video_path, audio_path, tmp, audio_bitrate))
        if done.returncode != 0:
            detail = stderr_tail(done.stderr)
            raise ProcessingError(
                f"ffmpeg failed muxing {video_path} with {audio_path}", out_path, cause=os_cause(detail), detail=detail
            )
    return Path(out_path)
