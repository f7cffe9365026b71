"""The training script runs end to end on a little data and writes a loadable model."""

import os
import subprocess
import sys

import numpy as np
import pytest

from heygem_core.soundmouth import net
from tests.paths import REPO

pytest.importorskip("torch")


@pytest.mark.slow
def test_a_tiny_training_run_writes_a_model_with_its_manifest(tmp_path):
    out = tmp_path / "tiny.npz"
    env = dict(os.environ, HEYGEM_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_mouth.py"), "--tiny", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote" in done.stdout
    w = net.load(out)
    assert w.version != net.load().version
    from heygem_core.soundmouth.synthetic import festival_voices

    made = w.manifest["synthetic"]
    assert len(w.manifest["real"]) == 2 and made["espeak"] == 8
    assert made["festival"] == (4 if festival_voices() else 0)
    assert w.manifest["config"]["steps"] == 20
    assert all(np.all(np.isfinite(a)) for a in w.arrays.values())


def test_training_is_seeded(tmp_path):
    from heygem_core.soundmouth import synthetic, train

    utts = [synthetic.synthetic_utterance(k) for k in range(3)]
    cfg = train.TrainConfig(steps=3, batch=4, chunk=64)
    a = train.train(utts, cfg, device="cpu")
    b = train.train(utts, cfg, device="cpu")
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_fine_tune_on_the_corpus_leaves_its_fold_out_and_says_what_it_started_from(tmp_path):
    from heygem_core.soundmouth import corpus

    out = tmp_path / "fold.npz"
    env = dict(os.environ, HEYGEM_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "train_mouth.py"),
            "--tiny",
            "--corpus",
            "--fold",
            "0",
            "--init",
            str(net.JUDGE_PATH),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    w = net.load(out)
    assert w.manifest["folds_held_out"] == [0]
    assert w.manifest["init"]["version"] == net.load(net.JUDGE_PATH).version
    trained_on = [c for c in w.manifest["real"] if c.get("lag_frames") is not None]
    assert trained_on and all(corpus.fold_of(c["speaker"]) != 0 for c in trained_on)


def test_a_fine_tune_can_keep_a_share_of_its_starting_weights():
    from heygem_core.soundmouth import synthetic, train

    init = net.load(net.JUDGE_PATH).arrays
    utts = [synthetic.synthetic_utterance(k) for k in range(3)]
    cfg = dict(steps=3, batch=4, chunk=64)
    tuned = train.train(utts, train.TrainConfig(**cfg), device="cpu", init=init)
    half = train.train(utts, train.TrainConfig(**cfg, keep_init=0.5), device="cpu", init=init)
    kept = train.train(utts, train.TrainConfig(**cfg, keep_init=1.0), device="cpu", init=init)
    assert all(np.allclose(kept[k], init[k]) for k in init)
    assert all(np.allclose(half[k], (tuned[k] + init[k]) / 2, atol=1e-6) for k in init)
    assert any(not np.allclose(tuned[k], init[k]) for k in init)
    with pytest.raises(ValueError, match="within 0..1"):
        train.interpolate(tuned, init, 1.5)
