"""The value types shared by every aligner."""

from __future__ import annotations

from dataclasses import dataclass

# Oculus-style viseme set. The order is part of the API (other modules index by it).
VISEMES: tuple[str, ...] = (
    "sil",
    "PP",
    "FF",
    "TH",
    "DD",
    "kk",
    "CH",
    "SS",
    "nn",
    "RR",
    "aa",
    "E",
    "ih",
    "oh",
    "ou",
)


@dataclass(frozen=True)
class Phone:
    start: float  # seconds in the audio given to align()
    end: float
    label: str  # the aligner's phoneme symbol (espeak mnemonic or sphinx phone)
    viseme: str  # one of VISEMES

    @property
    def duration(self) -> float:
        return self.end - self.start
