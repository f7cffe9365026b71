"""probe_video + read_frames and probe_audio + load_audio on damaged media: a typed error
naming the file, or a sane answer; never another exception, never a hang.

The inputs are real media bytes (small clips cut from the shared fixtures, and one fixture as
is) mutated the way files get damaged: cut short, bytes overwritten in the header or the MP4
index, bits flipped anywhere, two files spliced, or plain noise under a media extension.
Examples are derandomized (the same ones every run: CI never flakes on a new draw) and nothing
is written to a Hypothesis database.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heygem_core import audio, media
from heygem_core.errors import HeygemError, ProcessingError, UnsupportedMedia
from tests.hardening import badmedia
from tests.paths import LANGUAGE_AUDIO

EXTENSIONS = (".mp4", ".mov", ".mkv", ".m4a", ".wav", ".mp3", ".webm", ".bin")
FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Decoding a mutated file whose probe passed: only this many frames at most (the clips are 1 s).
MAX_DECODE = 60


@pytest.fixture(scope="module")
def seeds(media_factory) -> dict[str, bytes]:
    """Small, real, well-formed files of the kinds users bring."""
    f = media_factory
    clip = f.ffmpeg(
        "hm_fuzz_clip.mp4",
        "-i",
        badmedia.KATIE,
        "-t",
        "1",
        "-vf",
        "scale=128:128",
        *badmedia.X264,
        "-c:a",
        "aac",
        "-b:a",
        "32k",
    )
    paths = {
        "mp4": clip,  # index (moov) at the end, as ffmpeg and most cameras write it
        "mp4_faststart": f.ffmpeg("hm_fuzz_faststart.mp4", "-i", str(clip), "-c", "copy", "-movflags", "+faststart"),
        "mkv": f.ffmpeg("hm_fuzz_clip.mkv", "-i", str(clip), "-c", "copy"),
        "m4a": f.ffmpeg("hm_fuzz_clip.m4a", "-i", str(clip), "-vn", "-c:a", "copy"),
        "wav": f.ffmpeg("hm_fuzz_clip.wav", "-i", badmedia.EN, "-t", "1", "-c:a", "pcm_s16le"),
        "fixture_wav": LANGUAGE_AUDIO["fr"],
    }
    return {name: p.read_bytes() for name, p in paths.items()}


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _index_offset(data: bytes) -> int:
    """Where the MP4 index starts (the moov box), or the header when there is none."""
    at = data.find(b"moov")
    return max(at - 4, 0) if at >= 0 else 0


@st.composite
def damaged(draw, seeds: dict[str, bytes]) -> tuple[str, bytes, str]:
    """(description, bytes, file extension) of one damaged file."""
    names = sorted(seeds)
    name = draw(st.sampled_from(names))
    data = seeds[name]
    kind = draw(st.sampled_from(["truncate", "overwrite_header", "overwrite_index", "flip", "splice", "noise"]))
    if kind == "truncate":
        cut = draw(st.integers(0, len(data)))
        out, what = data[:cut], f"{name} cut at {cut} of {len(data)}"
    elif kind in ("overwrite_header", "overwrite_index"):
        start = 0 if kind == "overwrite_header" else _index_offset(data)
        at = draw(st.integers(start, min(start + 2048, len(data) - 1)))
        junk = draw(st.binary(min_size=1, max_size=64))
        out = data[:at] + junk + data[at + len(junk) :]
        what = f"{name} with {len(junk)} bytes overwritten at {at}"
    elif kind == "flip":
        flips = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)), min_size=1, max_size=24))
        buf = bytearray(data)
        for pos, mask in flips:
            buf[pos] ^= mask
        out, what = bytes(buf), f"{name} with {len(flips)} bytes xor-ed"
    elif kind == "splice":
        other = draw(st.sampled_from(names))
        i = draw(st.integers(0, len(data)))
        j = draw(st.integers(0, len(seeds[other])))
        out, what = data[:i] + seeds[other][j:], f"{name}[:{i}] + {other}[{j}:]"
    else:
        out = draw(st.binary(min_size=0, max_size=4096))
        what = f"{len(out)} random bytes"
    ext = draw(st.sampled_from(EXTENSIONS))
    return what, out, ext


_counter = itertools.count()


def _write(fuzz_dir: Path, data: bytes, ext: str) -> Path:
    path = fuzz_dir / f"damaged_{next(_counter):04d}{ext}"
    path.write_bytes(data)
    return path


def _names_file(err: HeygemError, path: Path) -> bool:
    return path.name in str(err)


def check_video(path: Path, what: str) -> None:
    try:
        info = media.probe_video(path)
    except HeygemError as err:
        assert _names_file(err, path), f"{what}: message does not name the file: {err}"
        return
    assert info.out_width > 0 and info.out_height > 0, (what, info)
    assert info.out_width % 2 == 0 and info.out_height % 2 == 0, (what, info)
    assert info.fps > 0 and info.n_frames >= 0, (what, info)
    assert math.isfinite(info.duration) and info.duration >= 0, (what, info)
    if info.n_frames > MAX_DECODE:
        return
    delivered = 0
    try:
        for frame in media.read_frames(info):
            assert frame.shape == (info.out_height, info.out_width, 3), (what, frame.shape)
            delivered += 1
    except (UnsupportedMedia, ProcessingError) as err:
        assert _names_file(err, path), f"{what}: message does not name the file: {err}"
        return
    assert delivered == info.n_frames, f"{what}: {delivered} frames decoded, probe promised {info.n_frames}"


def check_audio(path: Path, what: str) -> None:
    try:
        info = media.probe_audio(path)
    except HeygemError as err:
        assert _names_file(err, path), f"{what}: message does not name the file: {err}"
        return
    assert info.sample_rate > 0 and info.channels > 0, (what, info)
    assert math.isfinite(info.duration) and info.duration >= 0, (what, info)
    try:
        clip = audio.load_audio(path)
    except HeygemError as err:
        assert _names_file(err, path), f"{what}: message does not name the file: {err}"
        return
    assert clip.pcm.size > 0 and np.all(np.abs(clip.pcm) <= 1.0), what


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("check", [check_video, check_audio], ids=["video", "audio"])
def test_probes_on_damaged_files(seeds, fuzz_dir, check):
    """check_video: probe_video and read_frames; check_audio: probe_audio and load_audio."""

    @FUZZ
    @given(damaged(seeds))
    def run(case):
        what, data, ext = case
        path = _write(fuzz_dir, data, ext)
        try:
            check(path, what)
        finally:
            path.unlink()

    run()
