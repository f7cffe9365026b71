"""heygem_core.media against real ffmpeg and the shared fixture recordings.

Full decodes are hashed per frame (session cache) so that pixel-exact comparisons do not keep
whole videos in memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from heygem_core import media
from heygem_core.errors import InputError, MissingFile, NoAudio, ProcessingError, UnsupportedMedia
from heygem_core.media import FrameWriter, VideoInfo

CHAPLIN = "video/chaplin_7s.mp4"
KATIE = "video/katie_8s.mp4"
SUN = "video/sun_silent_22s.mp4"


# --------------------------------------------------------------------------- helpers


def _digest(frame: np.ndarray) -> str:
    return hashlib.sha1(frame.tobytes()).hexdigest()


_HASHES: dict[Path, list[str]] = {}


def full_read_hashes(info: VideoInfo) -> list[str]:
    """Per-frame hashes of a full read from frame 0, computed once per file."""
    if info.path not in _HASHES:
        _HASHES[info.path] = [_digest(f) for f in media.read_frames(info)]
    return _HASHES[info.path]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ffprobe_streams(path: Path) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)["streams"]


def assert_names_file(err: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message.lower(), message


def fake_info(**overrides) -> VideoInfo:
    base = dict(
        path=Path("in.mp4"),
        width=850,
        height=480,
        fps=Fraction(30),
        n_frames=210,
        duration=7.0,
        rotation=0,
        vfr=False,
        has_audio=True,
        codec="h264",
        pix_fmt="yuv420p",
    )
    return VideoInfo(**{**base, **overrides})


@pytest.fixture(scope="session")
def katie(fixtures_dir) -> VideoInfo:
    return media.probe_video(fixtures_dir / KATIE)


@pytest.fixture(scope="session")
def chaplin(fixtures_dir) -> VideoInfo:
    return media.probe_video(fixtures_dir / CHAPLIN)


@pytest.fixture(scope="session")
def sun(fixtures_dir) -> VideoInfo:
    return media.probe_video(fixtures_dir / SUN)


# --------------------------------------------------------------------------- pure argument builders


def test_decode_args_from_start():
    assert media.decode_args(fake_info()) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-copyts",
        "-i",
        "in.mp4",
        "-map",
        "0:0",
        "-vf",
        "fps=30",
        "-fps_mode",
        "passthrough",
        "-sws_flags",
        "accurate_rnd+full_chroma_int",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "pipe:1",
    ]


def test_decode_args_seek_trims_by_exact_frame_pts():
    args = media.decode_args(fake_info(), start_frame=60, count=10)
    assert args == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-noaccurate_seek",
        "-ss",
        "1.500000",  # 0.5 s before frame 60 at 30 fps
        "-copyts",
        "-i",
        "in.mp4",
        "-map",
        "0:0",
        "-vf",
        "fps=30,trim=start_pts=60",
        "-frames:v",
        "10",
        "-fps_mode",
        "passthrough",
        "-sws_flags",
        "accurate_rnd+full_chroma_int",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "pipe:1",
    ]


def test_decode_args_near_start_does_not_seek():
    args = media.decode_args(fake_info(), start_frame=5)
    assert "-ss" not in args
    assert "fps=30,trim=start_pts=5" in args


def test_decode_args_odd_size_crops_and_offset_start_shifts_grid():
    info = fake_info(width=853, height=481, fps=Fraction(30000, 1001), stream_index=2, start_time=1.0)
    args = media.decode_args(info, start_frame=3, pix_fmt="rgb24")
    assert args[args.index("-vf") + 1] == "fps=30000/1001,trim=start_pts=33,crop=852:480:0:0"
    assert args[args.index("-map") + 1] == "0:2"
    assert args[args.index("-pix_fmt") + 1] == "rgb24"


def test_encode_args():
    assert media.encode_args(Path("out/x.mp4"), 640, 360, Fraction(30000, 1001)) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "-video_size",
        "640x360",
        "-framerate",
        "30000/1001",
        "-i",
        "pipe:0",
        "-an",
        "-sws_flags",
        "accurate_rnd+full_chroma_int",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-fps_mode",
        "passthrough",
        "-movflags",
        "+faststart",
        "out/x.mp4",
    ]


def test_encode_args_options():
    args = media.encode_args("o.mp4", 2, 2, Fraction(25), crf=23, preset="slow", pix_fmt_in="rgb24")
    assert args[args.index("-crf") + 1] == "23"
    assert args[args.index("-preset") + 1] == "slow"
    assert args[args.index("-pix_fmt") + 1] == "rgb24"


def test_mux_args():
    assert media.mux_args("v.mp4", Path("a.wav"), "o.mp4") == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        "v.mp4",
        "-i",
        "a.wav",
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-movflags",
        "+faststart",
        "o.mp4",
    ]
    assert "-shortest" not in media.mux_args("v", "a", "o", audio_bitrate="128k")


def test_probe_args():
    assert media.probe_args("x.mov") == [
        "ffprobe",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "x.mov",
    ]


def test_out_size_is_even():
    info = fake_info(width=853, height=481)
    assert (info.out_width, info.out_height, info.frame_bytes) == (852, 480, 852 * 480 * 3)


# --------------------------------------------------------------------------- probing the fixtures


@pytest.mark.parametrize(
    "name, size, fps, n_frames, has_audio, codec",
    [
        (CHAPLIN, (850, 480), 30, 210, True, "h264"),
        (KATIE, (512, 512), 25, 200, True, "mpeg4"),
        (SUN, (576, 768), 25, 550, False, "h264"),
    ],
)
def test_probe_video_fixtures(fixtures_dir, name, size, fps, n_frames, has_audio, codec):
    info = media.probe_video(fixtures_dir / name)
    assert (info.width, info.height) == size
    assert info.fps == fps
    assert info.n_frames == n_frames
    assert info.duration == pytest.approx(n_frames / fps)
    assert info.has_audio is has_audio
    assert info.codec == codec
    assert info.pix_fmt == "yuv420p"
    assert (info.rotation, info.vfr, info.notes) == (0, False, ())


def test_probe_audio_of_video_and_wav(fixtures_dir):
    a = media.probe_audio(fixtures_dir / KATIE)
    assert (a.sample_rate, a.channels, a.codec) == (16000, 2, "aac")
    assert a.duration == pytest.approx(8.0, abs=0.1)
    w = media.probe_audio(fixtures_dir / "audio/de_9s.wav")
    assert (w.sample_rate, w.channels, w.codec) == (48000, 2, "pcm_s24le")


def test_probe_raw_json(fixtures_dir):
    data = media.probe(fixtures_dir / CHAPLIN)
    assert [s["codec_type"] for s in data["streams"]] == ["video", "audio"]


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("name", [CHAPLIN, KATIE, SUN])
def test_read_frames_yields_n_frames(fixtures_dir, name):
    info = media.probe_video(fixtures_dir / name)
    hashes = full_read_hashes(info)
    assert len(hashes) == info.n_frames
    frame = next(media.read_frames(info))
    assert frame.shape == (info.out_height, info.out_width, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize("name, start", [(KATIE, 0), (SUN, 249), (CHAPLIN, 105)])
def test_gray_frames_are_the_bgr_frames_in_grey(fixtures_dir, name, start):
    info = media.probe_video(fixtures_dir / name)
    grey = list(media.read_gray_frames(info, start, 3))
    bgr = list(media.read_frames(info, start, 3))
    assert len(grey) == 3
    for g, frame in zip(grey, bgr):
        assert g.shape == (info.out_height, info.out_width) and g.dtype == np.uint8
        diff = np.abs(g.astype(int) - cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        # Rounding differs by a level here and there; more only where a colour clipped in BGR.
        assert diff.mean() < 0.5 and np.mean(diff > 1) < 0.05, name
    assert len(list(media.read_gray_frames(info, info.n_frames - 2))) == 2
    with pytest.raises(ValueError):
        media.read_gray_frames(info, info.n_frames + 1)


@pytest.mark.parametrize(
    "name, starts",
    [
        (KATIE, [1, 11, 12, 13, 100, 187, 199]),  # keyframe every 12 frames
        (SUN, [13, 249, 250, 251, 549]),  # keyframes at 250 and 500
        (CHAPLIN, [105, 209]),  # a single keyframe at 0
    ],
)
def test_seek_is_frame_exact(fixtures_dir, name, starts):
    info = media.probe_video(fixtures_dir / name)
    hashes = full_read_hashes(info)
    for k in starts:
        got = [_digest(f) for f in media.read_frames(info, start_frame=k, count=4)]
        assert got == hashes[k : k + 4], f"start_frame={k}"


def test_read_frames_count_and_bounds(katie):
    assert len(list(media.read_frames(katie, 195, count=50))) == 5
    assert list(media.read_frames(katie, katie.n_frames)) == []
    assert list(media.read_frames(katie, 10, count=0)) == []
    with pytest.raises(ValueError):
        media.read_frames(katie, katie.n_frames + 1)  # raised at the call, not at first next()
    with pytest.raises(ValueError):
        media.read_frames(katie, 0, count=-1)
    with pytest.raises(ValueError):
        media.read_frames_reversed(katie, katie.n_frames, 3)


def test_decoder_ending_early_is_reported(katie):
    # The file holds 200 frames; a record promising more means the data went missing.
    longer = dataclasses.replace(katie, n_frames=katie.n_frames + 3)
    with pytest.raises(UnsupportedMedia) as err:
        for _ in media.read_frames(longer, 190):
            pass
    assert_names_file(err, katie.path, "truncated", "frame 200 of 203")


def test_decoder_failure_is_a_processing_error(katie, media_factory):
    path = media_factory.ffmpeg("vanishing.mp4", "-i", str(katie.path), "-t", "1", "-c", "copy")
    info = dataclasses.replace(media.probe_video(path), path=path.with_name("vanished.mp4"))
    with pytest.raises(ProcessingError) as err:
        list(media.read_frames(info))
    assert "vanished.mp4" in str(err.value)


def test_closing_the_generator_kills_ffmpeg(katie, monkeypatch):
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(media.subprocess, "Popen", recording_popen)
    frames = media.read_frames(katie)
    next(frames)
    frames.close()
    assert len(started) == 1 and started[0].poll() is not None


def test_read_frames_reversed_matches_forward(katie):
    hashes = full_read_hashes(katie)
    small = katie.frame_bytes * 7  # several chunks, and one that straddles a keyframe
    got = [_digest(f) for f in media.read_frames_reversed(katie, 60, 20, max_chunk_bytes=small)]
    assert got == [hashes[i] for i in range(60, 20, -1)]
    to_zero = [_digest(f) for f in media.read_frames_reversed(katie, 9, -1, max_chunk_bytes=small)]
    assert to_zero == [hashes[i] for i in range(9, -1, -1)]
    assert list(media.read_frames_reversed(katie, 5, 5)) == []


# --------------------------------------------------------------------------- encoding and muxing


def _round_trip(info: VideoInfo, out: Path, crf: int, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    source = list(media.read_frames(info, 0, n))
    started = time.perf_counter()
    with FrameWriter(out, info.out_width, info.out_height, info.fps, crf=crf) as writer:
        for frame in source:
            writer.write(frame)
    print(
        f"\nFrameWriter crf {crf} veryfast {info.out_width}x{info.out_height}: "
        f"{len(source) / (time.perf_counter() - started):.0f} fps"
    )
    decoded = list(media.read_frames(media.probe_video(out)))
    return source, decoded


def test_frame_writer_round_trip(chaplin, tmp_path):
    out = tmp_path / "round.mp4"
    source, decoded = _round_trip(chaplin, out, crf=18, n=40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round.mp4"]
    info = media.probe_video(out)
    assert (info.width, info.height, info.fps, info.n_frames) == (850, 480, 30, 40)
    assert (info.codec, info.pix_fmt, info.has_audio) == ("h264", "yuv420p", False)
    assert len(decoded) == 40
    worst = min(psnr(a, b) for a, b in zip(source, decoded))
    print(f"chaplin crf 18 round trip: worst frame PSNR {worst:.1f} dB")
    assert worst > 40, worst


def test_colour_round_trip_is_unbiased(katie, tmp_path):
    # Lossless x264: what is left is the BGR<->YUV conversion, which must not shift colours
    # (ffmpeg's default swscale path darkens by ~2 levels, PSNR ~41 dB).
    source, decoded = _round_trip(katie, tmp_path / "lossless.mp4", crf=0, n=15)
    assert min(psnr(a, b) for a, b in zip(source, decoded)) > 55
    bias = np.mean([b.astype(np.float64).mean() - a.mean() for a, b in zip(source, decoded)])
    assert abs(bias) < 0.1, bias


def test_i420_frames_pass_through_the_writer_exactly(katie, tmp_path):
    """Frames read as I420 and written back untouched reach x264 as decoded: with lossless
    x264 the output's planes equal the input's, bit for bit."""
    source = list(media.read_frames(katie, 0, 10, i420=True))
    assert source[0].shape == (katie.out_height * 3 // 2, katie.out_width)
    bgr = next(media.read_frames(katie, 0, 1))
    assert np.array_equal(cv2.cvtColor(source[0], cv2.COLOR_YUV2BGR_I420), bgr)
    out = tmp_path / "planes.mp4"
    with FrameWriter(out, katie.out_width, katie.out_height, katie.fps, crf=0) as writer:
        for frame in source:
            writer.write(frame)
    back = list(media.read_frames(media.probe_video(out), i420=True))
    assert len(back) == 10 and all(np.array_equal(a, b) for a, b in zip(source, back))


def test_frame_writer_muxes_audio_in_the_same_pass(katie, fixtures_dir, tmp_path):
    out = tmp_path / "with_sound.mp4"
    with FrameWriter(
        out, katie.out_width, katie.out_height, katie.fps, audio=fixtures_dir / "audio/fr_7s.wav"
    ) as writer:
        for frame in media.read_frames(katie, 0, 25, i420=True):
            writer.write(frame)
    info = media.probe_video(out)
    assert info.n_frames == 25 and info.has_audio
    sound = media.probe_audio(out)
    expected = media.probe_audio(fixtures_dir / "audio/fr_7s.wav").duration
    assert sound.codec == "aac" and sound.duration == pytest.approx(expected, abs=0.05)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["with_sound.mp4"]


def test_encode_args_with_audio():
    args = media.encode_args("o.mp4", 4, 4, Fraction(25), audio="voice.wav", audio_bitrate="128k")
    assert "-an" not in args
    i = args.index("voice.wav")
    assert args[i - 1] == "-i" and args[i + 1 : i + 9] == [
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
    ]


def test_frame_writer_keeps_exact_frame_count_at_ntsc_rate(tmp_path):
    out = tmp_path / "ntsc.mp4"
    with FrameWriter(out, 64, 48, Fraction(30000, 1001)) as writer:
        for i in range(37):
            writer.write(np.full((48, 64, 3), i * 6, np.uint8))
    info = media.probe_video(out)
    assert (info.fps, info.n_frames, info.vfr) == (Fraction(30000, 1001), 37, False)


def test_frame_writer_leaves_no_file_when_the_body_raises(tmp_path):
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with FrameWriter(out, 64, 48, 25) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_frame_writer_reports_ffmpeg_failure_and_leaves_no_file(tmp_path):
    out = tmp_path / "bad.mp4"
    with pytest.raises(ProcessingError) as err:
        with FrameWriter(out, 64, 48, 25, preset="no-such-preset") as writer:
            for _ in range(200):  # ffmpeg exits at start-up: a write or the close notices
                writer.write(np.zeros((48, 64, 3), np.uint8))
    assert str(out) in str(err.value) and "preset" in str(err.value).lower()
    assert list(tmp_path.iterdir()) == []


def test_frame_writer_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError):
        FrameWriter(tmp_path / "odd.mp4", 853, 480, 25)
    with pytest.raises(MissingFile):
        FrameWriter(tmp_path / "no" / "dir.mp4", 64, 48, 25)
    with FrameWriter(tmp_path / "x.mp4", 64, 48, 25) as writer:
        with pytest.raises(ValueError):
            writer.write(np.zeros((48, 64), np.uint8))
        writer.write(np.zeros((48, 64, 3), np.uint8))


def test_frame_writer_with_no_frames_is_an_error(tmp_path):
    with pytest.raises(ProcessingError, match="no frames"):
        with FrameWriter(tmp_path / "empty.mp4", 64, 48, 25):
            pass
    assert list(tmp_path.iterdir()) == []


def test_mux_one_video_one_audio(fixtures_dir, tmp_path):
    out = media.mux(fixtures_dir / KATIE, fixtures_dir / "audio/en_radio_8s.wav", tmp_path / "m.mp4")
    assert out == tmp_path / "m.mp4"
    streams = ffprobe_streams(out)
    assert sorted(s["codec_type"] for s in streams) == ["audio", "video"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert video["codec_name"] == "mpeg4" and int(video["nb_frames"]) == 200  # copied
    assert audio["codec_name"] == "aac"
    assert float(audio["duration"]) == pytest.approx(8.0, abs=0.05)
    assert media.probe_video(out).duration == pytest.approx(8.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mp4"]


def test_mux_rejects_audio_without_sound(fixtures_dir, tmp_path):
    with pytest.raises(NoAudio) as err:
        media.mux(fixtures_dir / KATIE, fixtures_dir / SUN, tmp_path / "m.mp4")
    assert_names_file(err, fixtures_dir / SUN, "no audio stream")
    with pytest.raises(MissingFile):
        media.mux(fixtures_dir / KATIE, tmp_path / "gone.wav", tmp_path / "m.mp4")
    assert list(tmp_path.iterdir()) == []


def test_sha256_file(fixtures_dir, tmp_path):
    path = fixtures_dir / CHAPLIN
    assert media.sha256_file(path, chunk=4096) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(MissingFile):
        media.sha256_file(tmp_path / "nope")


# --------------------------------------------------------------------------- bad and unusual input


def test_missing_file(tmp_path):
    with pytest.raises(MissingFile) as err:
        media.probe_video(tmp_path / "nope.mp4")
    assert_names_file(err, tmp_path / "nope.mp4", "not found")
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, InputError)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(MissingFile) as err:
        media.probe_video(tmp_path)
    assert_names_file(err, tmp_path, "directory")


def test_zero_byte_file(media_factory):
    path = media_factory.write_bytes("zero_bytes.mp4", b"")
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(path)
    assert_names_file(err, path, "empty", "0 bytes")


@pytest.mark.parametrize("name", ["random_bytes.mp4", "random_bytes.bin"])
def test_garbage_bytes(media_factory, name):
    path = media_factory.write_bytes(name, np.random.default_rng(1).bytes(100_000))
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(path)
    assert_names_file(err, path, "not a media file")


def test_text_file(media_factory):
    path = media_factory.write_bytes("notes.txt", b"this is a lecture outline, not a video\n" * 50)
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(path)
    assert_names_file(err, path, "not a media file")


def test_truncated_mp4_without_index(fixtures_dir, media_factory):
    # The fixtures keep their index (moov) at the end, as cameras write it: cut in half, it is gone.
    path = media_factory.truncated("cut_in_half.mp4", fixtures_dir / CHAPLIN)
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(path)
    assert_names_file(err, path, "truncated", "moov")


def test_truncated_faststart_mp4(fixtures_dir, media_factory):
    # Index first (as for streaming): the header survives the cut but half the frames do not.
    whole = media_factory.ffmpeg(
        "faststart.mp4", "-i", str(fixtures_dir / CHAPLIN), "-c", "copy", "-movflags", "+faststart"
    )
    path = media_factory.truncated("faststart_cut.mp4", whole)
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(path)
    assert_names_file(err, path, "truncated", "210 video frames")


def test_audio_only_file_as_video(fixtures_dir, media_factory):
    m4a = media_factory.ffmpeg("voice.m4a", "-i", str(fixtures_dir / "audio/fr_7s.wav"), "-t", "1")
    for path in (m4a, fixtures_dir / "audio/fr_7s.wav"):
        with pytest.raises(UnsupportedMedia) as err:
            media.probe_video(path)
        assert_names_file(err, path, "no video stream", "audio-only")


def test_still_image_is_not_a_video(fixtures_dir, media_factory):
    png = media_factory.ffmpeg("still.png", "-i", str(fixtures_dir / KATIE), "-frames:v", "1")
    with pytest.raises(UnsupportedMedia) as err:
        media.probe_video(png)
    assert_names_file(err, png, "still image")


def test_video_without_audio_as_audio(fixtures_dir):
    with pytest.raises(NoAudio) as err:
        media.probe_audio(fixtures_dir / SUN)
    assert_names_file(err, fixtures_dir / SUN, "no audio stream")


def test_rotated_phone_video_comes_out_upright(chaplin, media_factory):
    # Stream copy with a rotation flag: the pixels are stored landscape, shown portrait.
    path = media_factory.ffmpeg("rotated.mp4", "-i", str(chaplin.path), "-c", "copy", "-metadata:s:v", "rotate=90")
    info = media.probe_video(path)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (480, 850)
    assert any("rotated" in note for note in info.notes)
    frame = next(media.read_frames(info, 40, 1))
    assert frame.shape == (850, 480, 3)
    stored = next(media.read_frames(chaplin, 40, 1))
    # rotation is clockwise; np.rot90 turns counter-clockwise for positive k
    np.testing.assert_array_equal(frame, np.rot90(stored, k=-info.rotation // 90))


def test_variable_frame_rate_is_resampled(katie, media_factory):
    # First 4 s at 25 fps, then frames 1/15 s apart: a phone slowing down in low light.
    path = media_factory.ffmpeg(
        "vfr.mp4",
        "-i",
        str(katie.path),
        "-an",
        "-vf",
        "setpts='if(lt(N,100),N/25,4+(N-100)/15)/TB'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
    )
    info = media.probe_video(path)
    assert info.vfr
    assert any("variable frame rate" in note for note in info.notes)
    assert info.duration == pytest.approx(4 + 100 / 15, abs=0.2)
    hashes = [_digest(f) for f in media.read_frames(info)]
    assert len(hashes) == info.n_frames
    assert info.n_frames == pytest.approx(info.duration * float(info.fps), abs=1)
    got = [_digest(f) for f in media.read_frames(info, 150, 5)]
    assert got == hashes[150:155]


def test_odd_dimensions_are_cropped_even(chaplin, media_factory):
    # 4:4:4 because x264 refuses odd sizes in 4:2:0, which is exactly why we crop.
    path = media_factory.ffmpeg(
        "odd.mp4",
        "-i",
        str(chaplin.path),
        "-t",
        "1",
        "-vf",
        "scale=853:481",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv444p",
        "-preset",
        "ultrafast",
    )
    info = media.probe_video(path)
    assert (info.width, info.height, info.out_width, info.out_height) == (853, 481, 852, 480)
    assert any("odd size 853x481" in note for note in info.notes)
    frames = list(media.read_frames(info))
    assert len(frames) == info.n_frames == 30
    assert frames[0].shape == (480, 852, 3)


def test_ten_bit_video(chaplin, media_factory):
    path = media_factory.ffmpeg(
        "ten_bit.mp4",
        "-i",
        str(chaplin.path),
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p10le",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
    )
    info = media.probe_video(path)
    assert info.pix_fmt == "yuv420p10le"
    assert any("10-bit" in note for note in info.notes)
    frames = list(media.read_frames(info))
    assert len(frames) == info.n_frames == 30 and frames[0].dtype == np.uint8
    assert psnr(frames[10], next(media.read_frames(chaplin, 10, 1))) > 35


# --------------------------------------------------------------------------- memory


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def test_streaming_memory_stays_flat_1080p(media_factory):
    """Measured, not asserted strictly: resident memory while reading a 1080p clip."""
    path = media_factory.ffmpeg(
        "hd.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=25",
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
    )
    info = media.probe_video(path)
    samples = []
    started = time.perf_counter()
    for i, _ in enumerate(media.read_frames(info)):
        if i % 10 == 0:
            samples.append(_rss_bytes())
    seconds = time.perf_counter() - started
    early, late = max(samples[: len(samples) // 2]), max(samples[len(samples) // 2 :])
    print(
        f"\n1080p read of {info.n_frames} frames: {info.n_frames / seconds:.0f} fps, RSS "
        f"first half {early / 2**20:.0f} MiB, second half {late / 2**20:.0f} MiB"
    )
    assert late - early < 64 * 2**20  # a leak of one frame per step would be ~400 MiB
