"""The numpy forward pass is the torch model's, and the shipped weights load offline."""

import numpy as np
import pytest

from heygem_core.errors import ModelMissing
from heygem_core.phonetics.types import VISEMES
from heygem_core.soundmouth import features, net


def _random_weights(arch, seed=0):
    rng = np.random.default_rng(seed)
    w = {
        "inp.w": rng.normal(0, 0.2, (arch["width"], arch["n_in"], arch["kernel_in"])),
        "inp.b": rng.normal(0, 0.1, arch["width"]),
        "head.w": rng.normal(0, 0.2, (arch["n_out"], arch["width"], 1)),
        "head.b": rng.normal(0, 0.1, arch["n_out"]),
    }
    for k in range(len(arch["dilations"])):
        w[f"block{k}.w"] = rng.normal(0, 0.1, (arch["width"], arch["width"], 3))
        w[f"block{k}.b"] = rng.normal(0, 0.1, arch["width"])
    return {k: v.astype(np.float32) for k, v in w.items()}


def test_numpy_forward_matches_torch():
    pytest.importorskip("torch")
    from heygem_core.soundmouth import train

    arch = dict(net.DEFAULT_ARCH)
    arrays = _random_weights(arch)
    feats = np.random.default_rng(1).normal(0, 1, (157, arch["n_in"])).astype(np.float32)
    ours = net.forward(net.Weights(arrays, arch, {}, net.version_of(arrays, arch)), feats)
    theirs = train.torch_forward(arrays, arch, feats)
    assert ours.shape == (157, arch["n_out"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_version_follows_the_weights():
    arch = dict(net.DEFAULT_ARCH)
    a = _random_weights(arch)
    b = dict(a, **{"head.b": a["head.b"] + 1e-3})
    assert net.version_of(a, arch) == net.version_of(dict(a), arch)
    assert net.version_of(a, arch) != net.version_of(b, arch)


def test_shipped_model_loads_offline_and_is_small():
    w = net.load()
    assert net.DEFAULT_PATH.stat().st_size < 10e6
    assert w.arch["n_out"] == net.VISEMES_AT + len(VISEMES)
    assert w.n_parameters > 10_000
    # the manifest names what it was trained on: real talking heads at scale (the corpus's
    # single clips, GRID s1 and the Arabic anchors), two speakers kept out to judge it on, and
    # synthetic speech; it started from the synthetic-only model, which QA judges with
    speakers = {c["speaker"] for c in w.manifest["real"]}
    assert {"grid_s1", "arabic_anchors"} <= speakers and len(speakers) >= 25
    assert not speakers & set(w.manifest["held_out"]) and len(w.manifest["held_out"]) == 2
    assert w.manifest["config"]["real_share"] > 0 and w.manifest["synthetic"]["utterances"] >= 1000
    judge = net.load(net.JUDGE_PATH)
    assert w.manifest["init"]["version"] == judge.version
    assert judge.manifest["real"] == [] and len(judge.manifest["synthetic"]["languages"]) >= 8


def test_outputs_have_the_documented_shapes_and_ranges():
    from heygem_core.soundmouth.predict import predict

    rng = np.random.default_rng(0)
    pcm = (rng.normal(0, 0.1, 16000 * 2) * np.sin(np.linspace(0, 20, 32000)) ** 2).astype(np.float32)
    pred = predict(pcm, 16000)
    n = len(features.clip_features(pcm, 16000))
    assert pred.opening.shape == pred.width.shape == pred.closed.shape == (n,)
    assert pred.visemes.shape == (n, len(VISEMES))
    assert np.all((pred.opening >= 0) & (pred.opening <= net.OPEN_MAX))
    assert np.all(np.abs(pred.width) <= net.WIDTH_MAX)
    assert np.all((pred.closed >= 0) & (pred.closed <= 1))
    np.testing.assert_allclose(pred.visemes.sum(1), 1.0, rtol=1e-6)
    at = pred.at(25.0, 50)
    assert at.opening.shape == (50,)


def test_a_missing_or_damaged_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelMissing, match="not found"):
        net.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelMissing, match="damaged"):
        net.load(bad)
