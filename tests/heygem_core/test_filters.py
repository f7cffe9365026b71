"""The numpy filters equal the scipy ones they replace (scipy stays a test-time reference)."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from heygem_core import filters
from tests.paths import LANGUAGE_AUDIO, VIDEOS

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    "order, cutoff, sr",
    [(4, 1500.0, 16000), (2, 300.0, 16000), (3, 7000.0, 16000), (6, 100.0, 48000), (1, 50.0, 16000)],
)
def test_butter_highpass_equals_scipy_sosfilt(order, cutoff, sr):
    x = RNG.standard_normal(3 * sr)
    want = scipy.signal.sosfilt(scipy.signal.butter(order, cutoff, "highpass", fs=sr, output="sos"), x)
    got = filters.butter_highpass(x, order, cutoff, sr)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    short = x[:7]  # shorter than the impulse response
    np.testing.assert_allclose(filters.butter_highpass(short, order, cutoff, sr), want[:7], rtol=0, atol=1e-12)


def test_butter_highpass_rejects_a_cutoff_past_nyquist():
    with pytest.raises(ValueError, match="cutoff"):
        filters.butter_highpass(np.zeros(10), 4, 9000.0, 16000)


@pytest.mark.parametrize("window", [5, 7, 11, 21])
def test_savgol_smooth_equals_scipy(window):
    x = RNG.standard_normal((40, 20, 2)).cumsum(axis=0)
    want = scipy.signal.savgol_filter(x, window, 2, axis=0)
    np.testing.assert_allclose(filters.savgol_smooth(x, window, 2), want, rtol=0, atol=1e-9)
    exact = filters.savgol_smooth(x[:window], window, 2)  # one window: all of it is "edge"
    np.testing.assert_allclose(exact, scipy.signal.savgol_filter(x[:window], window, 2, axis=0), atol=1e-9)


@pytest.mark.parametrize("window", [4, 2, 41])
def test_savgol_smooth_rejects_bad_windows(window):
    with pytest.raises(ValueError):
        filters.savgol_smooth(np.zeros((40, 3)), window, 2)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5, 6.0])
def test_gaussian_smooth_equals_scipy(sigma):
    x = RNG.standard_normal(75)
    want = scipy.ndimage.gaussian_filter1d(x, sigma, mode="nearest")
    np.testing.assert_allclose(filters.gaussian_smooth(x, sigma), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("radius", [1, 3, 12])
def test_moving_max_equals_scipy(radius):
    x = RNG.standard_normal(60)
    want = scipy.ndimage.maximum_filter1d(x, 2 * radius + 1)
    np.testing.assert_array_equal(filters.moving_max(x, radius), want)


@pytest.mark.slow
def test_a_job_never_imports_scipy_or_pandas(tmp_path):
    # The point of this module: scipy's import (~1 s of CPU) stays off a job's path, and so
    # does pandas (~0.4 s, which pyarrow's to_numpy and read_table pull in). A whole job,
    # tracking included, in a fresh interpreter.
    code = (
        "import sys; from pathlib import Path; from heygem_core import pipeline; "
        "from heygem_core.config import Settings; "
        "pipeline.lipsync(sys.argv[1], sys.argv[2], sys.argv[3], settings=Settings(cache_dir=Path(sys.argv[4]))); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'pandas')))"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(VIDEOS["chaplin_7s"]),
            str(LANGUAGE_AUDIO["fr"]),
            str(tmp_path / "out.mp4"),
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "out.mp4").exists()
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_true_runs_at_both_ends_and_none():
    assert filters.true_runs(np.array([True, True, False, True, False, False, True])) == [(0, 2), (3, 4), (6, 7)]
    assert filters.true_runs(np.zeros(5, bool)) == [] and filters.true_runs(np.zeros(0, bool)) == []
    assert filters.true_runs(np.ones(3, bool)) == [(0, 3)]
