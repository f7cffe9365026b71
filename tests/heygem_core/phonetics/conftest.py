"""Shared, expensive inputs for the phonetics tests (built once per session)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from heygem_core.phonetics import VISEMES, Phone

from .metrics import BILABIAL_TEXTS, FIXTURES, Recording, fake_recording, load_fixture


@pytest.fixture(scope="session")
def recordings() -> dict[str, Recording]:
    """English and German 'recordings' by a voice the aligners never use themselves."""
    return {language: fake_recording(BILABIAL_TEXTS[language], language) for language in ("en", "de")}


@pytest.fixture(scope="session")
def fixture_audio():
    """Loader for the shared real recordings at 16 kHz; skips where they are absent."""
    if shutil.which("ffmpeg") is None or not FIXTURES.is_dir():
        pytest.skip(f"needs ffmpeg and the shared fixtures in {FIXTURES}")
    cache: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = load_fixture(name)
        return cache[name]

    return load


def assert_timeline(phones: list[Phone], duration: float) -> None:
    """align()'s promise: sorted, contiguous, non-overlapping, covering [0, duration]."""
    assert phones, "no phones at all"
    assert phones[0].start == 0.0
    assert phones[-1].end == pytest.approx(duration, abs=1e-6)
    for before, after in zip(phones, phones[1:]):
        assert before.end == pytest.approx(after.start, abs=1e-9), (before, after)
        assert not (before.viseme == "sil" and after.viseme == "sil"), "unmerged silences"
    for p in phones:
        assert p.end > p.start, p
        assert p.viseme in VISEMES, p
