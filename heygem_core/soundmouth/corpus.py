"""The real talking heads heygem learns and is judged on, as one list of clips with their
speaker and group (``../shared/corpus``, its README):

- the single clips of ``corpus/video`` and the two fixture clips with their own sound;
- ``grid_s1``: 333 clips of GRID speaker s1 (the man of ``grid_bbaf2n``: one speaker);
- ``arabic_words``: 1002 1.2 s windows of Arabic news anchors. Which anchor speaks in which
  window is not labelled, so the whole set counts as one speaker: a fold holds all of it out
  or none of it, and the Arabic figure comes from a model that saw no Arabic clip.

Groups are reported apart: ``grid`` (careful read sentences), ``conversational`` (people
talking: the product's case) and ``arabic``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from . import data

GRID, CONVERSATIONAL, ARABIC = "grid", "conversational", "arabic"
GROUPS = (GRID, CONVERSATIONAL, ARABIC)
# Speakers fall into this many folds (by a hash of the name, so a new clip never moves the
# others): a fold's model trains on every other fold and is judged on this one alone.
FOLDS = 5
_VIDEO = {".mp4", ".mpg", ".mov", ".mkv"}


@dataclass(frozen=True)
class CorpusClip:
    path: Path
    speaker: str
    group: str
    bulk: bool  # from a bulk set (many short windows) rather than a single clip

    @property
    def name(self) -> str:
        return self.path.stem


speaker_of = data.speaker_of


def group_of(path: Path) -> str:
    speaker = speaker_of(path)
    if speaker == data.BULK_SPEAKERS["arabic_words"]:
        return ARABIC
    return GRID if speaker.startswith("grid_") else CONVERSATIONAL


def _clip(path: Path, bulk: bool) -> CorpusClip:
    return CorpusClip(path=path, speaker=speaker_of(path), group=group_of(path), bulk=bulk)


def single_clips(shared: Path) -> list[CorpusClip]:
    """The single clips with their own sound (the self-dub's material)."""
    shared = Path(shared)
    paths = sorted(p for p in (shared / "corpus" / "video").glob("*") if p.suffix in _VIDEO)
    paths += [
        p
        for p in (shared / "fixtures" / "video" / "katie_8s.mp4", shared / "fixtures" / "video" / "chaplin_7s.mp4")
        if p.exists()
    ]
    return [_clip(p, bulk=False) for p in paths]


def bulk_clips(shared: Path, sets: tuple[str, ...] = ("grid_s1", "arabic_words"), every: int = 1) -> list[CorpusClip]:
    """The bulk sets' clips (every ``every``-th of each, in name order)."""
    out: list[CorpusClip] = []
    for name in sets:
        paths = sorted((Path(shared) / "corpus" / name / "video").glob("*.mp4"))[::every]
        out.extend(_clip(p, bulk=True) for p in paths)
    return out


def all_clips(shared: Path, every: int = 1) -> list[CorpusClip]:
    return single_clips(shared) + bulk_clips(shared, every=every)


def fold_of(speaker: str, folds: int = FOLDS) -> int:
    return zlib.crc32(speaker.encode()) % folds
