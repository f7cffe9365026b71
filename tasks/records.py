"""What passes between tasks and the flows beyond a store key, as records that say what they hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QaResult:
    """The ``qa`` stage's result: the figures (``report.QAFigures.as_dict()``) and the store
    keys of its pictures (``contact_sheet``, ``opening_plot``)."""

    figures: dict[str, Any]
    pictures: dict[str, str] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return bool(self.figures.get("flagged"))

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(self.figures.get("reasons") or ())

    def as_dict(self) -> dict[str, Any]:
        return {"figures": self.figures, "pictures": dict(self.pictures)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QaResult:
        return cls(figures=dict(data.get("figures") or {}), pictures=dict(data.get("pictures") or {}))


@dataclass(frozen=True)
class Published:
    """A finished video copied under its run's prefix, with its QA pictures."""

    key: str
    sha256: str
    size: int
    pictures: dict[str, str] = field(default_factory=dict)
