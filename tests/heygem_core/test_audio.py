"""heygem_core.audio against real ffmpeg and the shared fixture recordings."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from heygem_core import audio
from heygem_core.audio import Audio
from heygem_core.errors import MissingFile, NoAudio, UnsupportedMedia
from heygem_core.media import probe_audio

SPEECH = "audio/de_9s.wav"  # 48 kHz 24-bit stereo


def tone(freq: float, seconds: float, sr: int = 16000, amplitude: float = 0.5) -> Audio:
    t = np.arange(int(seconds * sr)) / sr
    return Audio(pcm=(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr=sr)


def silence(seconds: float, sr: int = 16000) -> Audio:
    return Audio(pcm=np.zeros(int(seconds * sr), np.float32), sr=sr)


def integrated_lufs(path: Path) -> float:
    """Independent measurement with ffmpeg's ebur128 filter (not the loudnorm under test)."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", done.stderr)[-1])


def _write_empty_wav(path: Path) -> None:
    with wave.open(str(path), "wb") as w:  # a valid header announcing no samples
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)


def assert_names_file(err: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message.lower(), message


@pytest.fixture(scope="session")
def speech_wav(fixtures_dir) -> Path:
    return fixtures_dir / SPEECH


@pytest.fixture(scope="session")
def reference_pcm(speech_wav) -> np.ndarray:
    """The first 2 s of the speech fixture, decoded from the lossless original."""
    return audio.load_audio(speech_wav).pcm[:32000]


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    "ext, codec_args, max_error",
    [
        ("wav", ["-c:a", "pcm_s16le"], 1e-3),
        ("flac", [], 1e-3),  # lossless: same samples as the original
        ("mp3", ["-b:a", "192k"], None),
        ("m4a", ["-c:a", "aac", "-b:a", "192k"], None),
        ("ogg", ["-c:a", "libvorbis"], None),
    ],
)
def test_load_audio_formats(speech_wav, reference_pcm, media_factory, ext, codec_args, max_error):
    path = media_factory.ffmpeg(f"speech.{ext}", "-i", str(speech_wav), "-t", "2", *codec_args)
    got = audio.load_audio(path)
    assert got.sr == 16000 and got.pcm.dtype == np.float32 and got.pcm.ndim == 1
    assert got.duration == pytest.approx(2.0, abs=0.06)  # AAC/MP3 add encoder padding
    assert np.abs(got.pcm).max() <= 1.0
    assert not audio.is_silent(got)
    if max_error is not None:
        # the last ms differ: the resampler sees the cut in one and more speech in the other
        assert np.abs(got.pcm[:31500] - reference_pcm[:31500]).max() < max_error
    else:
        # Lossy codecs may shift by their priming delay: compare loudness, not samples.
        assert 20 * np.log10(np.std(got.pcm) / np.std(reference_pcm)) == pytest.approx(0, abs=1)


def test_load_audio_track_of_a_video(fixtures_dir):
    got = audio.load_audio(fixtures_dir / "video/katie_8s.mp4")
    assert got.duration == pytest.approx(8.0, abs=0.05)
    assert not audio.is_silent(got)


@pytest.mark.parametrize(
    "name", ["en_radio_8s.wav", "zh_news_8s.wav", "de_9s.wav", "fr_7s.wav", "ja_9s.wav", "en_lecture_60s.wav"]
)
def test_load_audio_fixtures_resampled(fixtures_dir, name):
    path = fixtures_dir / "audio" / name
    got = audio.load_audio(path, sr=22050)
    assert got.sr == 22050
    assert got.duration == pytest.approx(probe_audio(path).duration, abs=0.01)
    assert not audio.is_silent(got)


def test_downmix_is_the_mean_of_the_channels(media_factory):
    # Left: a full-scale tone, right: silence. A plain -ac 1 would give 0.707, not 0.5.
    path = media_factory.ffmpeg(
        "left_only.wav",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=1",
        "-af",
        "volume=8,pan=stereo|c0=c0|c1=0*c0",
    )
    assert probe_audio(path).channels == 2
    mono = audio.load_audio(path, sr=48000).pcm
    assert np.abs(mono).max() == pytest.approx(0.5, abs=0.01)  # lavfi sine is 1/8 scale, x8


