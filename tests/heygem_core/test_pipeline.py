"""``heygem lipsync`` end to end on the real fixtures, through the CLI entry point."""

import json
import subprocess

import numpy as np
import pytest

from heygem_core import audio as audio_mod
from heygem_core import media
from cli import main
from tests.paths import LANGUAGE_AUDIO, VIDEOS


def _streams(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _run(cache, *args):
    return main(["lipsync", "--cache-dir", str(cache), *map(str, args)])


@pytest.mark.slow
def test_output_keeps_size_and_fps_and_lasts_as_long_as_the_audio(tmp_path, cache, capsys):
    out = tmp_path / "katie_fr.mp4"
    assert _run(cache, "--video", VIDEOS["katie_8s"], "--audio", LANGUAGE_AUDIO["fr"], "-o", out) == 0
    assert "wrote" in capsys.readouterr().out
    info = _streams(out)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    sound = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert len(video) == 1 and len(sound) == 1
    assert (video[0]["width"], video[0]["height"]) == (512, 512)
    assert video[0]["r_frame_rate"] == "25/1" and video[0]["pix_fmt"] == "yuv420p"
    audio_seconds = media.probe_audio(LANGUAGE_AUDIO["fr"]).duration
    assert abs(int(video[0]["nb_frames"]) / 25 - audio_seconds) <= 1 / 25 + 1e-6
    assert sound[0]["codec_name"] == "aac"
    # The sound is the new audio, loudness-normalised: same waveform as normalising it alone.
    ref = audio_mod.load_audio(audio_mod.normalize_loudness(LANGUAGE_AUDIO["fr"], tmp_path / "ref.wav"))
    got = audio_mod.load_audio(out)
    # AAC adds a small encoder delay: find it from the first half second, then compare.
    lag = int(np.argmax(np.correlate(got.pcm[:16000], ref.pcm[800:8800], "valid"))) - 800
    m = min(len(ref.pcm), len(got.pcm) - max(lag, 0)) - 1600
    seg_ref, seg_got = ref.pcm[800 : 800 + m], got.pcm[800 + lag : 800 + lag + m]
    assert np.corrcoef(seg_ref[:m], seg_got[:m])[0, 1] > 0.98


@pytest.mark.slow
def test_longer_audio_plays_the_video_back_and_forth(tmp_path, cache):
    # 8 s video, ~15 s audio: German + English joined.
    long_audio = tmp_path / "long.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(LANGUAGE_AUDIO["de"]),
            "-i",
            str(LANGUAGE_AUDIO["en"]),
            "-filter_complex",
            "[0:a]aformat=sample_rates=16000:channel_layouts=mono[a];"
            "[1:a]aformat=sample_rates=16000:channel_layouts=mono[b];[a][b]concat=n=2:v=0:a=1",
            str(long_audio),
        ],
        check=True,
    )
    out = tmp_path / "long.mp4"
    assert _run(cache, "--video", VIDEOS["katie_8s"], "--audio", long_audio, "-o", out) == 0
    frames = int([s for s in _streams(out)["streams"] if s["codec_type"] == "video"][0]["nb_frames"])
    assert abs(frames / 25 - media.probe_audio(long_audio).duration) <= 1 / 25 + 1e-6


@pytest.mark.slow
def test_shorter_audio_cuts_the_video(tmp_path, cache):
    short = tmp_path / "short.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(LANGUAGE_AUDIO["en"]), "-t", "3", str(short)], check=True)
    out = tmp_path / "short.mp4"
    assert _run(cache, "--video", VIDEOS["chaplin_7s"], "--audio", short, "-o", out) == 0
    video = [s for s in _streams(out)["streams"] if s["codec_type"] == "video"][0]
    assert int(video["nb_frames"]) == 90 and (video["width"], video["height"]) == (850, 480)


def test_run_ahead_keeps_order_and_raises_the_workers_error():
    from heygem_core.pipeline import run_ahead

    assert list(run_ahead(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad frame 2")

    got = []
    with pytest.raises(ValueError, match="bad frame 2"):
        for item in run_ahead(failing()):
            got.append(item)
    assert got == [1]


def test_closing_run_ahead_closes_the_source_in_its_thread():
    import threading

    from heygem_core.pipeline import run_ahead

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    ahead = run_ahead(endless(), depth=2)
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()
    assert closed.wait(5), "the source generator was not closed"


def test_bad_audio_stops_a_cold_tracking_at_once(tmp_path):
    # Normalisation runs beside the tracking; its error must end the job then, not after the
    # whole video was tracked: no track reaches the cache, the message names the audio.
    from heygem_core.config import Settings
    from heygem_core.errors import NoAudio
    from heygem_core.pipeline import lipsync

    silent = tmp_path / "silent.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "3", str(silent)], check=True
    )
    settings = Settings(cache_dir=tmp_path / "cache")
    with pytest.raises(NoAudio, match="silent"):
        lipsync(VIDEOS["sun_silent_22s"], silent, tmp_path / "out.mp4", settings=settings)
    assert not list((tmp_path / "cache").rglob("*.parquet")), "the tracking ran to the end"
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.slow
def test_a_faceless_video_fails_without_planning_the_audio(tmp_path, monkeypatch):
    # The phonetic plan runs beside the tracking but waits for its first face: a video
    # without one fails with its own message and no long audio work was spent on it.
    from heygem_core import pipeline
    from heygem_core.config import Settings
    from heygem_core.errors import NoFaceFound

    planned = []
    real = pipeline.analyse_audio
    monkeypatch.setattr(pipeline, "analyse_audio", lambda *a, **k: planned.append(1) or real(*a, **k))
    clip = tmp_path / "faceless.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    settings = Settings(cache_dir=tmp_path / "cache")
    with pytest.raises(NoFaceFound, match="faceless.mp4"):
        pipeline.lipsync(clip, LANGUAGE_AUDIO["de"], tmp_path / "out.mp4", settings=settings)
    assert planned == [], "the audio was planned for a video without a face"
    # With a face (cached track or not) the plan is made.
    pipeline.lipsync(VIDEOS["katie_8s"], LANGUAGE_AUDIO["de"], tmp_path / "out.mp4", settings=settings)
    assert planned == [1]
