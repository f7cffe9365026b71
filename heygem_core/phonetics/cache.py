"""Phones of an audio kept on disk by content, so that it is aligned once: a batch puts one
audio onto many videos (each its own lip-sync), and a retried or re-run job meets the audio
it aligned before. Blind alignment costs ~3 CPU-s per minute of speech.

The key is the analysed PCM itself, the transcript and language (when a transcript picks the
scripted aligner) and what decides an aligner's output: heygem's aligner code (its source),
its settings, the phone LM, the versions of pocketsphinx and espeak-ng, and, for the blind
aligner, how many parts the audio is cut into (one per core for long audio: each part's
cepstral mean is its own). Another version of any of them aligns afresh.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import cache, sphinx
from . import allphone
from .aligner import align, has_script
from .blind import DEFAULTS
from .features import FEATURE_RATE
from .types import Phone

log = logging.getLogger(__name__)


def phones_key(pcm: np.ndarray, sr: int, transcript: str | None, language: str) -> str:
    scripted = has_script(transcript)
    audio = hashlib.sha256(np.ascontiguousarray(pcm, np.float32).tobytes()).hexdigest()
    if scripted:
        made_by = {"code": _code_digest(), "espeak": _espeak_version()}
        settings: dict[str, object] = {"language": language}
        inputs = {"audio": audio, "sr": sr, "transcript": transcript}
    else:
        parts = allphone.parts_for(round(len(pcm) * FEATURE_RATE / sr))
        made_by = {"code": _code_digest(), "phone_lm": _lm_digest(), "pocketsphinx": _package_version("pocketsphinx")}
        settings = {**asdict(DEFAULTS), "parts": parts}
        inputs = {"audio": audio, "sr": sr}
    return cache.key("phones", made_by=made_by, settings=settings, inputs=inputs, length=64)


@functools.lru_cache(maxsize=None)
def _code_digest() -> str:
    """The aligners' own source: any change to it may change the phones."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")) + [Path(sphinx.__file__)]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _lm_digest() -> str:
    """The blind aligner's phone LM, by content."""
    try:
        return hashlib.sha256(Path(sphinx.phone_lm_path(DEFAULTS.phone_lm)).read_bytes()).hexdigest()
    except Exception:  # noqa: BLE001 - a missing model fails in the aligner, with its own message
        return "missing"


@functools.lru_cache(maxsize=None)
def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


@functools.lru_cache(maxsize=None)
def _espeak_version() -> str:
    from .espeak import library_version

    return library_version()


def phones_path(cache_dir: str | Path, key: str) -> Path:
    return cache.entry(cache_dir, "phones", key, ".json")


def aligned(
    pcm: np.ndarray, sr: int, transcript: str | None = None, language: str = "en", cache_dir: str | Path | None = None
) -> list[Phone]:
    """``align(pcm, sr, transcript, language)``, read from ``cache_dir`` when this audio was
    aligned the same way before (and written there when not). No ``cache_dir``: no cache."""
    if cache_dir is None:
        return align(pcm, sr, transcript=transcript, language=language)
    path = phones_path(cache_dir, phones_key(pcm, sr, transcript, language))
    kept = cache.read(path, _load, "phone cache")
    if kept is not None:
        return kept
    phones = align(pcm, sr, transcript=transcript, language=language)
    text = json.dumps([[p.start, p.end, p.label, p.viseme] for p in phones])
    cache.write(path, lambda tmp: tmp.write_text(text), "phones")
    return phones


def _load(path: Path) -> list[Phone]:
    return [Phone(float(a), float(b), str(label), str(viseme)) for a, b, label, viseme in json.loads(path.read_text())]