def test_resampling_keeps_the_pitch(media_factory):
    path = media_factory.ffmpeg(
        "tone_1k_44k.wav", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=1"
    )
    got = audio.load_audio(path, sr=16000)
    spectrum = np.abs(np.fft.rfft(got.pcm))
    assert np.argmax(spectrum) * got.sr / len(got.pcm) == pytest.approx(1000, abs=2)


def test_short_audio_is_loadable(speech_wav, media_factory):
    path = media_factory.ffmpeg("short.wav", "-ss", "2", "-i", str(speech_wav), "-t", "0.2")
    got = audio.load_audio(path)
    assert got.duration == pytest.approx(0.2, abs=0.005)
    assert not audio.is_silent(got)


def test_missing_audio_file(tmp_path):
    with pytest.raises(MissingFile) as err:
        audio.load_audio(tmp_path / "voice.wav")
    assert_names_file(err, tmp_path / "voice.wav", "not found")


def test_zero_byte_audio(media_factory):
    path = media_factory.write_bytes("zero_bytes.wav", b"")
    with pytest.raises(UnsupportedMedia) as err:
        audio.load_audio(path)
    assert_names_file(err, path, "empty")


def test_garbage_audio(media_factory):
    path = media_factory.write_bytes("random_bytes.mp3", np.random.default_rng(2).bytes(50_000))
    with pytest.raises(UnsupportedMedia) as err:
        audio.load_audio(path)
    assert_names_file(err, path)


def test_zero_length_audio(media_factory):
    path = media_factory.path("no_samples.wav")
    _write_empty_wav(path)
    with pytest.raises(NoAudio) as err:
        audio.load_audio(path)
    assert_names_file(err, path, "empty")


def test_video_without_audio(fixtures_dir):
    path = fixtures_dir / "video/sun_silent_22s.mp4"
    with pytest.raises(NoAudio) as err:
        audio.load_audio(path)
    assert_names_file(err, path, "no audio stream")


def test_audio_record_validates():
    with pytest.raises(ValueError):
        Audio(pcm=np.zeros((2, 10), np.float32), sr=16000)
    with pytest.raises(ValueError):
        Audio(pcm=np.zeros(10, np.float64), sr=16000)
    assert Audio(pcm=np.zeros(8000, np.float32), sr=16000).duration == 0.5


def test_decode_audio_args():
    assert audio.decode_audio_args("in.m4a", 16000, 2) == [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        "in.m4a",
        "-map",
        "0:a:0",
        "-af",
        "aresample=16000,pan=mono|c0<c0+c1",
        "-ac",
        "1",
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]
    assert audio.decode_audio_args("m.wav", 8000, 1)[10] == "aresample=8000"


# --------------------------------------------------------------------------- loudness normalisation


def ebur128(path: Path) -> tuple[float, float]:
    """ffmpeg's own R128 meter: integrated loudness (LUFS) and true peak (dBTP)."""
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return (
        float(re.findall(r"I:\s+(-?[\d.]+) LUFS", done.stderr)[-1]),
        float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", done.stderr)[-1]),
    )


@pytest.mark.parametrize("name", ["en_radio_8s.wav", "zh_news_8s.wav", "de_9s.wav", "ja_9s.wav"])
def test_integrated_loudness_agrees_with_ffmpeg(fixtures_dir, name):
    path = fixtures_dir / "audio" / name
    assert audio.measure_loudness(path) == pytest.approx(ebur128(path)[0], abs=0.2)


