"""Bad and unusual media made from the shared fixtures with real ffmpeg.

Every helper takes the session ``MediaFactory`` (tests/conftest.py), so each file is made once
per session in its temp folder and reused. Names start with ``hm_`` so they never clash with
media other test modules make in the same folder. Sources are kept short and small wherever
the case allows, so that a ``heygem lipsync`` run on them takes seconds.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MediaFactory
from tests.paths import LANGUAGE_AUDIO, LECTURE_60S, VIDEOS

CHAPLIN = str(VIDEOS["chaplin_7s"])
KATIE = str(VIDEOS["katie_8s"])
SUN = str(VIDEOS["sun_silent_22s"])
EN = str(LANGUAGE_AUDIO["en"])

X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "20")


# --------------------------------------------------------------------------- audio


def speech(f: MediaFactory, seconds: float = 2.0) -> Path:
    """The start of the English radio clip (speech from the first syllable)."""
    return f.ffmpeg(f"hm_speech_{seconds:g}s.wav", "-i", EN, "-t", f"{seconds:g}", "-c:a", "pcm_s16le")


def short_audio(f: MediaFactory) -> Path:
    """0.2 s of speech: shorter than one EBU R128 measuring block."""
    return f.ffmpeg("hm_short_0.2s.wav", "-ss", "0.5", "-i", EN, "-t", "0.2", "-c:a", "pcm_s16le")


def ten_minute_audio(f: MediaFactory) -> Path:
    """10 minutes of narration: the 60 s lecture ten times over."""
    return f.ffmpeg(
        "hm_lecture_10min.wav", "-stream_loop", "9", "-i", str(LECTURE_60S), "-t", "600", "-c:a", "pcm_s16le"
    )


def digital_silence(f: MediaFactory) -> Path:
    """3 s of exact zeros (a muted export), 48 kHz stereo."""
    return f.ffmpeg(
        "hm_zeros_3s.wav", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "3", "-c:a", "pcm_s16le"
    )


def wav_named_mp4(f: MediaFactory) -> Path:
    """A WAV file whose name says .mp4."""
    return f.write_bytes("hm_wav_named.mp4", speech(f).read_bytes())


# --------------------------------------------------------------------------- video


def katie_small(f: MediaFactory, seconds: float = 2.0, size: int = 256) -> Path:
    """Katie, ``seconds`` long, ``size`` square, with her own sound (the face is ~60% of the width)."""
    return f.ffmpeg(
        f"hm_katie_{seconds:g}s_{size}.mp4",
        "-i",
        KATIE,
        "-t",
        f"{seconds:g}",
        "-vf",
        f"scale={size}:{size}",
        *X264,
        "-c:a",
        "aac",
    )


def chaplin_small(f: MediaFactory, seconds: float = 2.0) -> Path:
    """Chaplin at 426x240, 30 fps, with his own sound."""
    return f.ffmpeg(
        f"hm_chaplin_{seconds:g}s_240.mp4",
        "-i",
        CHAPLIN,
        "-t",
        f"{seconds:g}",
        "-vf",
        "scale=426:240",
        *X264,
        "-c:a",
        "aac",
    )


def truncated_mp4(f: MediaFactory) -> Path:
    """The first 40% of a real recording (moov at the end: the index is cut off)."""
    return f.truncated("hm_truncated.mp4", VIDEOS["chaplin_7s"], 0.4)


def zero_bytes(f: MediaFactory) -> Path:
    return f.write_bytes("hm_zero.mp4", b"")


def mp4_named_wav(f: MediaFactory) -> Path:
    """A real MP4 video whose name says .wav."""
    return f.write_bytes("hm_video_named.wav", katie_small(f).read_bytes())


def audio_only_mp4(f: MediaFactory) -> Path:
    return f.ffmpeg("hm_audio_only.mp4", "-i", EN, "-t", "3", "-c:a", "aac")


def faceless(f: MediaFactory) -> Path:
    """The left of the Chaplin shot: sky and a building, no person, real camera footage."""
    return f.ffmpeg("hm_faceless.mp4", "-i", CHAPLIN, "-t", "2", "-vf", "crop=300:480:0:0", *X264, "-an")


def two_faces(f: MediaFactory) -> Path:
    """Katie (256x256, larger face) left of Chaplin (454x256, smaller face), 25 fps, 2 s."""
    graph = (
        "[0:v]trim=duration=2,setpts=PTS-STARTPTS,scale=256:256,fps=25[a];"
        "[1:v]trim=duration=2,setpts=PTS-STARTPTS,scale=454:256,fps=25[b];"
        "[a][b]hstack=inputs=2[v]"
    )
    return f.ffmpeg(
        "hm_two_faces.mp4", "-i", KATIE, "-i", CHAPLIN, "-filter_complex", graph, "-map", "[v]", "-t", "2", *X264
    )


LEAVE_AT_S = 1.2  # the camera starts panning here
LEAVE_FOR_S = 0.8  # and has moved one picture width (256 px) this much later
# Katie's mouth spans x = 112..168 of the 256 px picture (dlib landmarks before the pan): its
# left corner reaches the left edge this long after the pan starts.
MOUTH_LEAVES_AT_S = LEAVE_AT_S + 112 / (256 / LEAVE_FOR_S)


def face_leaves(f: MediaFactory) -> Path:
    """3 s, 256x256: Katie in view until 1.2 s, then the camera pans right so that her face
    leaves through the left edge by 2.0 s; the last second shows the wall next to her."""
    pan = f"min(max(t-{LEAVE_AT_S},0)/{LEAVE_FOR_S},1)*256"
    graph = f"scale=256:256,pad=512:256:0:0:color=0x606060,crop=256:256:'{pan}':0"
    return f.ffmpeg("hm_face_leaves.mp4", "-i", KATIE, "-t", "3", "-vf", graph, *X264, "-an")


def uhd_4k(f: MediaFactory) -> Path:
    """Chaplin upscaled to 3840x2160, 1.5 s at 30 fps."""
    return f.ffmpeg("hm_4k.mp4", "-i", CHAPLIN, "-t", "1.5", "-vf", "scale=3840:2160:flags=bicubic", *X264, "-an")


def odd_width(f: MediaFactory) -> Path:
    """853x480 (odd width; 4:4:4 because x264 refuses odd sizes in 4:2:0), 1.5 s."""
    return f.ffmpeg(
        "hm_odd_853x480.mp4",
        "-i",
        CHAPLIN,
        "-t",
        "1.5",
        "-vf",
        "scale=853:480",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
        "-an",
    )


def rotated_90(f: MediaFactory) -> Path:
    """A phone-style file: pixels stored sideways (240x426) with a display matrix that turns
    them upright (426x240). Stream-copied with the tag, as ffmpeg 5 writes the matrix only then."""
    sideways = f.ffmpeg(
        "hm_sideways.mp4", "-i", CHAPLIN, "-t", "2", "-vf", "scale=426:240,transpose=clock", *X264, "-an"
    )
    return f.ffmpeg("hm_rotated_90.mp4", "-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90")


def variable_rate(f: MediaFactory) -> Path:
    """1 s at 25 fps, then frames 1/15 s apart (a phone slowing down in low light)."""
    return f.ffmpeg(
        "hm_vfr.mp4",
        "-i",
        KATIE,
        "-t",
        "2.5",
        "-an",
        "-vf",
        "scale=256:256,setpts='if(lt(N,25),N/25,1+(N-25)/15)/TB'",
        "-fps_mode",
        "vfr",
        *X264,
    )


def sixty_fps(f: MediaFactory) -> Path:
    return f.ffmpeg("hm_60fps.mp4", "-i", KATIE, "-t", "1.5", "-vf", "scale=256:256,fps=60", *X264, "-an")


def ten_bit(f: MediaFactory) -> Path:
    return f.ffmpeg(
        "hm_10bit.mp4",
        "-i",
        CHAPLIN,
        "-t",
        "1.5",
        "-vf",
        "scale=426:240",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        "-an",
    )


def speaker_7s(f: MediaFactory) -> Path:
    """Chaplin's 7 s at 256 px wide-ish (454x256): a small source for a very long audio."""
    return f.ffmpeg("hm_chaplin_7s_256.mp4", "-i", CHAPLIN, "-vf", "scale=454:256", *X264, "-an")
