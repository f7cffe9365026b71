"""espeak-ng through its C library, with the phone timings the synthesizer itself reports.

The CLI cannot give timings, so we drive ``libespeak-ng.so.1`` with ctypes in synchronous
mode and read its espeakEVENT_PHONEME events. The library is one global synthesizer (voice,
rate, callback are process-wide), hence one lazily created handle and one lock around every
use of it.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import POINTER, c_char, c_char_p, c_int, c_short, c_size_t, c_uint, c_void_p

import numpy as np

from ..errors import InputError, ModelMissing, ProcessingError
from .types import Phone
from .visemes import espeak_viseme

LIBRARY_NAME = "libespeak-ng.so.1"

# speak_lib.h constants (API revision 12, espeak-ng 1.49+)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # else a missing espeak-ng-data calls exit() in our process
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0
_BUFFER_MS = 200

# Codes people pass that espeak-ng does not resolve by itself ("zh", "fr", "de" it does).
_VOICE_ALIASES = {"zh-cn": "cmn", "zh-hans": "cmn", "jp": "ja"}


def library_version() -> str:
    """espeak-ng's version string ("missing" without the library); needs no initialisation."""
    try:
        lib = ctypes.CDLL(LIBRARY_NAME)
    except OSError:
        return "missing"
    lib.espeak_Info.restype = c_char_p
    lib.espeak_Info.argtypes = [c_void_p]
    return (lib.espeak_Info(None) or b"?").decode("ascii", "replace")


class _EventId(ctypes.Union):
    _fields_ = [("number", c_int), ("name", c_char_p), ("string", c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", c_int),
        ("unique_identifier", c_uint),
        ("text_position", c_int),
        ("length", c_int),
        ("audio_position", c_int),  # ms
        ("sample", c_int),  # samples since the start of the message
        ("user_data", c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(c_int, POINTER(c_short), c_int, POINTER(_Event))


class _Library:
    """The loaded and initialised library: created once, used only under ``_LOCK``."""

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(LIBRARY_NAME)
        except OSError as err:
            raise ModelMissing(
                f"espeak-ng C library {LIBRARY_NAME} not found ({err}); install it with: apt-get install libespeak-ng1"
            ) from err
        lib.espeak_Initialize.argtypes = [c_int, c_int, c_char_p, c_int]
        lib.espeak_Initialize.restype = c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [c_char_p]
        lib.espeak_SetVoiceByName.restype = c_int
        lib.espeak_SetParameter.argtypes = [c_int, c_int, c_int]
        lib.espeak_SetParameter.restype = c_int
        lib.espeak_Synth.argtypes = [
            c_char_p,
            c_size_t,
            c_uint,
            c_int,
            c_uint,
            c_uint,
            POINTER(c_uint),
            c_void_p,
        ]
        lib.espeak_Synth.restype = c_int
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, None, options)
        if rate <= 0:
            raise ModelMissing(
                "espeak-ng could not initialise: its data folder (espeak-ng-data) is missing; "
                "reinstall the espeak-ng-data / libespeak-ng1 package"
            )
        self.lib = lib
        self.sample_rate = rate


_LOCK = threading.Lock()
_library: _Library | None = None


def _get_library() -> _Library:
    global _library  # the one process-wide handle; only ever set once, under _LOCK
    if _library is None:
        _library = _Library()
    return _library


def voice_names(language: str, voice_variant: str | None = None) -> list[str]:
    """espeak voice names to try, best first, for a language code and an optional variant
    ("f3", "m2", "klatt"): "de-DE" falls back on "de" because espeak has few regional voices."""
    code = language.strip().lower()
    bases = [_VOICE_ALIASES.get(code, code)]
    if "-" in code:
        bases.append(code.split("-", 1)[0])
    return [f"{base}+{voice_variant}" if voice_variant else base for base in bases]


def synthesize(
    text: str,
    language: str = "en",
    voice_variant: str | None = None,
    rate: int = 175,
    pitch: int = 50,
) -> tuple[np.ndarray, int, list[Phone]]:
    """Speak ``text``; return mono float32 pcm, its sample rate, and espeak's own phone timings.

    Each phone runs from its phoneme event to the next one; the last ends with the audio.
    Pauses are labelled with espeak's pause symbols and the 'sil' viseme.
    """
    if not text or not text.strip():
        raise InputError("cannot synthesize an empty text")
    if not 80 <= rate <= 450:
        raise InputError(f"speaking rate {rate} is outside espeak's 80..450 words per minute")
    if not 0 <= pitch <= 100:
        raise InputError(f"pitch {pitch} is outside espeak's 0..100")
    names = voice_names(language, voice_variant)
    with _LOCK:
        library = _get_library()
        chunks, events = _run_synth(library.lib, text, names, rate, pitch)
        sample_rate = library.sample_rate
    pcm = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
    return pcm, sample_rate, _events_to_phones(events, len(pcm), sample_rate)


def _run_synth(
    lib: ctypes.CDLL, text: str, voices: list[str], rate: int, pitch: int
) -> tuple[list[np.ndarray], list[tuple[int, str]]]:
    """One synchronous synthesis; returns int16 chunks and (sample, mnemonic) phoneme events."""
    chunks: list[np.ndarray] = []
    events: list[tuple[int, str]] = []

    def on_audio(wav, count, event_list) -> int:  # called from inside espeak_Synth
        if wav and count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while event_list[i].type != _EVENT_LIST_TERMINATED:
            event = event_list[i]
            if event.type == _EVENT_PHONEME:
                raw = bytes(event.id.string).split(b"\0", 1)[0]
                events.append((event.sample, raw.decode("utf-8", "replace")))
            i += 1
        return 0

    callback = _SynthCallback(on_audio)  # must outlive espeak_Synth: it is a local kept alive here
    lib.espeak_SetSynthCallback(callback)
    if not any(lib.espeak_SetVoiceByName(name.encode()) == _EE_OK for name in voices):
        raise InputError(
            f"espeak-ng has no voice '{voices[0]}' (language or variant unknown); "
            "list the available ones with: espeak-ng --voices"
        )
    for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch)):
        # espeak skips a parameter equal to its cached value, even though the new voice
        # changed what that value means: force a real change so nothing leaks between calls.
        lib.espeak_SetParameter(parameter, int(value) + 1, 0)
        lib.espeak_SetParameter(parameter, int(value), 0)
    data = text.encode("utf-8")
    status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    if status != _EE_OK:
        raise ProcessingError(f"espeak-ng failed to synthesize the text (error code {status})")
    return chunks, events


def _events_to_phones(events: list[tuple[int, str]], n_samples: int, sr: int) -> list[Phone]:
    phones: list[Phone] = []
    if n_samples == 0:
        return phones
    marks = [(min(max(s, 0), n_samples), label) for s, label in events]
    if not marks or marks[0][0] > 0:
        marks.insert(0, (0, "_"))  # espeak starts with a few ms of silence before its 1st event
    ends = [s for s, _ in marks[1:]] + [n_samples]
    for (start, label), end in zip(marks, ends):
        if end <= start:  # virtual phonemes and language-switch markers take no time
            continue
        phones.append(Phone(start / sr, end / sr, label, espeak_viseme(label)))
    return phones