def test_loud_peaky_audio_is_limited_not_clipped(fixtures_dir, media_factory, tmp_path):
    """Quiet speech with sharp clicks: the gain to -16 LUFS would push the clicks far past full
    scale, so they are limited under the true-peak ceiling and the loudness still lands."""
    path = media_factory.ffmpeg(
        "peaky.wav",
        "-i",
        str(fixtures_dir / "audio/en_radio_8s.wav"),
        "-af",
        "volume=-24dB,aeval='val(0)+0.5*lt(mod(n,8000),2)':c=same",
    )
    loudness_in, peak_in = ebur128(path)
    assert peak_in + (-16.0 - loudness_in) > 6.0, "plain gain would clip by 6 dB or more"
    out = audio.normalize_loudness(path, tmp_path / "out.wav")
    loudness, peak = ebur128(out)
    assert loudness == pytest.approx(-16.0, abs=1.0)
    assert peak <= audio.TRUE_PEAK_DBTP + 0.5


def test_stereo_stays_stereo(fixtures_dir, media_factory, tmp_path):
    path = media_factory.ffmpeg("stereo.m4a", "-i", str(fixtures_dir / "audio/fr_7s.wav"), "-ac", "2", "-c:a", "aac")
    out = audio.normalize_loudness(path, tmp_path / "out.wav")
    assert probe_audio(out).channels == 2
    assert ebur128(out)[0] == pytest.approx(-16.0, abs=1.0)


@pytest.mark.parametrize("source", ["en_radio_8s.wav", "quiet"])
def test_normalize_loudness_hits_target(fixtures_dir, media_factory, tmp_path, source):
    if source == "quiet":
        path = media_factory.ffmpeg(
            "quiet.wav", "-i", str(fixtures_dir / "audio/zh_news_8s.wav"), "-af", "volume=-20dB"
        )
    else:
        path = fixtures_dir / "audio" / source
    out = audio.normalize_loudness(path, tmp_path / "voice.wav")
    assert out == tmp_path / "voice.wav"
    assert integrated_lufs(out) == pytest.approx(-16.0, abs=1.0)
    info = probe_audio(out)
    assert (info.sample_rate, info.codec) == (48000, "pcm_s16le")
    assert [p.name for p in tmp_path.iterdir()] == ["voice.wav"]


def test_normalize_silent_audio(media_factory, tmp_path):
    path = media_factory.ffmpeg("silence.wav", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "2")
    with pytest.raises(NoAudio) as err:
        audio.normalize_loudness(path, tmp_path / "out.wav")
    assert_names_file(err, path, "silent")
    assert list(tmp_path.iterdir()) == []


def test_normalize_too_short_audio(speech_wav, media_factory, tmp_path):
    path = media_factory.ffmpeg("short.wav", "-ss", "2", "-i", str(speech_wav), "-t", "0.2")
    with pytest.raises(NoAudio) as err:
        audio.normalize_loudness(path, tmp_path / "out.wav")
    assert_names_file(err, path, "too short")


def test_normalize_zero_length_audio(media_factory, tmp_path):
    path = media_factory.path("no_samples.wav")
    _write_empty_wav(path)
    with pytest.raises(NoAudio) as err:
        audio.normalize_loudness(path, tmp_path / "out.wav")
    assert_names_file(err, path, "empty")


# --------------------------------------------------------------------------- per-frame loudness


def test_envelope_length_and_level():
    env = audio.loudness_envelope(tone(440, 2.0, amplitude=0.5), fps=25)
    assert env.shape == (50,)
    # a sine's RMS is its amplitude / sqrt(2); the first window is half outside the audio
    assert env[1:] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    assert len(audio.loudness_envelope(tone(440, 2.01), fps=25)) == 51  # ceil
    assert len(audio.loudness_envelope(tone(440, 1.0), fps=30, n_frames=45)) == 45


def test_envelope_floor_and_past_the_end():
    env = audio.loudness_envelope(silence(1.0), fps=25, n_frames=40)
    assert np.all(env == -80.0)
    env = audio.loudness_envelope(tone(440, 1.0), fps=25, n_frames=40)
    assert np.all(env[26:] == -80.0) and np.all(env[:24] > -10)


