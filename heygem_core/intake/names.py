"""Language tags and output file names, as a sheet writes them and as heygem uses them."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

_MAX_OUTPUT_BYTES = 200  # well under the 255-byte file-name limit of common file systems
_NON_LANGUAGES = {"und", "mul", "mis", "zxx"}


def _check_language(text: str, problem) -> str | None:
    tag = normalise_language(text)
    if tag is None:
        problem("language", f"unknown language tag {text!r} (use a BCP-47 tag such as en, de, pt-BR)")
    return tag


def normalise_language(text: str) -> str | None:
    """The standard form of a BCP-47 tag naming a real language, or None."""
    import langcodes

    candidate = text.strip().replace("_", "-")
    if not candidate or not candidate.isascii():
        return None
    try:
        if not langcodes.tag_is_valid(candidate):
            return None
        lang = langcodes.Language.get(candidate)
        if not lang.is_valid():
            return None
        code = (lang.language or "").lower()
        if not code or code in _NON_LANGUAGES or code.startswith("x-"):
            return None
        if len(code) == 3 and "qaa" <= code <= "qtz":  # private use
            return None
        return langcodes.standardize_tag(candidate)
    except Exception:  # LanguageTagError and anything else from odd input
        return None


# -- output names -----------------------------------------------------------------------------


def _safe_char(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in "._-"
    category = unicodedata.category(ch)
    return category.startswith("L") or category.startswith("M")


def _sanitise(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\s+", "_", text.strip())
    text = "".join(ch for ch in text if _safe_char(ch))
    text = re.sub(r"_+", "_", text)
    # No leading dots (hidden files, '..'), dashes (read as options by tools) or combining marks.
    while text and (text[0] in ".-_" or unicodedata.category(text[0]).startswith("M")):
        text = text[1:]
    return text


def _truncate(stem: str, suffix: str) -> str:
    while stem and len((stem + suffix).encode("utf-8")) > _MAX_OUTPUT_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _default_output(lecturer: str, language: str) -> str:
    stem = _sanitise(f"{lecturer}_{language}").rstrip(".") or f"video_{language}"
    return _truncate(stem, ".mp4")


def _check_output(text: str, problem) -> str | None:
    if "/" in text or "\\" in text or ".." in text:
        problem(
            "output",
            f"{text!r} is not a plain file name (no '/', '\\' or '..'); outputs are written to the run's output folder",
        )
        return None
    suffix = PurePosixPath(text).suffix
    if suffix and suffix.lower() != ".mp4" and re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix):
        problem("output", f"output {text!r} must be an .mp4 file")
        return None
    if suffix.lower() == ".mp4":
        stem = text[: -len(suffix)]
    else:
        stem = text  # no (real) extension: '.mp4' is appended
    safe = _sanitise(stem).rstrip(".")
    if not safe:
        problem("output", f"output {text!r} has no usable characters for a file name")
        return None
    name = safe + ".mp4"
    if len(name.encode("utf-8")) > _MAX_OUTPUT_BYTES:
        problem("output", f"output name is too long ({len(name.encode('utf-8'))} bytes; at most {_MAX_OUTPUT_BYTES})")
        return None
    return name


def lecturer_names(videos: list[str]) -> list[str]:
    """The lecturer of each video of a batch, named after its file (``lecture.mp4`` -> ``lecture``).
    Videos with the same file name are told apart by their folders where those differ
    (``week1/lecture.mp4``, ``week2/lecture.mp4`` -> ``week1-lecture``, ``week2-lecture``), else
    by a number (``lecture``, ``lecture-2``): so their outputs never collide."""
    from collections import Counter
    from pathlib import PurePosixPath

    paths = [
        PurePosixPath(str(v).split(":", 1)[1] if str(v).startswith("store:") else str(v).replace("\\", "/"))
        for v in videos
    ]
    stems = [p.stem for p in paths]
    count = Counter(stems)
    names: list[str] = []
    seen: Counter[str] = Counter()
    for v, p, stem in zip(videos, paths, stems):
        if count[stem] == 1:
            names.append(stem)
            continue
        same = [q for q in paths if q.stem == stem]
        folders = {q.parent.name for q in same}
        if not str(v).startswith("store:") and len(folders) == len(same) and "" not in folders:
            names.append(f"{p.parent.name}-{stem}")
        else:
            seen[stem] += 1
            names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names
