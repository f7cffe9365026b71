"""Phoneme symbol -> viseme.

Two symbol sets reach here: espeak-ng phoneme mnemonics (Kirshenbaum-like ASCII, one table
per language, with stress marks, tone digits and modifier suffixes such as ``:`` ``~`` ``.``
``-`` ``#`` ``\\`` ``_j``) and pocketsphinx's ARPAbet phones.

For espeak the lookup is longest-prefix over a table of base symbols, so that new or
language-specific variants ("i@3", "t_s\\", "ts.h", "pF", "aI@", "n-", "r`") land on their
articulatory base without listing every table. What is left falls back on its first letter.
"""

from __future__ import annotations

from .types import VISEMES

# Base espeak symbols. Case matters: espeak uses it to tell phonemes apart (t/T, s/S, n/N ...).
_ESPEAK_BASE: dict[str, str] = {
    # lips closed; β (Spanish intervocalic b) is included because viewers expect the lips to meet
    "p": "PP",
    "b": "PP",
    "m": "PP",
    "B": "PP",
    "f": "FF",
    "v": "FF",
    "p\\": "FF",
    "T": "TH",
    "D": "TH",
    "t": "DD",
    "d": "DD",
    "?": "DD",
    "k": "kk",
    "g": "kk",
    "N": "kk",
    "q": "kk",
    "G": "kk",
    "Q": "kk",
    "x": "kk",
    "X": "kk",
    "h": "kk",
    "c": "kk",
    "tS": "CH",
    "dZ": "CH",
    "S": "CH",
    "Z": "CH",
    "C": "CH",
    "J^": "CH",
    "t_s\\": "CH",
    "d_z\\": "CH",
    "s\\": "CH",
    "z\\": "CH",
    "tC": "CH",
    "dJ": "CH",
    "ts.": "CH",
    "s.": "CH",  # Mandarin retroflexes (zh, ch, sh)
    "s": "SS",
    "z": "SS",
    "ts": "SS",
    "dz": "SS",
    "t_s": "SS",
    "d_z": "SS",
    "n": "nn",
    "l": "nn",
    "L": "nn",
    "J": "nn",
    "n^": "nn",
    "l^": "nn",
    "N\\": "nn",
    "r": "RR",
    "R": "RR",
    "*": "RR",
    "**": "RR",
    "z.": "RR",
    "r.": "RR",
    # approximants: the lips take the shape of the vowel they come from
    "j": "ih",
    "_j": "ih",
    ";": "ih",
    "w": "ou",
    "H": "ou",
    # vowels, diphthongs by their first (dominant, most visible) element
    "a": "aa",
    "A": "aa",
    "V": "aa",
    "&": "aa",
    "e": "E",
    "E": "E",
    "@": "E",
    "3": "E",
    "i": "ih",
    "I": "ih",
    "y": "ih",
    "o": "oh",
    "O": "oh",
    "0": "oh",
    "Y": "oh",
    "W": "oh",  # Y, W: front rounded ø, œ
    "u": "ou",
    "U": "ou",
}
_ESPEAK_MAX_KEY = max(len(k) for k in _ESPEAK_BASE)

# Prosodic marks espeak may put in front of a symbol (stress, syllabic).
_LEADING_MARKS = "'%,="

_FALLBACK_VOWELS = {"a": "aa", "e": "E", "i": "ih", "o": "oh", "u": "ou", "y": "ih"}

_ARPABET: dict[str, str] = {
    "AA": "aa",
    "AE": "aa",
    "AH": "aa",
    "AO": "oh",
    "AW": "aa",
    "AY": "aa",
    "B": "PP",
    "CH": "CH",
    "D": "DD",
    "DH": "TH",
    "EH": "E",
    "ER": "RR",
    "EY": "E",
    "F": "FF",
    "G": "kk",
    "HH": "kk",
    "IH": "ih",
    "IY": "ih",
    "JH": "CH",
    "K": "kk",
    "L": "nn",
    "M": "PP",
    "N": "nn",
    "NG": "kk",
    "OW": "oh",
    "OY": "oh",
    "P": "PP",
    "R": "RR",
    "S": "SS",
    "SH": "CH",
    "T": "DD",
    "TH": "TH",
    "UH": "ou",
    "UW": "ou",
    "V": "FF",
    "W": "ou",
    "Y": "ih",
    "Z": "SS",
    "ZH": "CH",
    "SIL": "sil",
}
# The phones of pocketsphinx's en-us model, as its phone LM names them.
ARPABET_PHONES = sorted(_ARPABET)


def is_espeak_pause(label: str) -> bool:
    """Pauses ("_", "_:", "_!", "_|") and language-switch markers ("(en)") carry no articulation."""
    core = label.lstrip(_LEADING_MARKS)
    return core == "" or core.startswith("(") or (core.startswith("_") and core != "_j")


def all_visemes_known() -> bool:
    """Sanity hook for tests: every table entry names a real viseme."""
    return set(_ESPEAK_BASE.values()) | set(_ARPABET.values()) <= set(VISEMES)


def espeak_viseme(label: str) -> str:
    """Viseme of one espeak-ng phoneme mnemonic (any language table)."""
    if is_espeak_pause(label):
        return "sil"
    core = label.lstrip(_LEADING_MARKS).rstrip("0123456789") or label.lstrip(_LEADING_MARKS)
    for size in range(min(len(core), _ESPEAK_MAX_KEY), 0, -1):
        viseme = _ESPEAK_BASE.get(core[:size])
        if viseme is not None:
            return viseme
    return _fallback(core)


def sphinx_viseme(label: str) -> str:
    """Viseme of a pocketsphinx phone; fillers (+NSN+, +SPN+ ...) and <sil> count as silence."""
    if not label or label.startswith(("+", "<")) or label.upper() in {"SIL", "SP"}:
        return "sil"
    base = label.upper().rstrip("012")  # CMUdict stress digits
    return _ARPABET.get(base) or _fallback(label)


def _fallback(symbol: str) -> str:
    # A symbol we do not know: a vowel letter still tells the mouth opening; any other
    # consonant is drawn as the neutral tongue-tip shape.
    first = symbol[:1].lower()
    return _FALLBACK_VOWELS.get(first, "DD")