def test_envelope_window_is_centred_on_the_frame_time():
    # Silence for 1 s, then a tone: the frame at exactly t=1 s sees half silence, half tone.
    pcm = np.concatenate([silence(1.0).pcm, tone(440, 1.0, amplitude=0.5).pcm])
    env = audio.loudness_envelope(Audio(pcm=pcm, sr=16000), fps=25)
    level = 20 * np.log10(0.5 / np.sqrt(2))
    assert env[23] == -80.0
    assert env[25] == pytest.approx(level - 3.01, abs=0.2)
    assert env[27] == pytest.approx(level, abs=0.1)


def test_is_silent():
    assert audio.is_silent(silence(1.0))
    assert audio.is_silent(Audio(pcm=np.zeros(0, np.float32), sr=16000))
    assert not audio.is_silent(tone(440, 1.0, amplitude=0.1))
    quiet = tone(440, 1.0, amplitude=0.001)  # about -63 dBFS
    assert audio.is_silent(quiet)
    assert not audio.is_silent(quiet, threshold_db=-70)
    # one short burst in a long silence still counts as sound
    burst = np.concatenate([silence(5.0).pcm, tone(440, 0.1, amplitude=0.3).pcm, silence(5.0).pcm])
    assert not audio.is_silent(Audio(pcm=burst, sr=16000))


# --------------------------------------------------------------------------- what the aligners hear


@pytest.mark.parametrize("name", ["zh_news_8s.wav", "de_9s.wav"])
def test_loudness_at_16k_is_the_48k_loudness(fixtures_dir, media_factory, name):
    """K-weighting at a lower rate keeps the filter's response up to sr/2: speech loses little."""
    mono48 = media_factory.ffmpeg(f"mono_{name}", "-i", str(fixtures_dir / "audio" / name), "-af", "pan=mono|c0=c0")
    pcm16 = audio.load_audio(mono48, sr=16000).pcm[:, None]
    assert audio.integrated_loudness(pcm16, 16000) == pytest.approx(ebur128(mono48)[0], abs=1.0)


def test_the_aligners_hear_the_same_audio_however_loud_it_came(fixtures_dir, media_factory):
    path = fixtures_dir / "audio" / "zh_news_8s.wav"
    quiet = media_factory.ffmpeg("quiet_zh.wav", "-i", str(path), "-af", "volume=-20dB")
    heard, heard_quiet = audio.analysis_audio(path), audio.analysis_audio(probe_audio(quiet))
    assert heard.sr == heard_quiet.sr == audio.ANALYSIS_SR
    assert len(heard.pcm) == len(heard_quiet.pcm)
    level = audio.integrated_loudness(heard.pcm[:, None], audio.ANALYSIS_SR)
    # At the aligners' level (less the little that clipped peaks take off).
    assert level == pytest.approx(audio.ANALYSIS_LUFS, abs=0.3)
    # 20 dB apart as given, the same as heard but for the quiet file's rounding and the peaks
    # the full-level file's resampling clipped.
    apart_db = 20 * np.log10(np.std(heard.pcm) / np.std(heard_quiet.pcm))
    assert abs(apart_db) < 0.3
    assert np.corrcoef(heard.pcm, heard_quiet.pcm)[0, 1] > 0.999


def test_a_click_does_not_keep_the_aligners_audio_quiet(fixtures_dir, media_factory):
    path = media_factory.ffmpeg(
        "quiet_click.wav",
        "-i",
        str(fixtures_dir / "audio/en_radio_8s.wav"),
        "-af",
        "volume=-24dB,aeval='val(0)+0.5*lt(mod(n,8000),2)':c=same",
    )
    heard = audio.analysis_audio(path)
    # The clicks count in the loudness and are clipped; the speech comes up by ~20 dB all the
    # same (a gain held under the clicks' peaks would have left it near -34 LUFS).
    assert audio.integrated_loudness(heard.pcm[:, None], audio.ANALYSIS_SR) > audio.ANALYSIS_LUFS - 4.0


def test_silence_reaches_the_aligners_as_it_is(media_factory):
    path = media_factory.ffmpeg("silence16.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2")
    heard = audio.analysis_audio(path)
    assert len(heard.pcm) == 32000 and not heard.pcm.any()
