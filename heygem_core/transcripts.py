"""A transcript is what the audio says: read with a size limit, and checked against the audio
before any work, so a wrong or pasted-in text is refused in one line instead of costing minutes
and gigabytes (the phone aligner's memory grows with the text: ~25 GB per MB measured).

Limits (the fastest speech is about 7 syllables a second):
* at most ``MAX_BYTES`` of text at all (a one-hour lecture is ~60 KB);
* at most ``WORDS_PER_SECOND`` words (whitespace-separated) per second of audio, and for
  scripts written without spaces (Chinese, Japanese, Thai...) at most ``CHARS_PER_SECOND``
  of their characters, each with ``SLACK`` words of grace for short clips;
* for a language written in Latin letters, a text whose letters are mostly of another script
  (a Japanese transcript for German audio) is refused: it is the wrong file or the wrong
  language code.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from heygem_core.errors import InputError, MissingFile

MAX_BYTES = 256 * 1024
WORDS_PER_SECOND = 6.0
CHARS_PER_SECOND = 12.0
SLACK = 20
# Languages written in Latin letters: a transcript for them should be too.
LATIN_LANGUAGES = {
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "nb",
    "nn",
    "fi",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "ro",
    "hu",
    "tr",
    "id",
    "ms",
    "vi",
    "ca",
    "eu",
    "gl",
    "et",
    "lv",
    "lt",
    "sq",
    "sw",
    "af",
    "is",
    "ga",
    "cy",
    "mt",
    "tl",
    "uz",
    "az",
}
_UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


class TranscriptMismatch(InputError):
    """A transcript that cannot be what the audio says."""


def read_transcript(path: str | Path | None) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise MissingFile("transcript file not found", p)
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise InputError(
            f"transcript is {size / 1024:.0f} KB; the limit is {MAX_BYTES // 1024} KB "
            "(a one-hour lecture is about 60 KB)",
            p,
        )
    try:
        text = p.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as err:
        raise InputError("transcript is not UTF-8 text", p) from err
    if not text:
        raise InputError("transcript is empty", p)
    return text


def check_transcript(text: str | None, seconds: float, language: str, source: str | Path | None = None) -> None:
    """Raise ``TranscriptMismatch`` (about ``source``) when ``text`` cannot be what ``seconds``
    of audio in ``language`` say."""
    if not text:
        return
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise TranscriptMismatch(f"transcript is longer than {MAX_BYTES // 1024} KB", source)
    unspaced = sum(1 for ch in text if _is_unspaced(ch))
    words = len(text.split())
    if words > WORDS_PER_SECOND * seconds + SLACK or unspaced > CHARS_PER_SECOND * seconds + SLACK:
        amount = f"{words} words" if unspaced < words else f"{unspaced} characters"
        raise TranscriptMismatch(
            f"transcript has {amount} for {seconds:.1f} s of audio, more than anyone says "
            "in that time: is it the transcript of this audio?",
            source,
        )
    base = language.split("-")[0].lower()
    letters = [ch for ch in text if ch.isalpha()]
    if base in LATIN_LANGUAGES and letters:
        latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
        if latin < 0.5 * len(letters):
            raise TranscriptMismatch(
                f"transcript is not written in Latin letters, but the language is "
                f"'{language}': the wrong file, or the wrong language code?",
                source,
            )


def _is_unspaced(ch: str) -> bool:
    return ord(ch) > 0x2E7F and unicodedata.name(ch, "").startswith(_UNSPACED)
