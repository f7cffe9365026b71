"""Small pure pieces: DTW optimality, timeline tidying, overlay, silence detection."""

import numpy as np
import pytest

from heygem_core.phonetics import Phone
from heygem_core.phonetics.blind import overlay
from heygem_core.phonetics.dtw import dtw_path
from heygem_core.phonetics.features import speech_bounds
from heygem_core.phonetics.timeline import tidy

from .conftest import assert_timeline


def _brute_force_cost(x, y):
    c = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    d = np.full(c.shape, np.inf)
    for i in range(len(x)):
        for j in range(len(y)):
            if i == 0 and j == 0:
                d[i, j] = c[0, 0]
                continue
            options = []
            if i and j:
                options.append(d[i - 1, j - 1] + 2 * c[i, j])
            if i:
                options.append(d[i - 1, j] + c[i, j])
            if j:
                options.append(d[i, j - 1] + c[i, j])
            d[i, j] = min(options)
    return d[-1, -1], c


def _path_cost(path, c):
    total = c[0, 0]
    for (i0, j0), (i1, j1) in zip(path[:-1], path[1:]):
        total += (2 if (i1 - i0) + (j1 - j0) == 2 else 1) * c[i1, j1]
    return total


@pytest.mark.parametrize("seed", range(8))
def test_dtw_finds_the_optimal_path(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(rng.integers(1, 30), 3)), rng.normal(size=(rng.integers(1, 30), 3))
    best, c = _brute_force_cost(x, y)
    path = dtw_path(x, y, half_width=100)  # band wider than the matrix: unconstrained
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (len(x) - 1, len(y) - 1)
    steps = np.diff(path, axis=0)
    assert ((steps == 0) | (steps == 1)).all() and (steps.sum(1) >= 1).all()
    assert _path_cost(path, c) == pytest.approx(best)


def test_dtw_recovers_a_known_stretch():
    # y is x played 1.5x slower: the path must follow j ~ 1.5 i.
    t = np.linspace(0, 6 * np.pi, 200)
    x = np.stack([np.sin(t), np.cos(2 * t)], 1)
    ts = np.linspace(0, 6 * np.pi, 300)
    y = np.stack([np.sin(ts), np.cos(2 * ts)], 1)
    path = dtw_path(x, y, half_width=20)
    assert np.abs(path[:, 1] - 1.5 * path[:, 0]).max() <= 3


def test_tidy_fills_clips_and_merges():
    raw = [
        Phone(0.2, 0.5, "a", "aa"),
        Phone(0.45, 0.7, "m", "PP"),
        Phone(0.8, 0.9, "_", "sil"),
        Phone(0.9, 1.0, "_:", "sil"),
        Phone(1.1, 5.0, "p", "PP"),
        Phone(0.3, 0.3, "x", "DD"),
    ]
    out = tidy(raw, duration=2.0)
    assert_timeline(out, 2.0)
    assert [(p.label, p.start, p.end) for p in out] == [
        ("sil", 0.0, 0.2),
        ("a", 0.2, 0.5),
        ("m", 0.5, 0.7),
        ("sil", 0.7, 1.1),
        ("p", 1.1, 2.0),
    ]


def test_overlay_cuts_what_it_covers():
    base = [Phone(0.0, 1.0, "AA", "aa"), Phone(1.0, 1.2, "T", "DD"), Phone(1.2, 2.0, "IY", "ih")]
    out = overlay(base, Phone(0.9, 1.3, "pcl", "PP"))
    assert [(p.label, p.start, p.end) for p in out] == [("AA", 0.0, 0.9), ("pcl", 0.9, 1.3), ("IY", 1.3, 2.0)]


def test_speech_bounds():
    sr = 16000
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1e-3, 3 * sr).astype(np.float32)
    assert speech_bounds(noise, sr) is None
    assert speech_bounds(np.zeros(sr, np.float32), sr) is None
    tone = noise.copy()
    tone[sr : 2 * sr] += 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)
    start, end = speech_bounds(tone, sr)
    assert start == pytest.approx(1.0, abs=0.05) and end == pytest.approx(2.0, abs=0.05)
