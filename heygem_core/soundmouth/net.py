"""The network's forward pass in numpy, and its weights file.

A stack of 1-D convolutions over 100 Hz feature frames: an input layer, residual dilated
layers (dilations 1, 2, 4, 8, 4: about +-210 ms of context each side, as long as a syllable
and its neighbours' coarticulation), and a 1x1 head per output. Outputs per frame:
opening (0..OPEN_MAX relative to the speaker's widest speaking opening), width (-1..1),
closure logit, and logits of the 15 visemes.

The weights file is one ``.npz``: the arrays, the architecture and a manifest (what it was
trained on, how, and its figures). Its version is a hash of the arrays and architecture, so
every cache of what the model made changes with the model.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelMissing
from ..phonetics.types import VISEMES
from .features import N_FEATURES

OPENING, WIDTH, CLOSED, VISEMES_AT = 0, 1, 2, 3
OPEN_MAX = 1.5
WIDTH_MAX = 1.5
DEFAULT_ARCH = {
    "n_in": N_FEATURES,
    "width": 64,
    "kernel_in": 5,
    "dilations": [1, 2, 4, 8, 4],
    "n_out": VISEMES_AT + len(VISEMES),
}
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "models" / "mouth_net.npz"
# Trained on synthetic speech alone (espeak and Festival, exact phone timings): the start the
# shipped model was fine-tuned from on real talking heads, and QA's judge of sync, which must
# not be the model that drives the render nor one that saw the clips its pass mark is set on.
JUDGE_PATH = DEFAULT_PATH.parent / "mouth_net_synthetic.npz"


@dataclass(frozen=True)
class Weights:
    arrays: dict
    arch: dict
    manifest: dict
    version: str

    @property
    def n_parameters(self) -> int:
        return int(sum(a.size for a in self.arrays.values()))


def version_of(arrays: dict, arch: dict) -> str:
    digest = hashlib.sha256(json.dumps(arch, sort_keys=True).encode())
    for name in sorted(arrays):
        digest.update(name.encode() + np.ascontiguousarray(arrays[name], np.float32).tobytes())
    return "mouthnet-" + digest.hexdigest()[:16]


def save(path: str | Path, arrays: dict, arch: dict, manifest: dict) -> Path:
    from ..media import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                __arch__=np.array(json.dumps(arch)),
                __manifest__=np.array(json.dumps(manifest, sort_keys=True, default=str)),
                **{k: np.asarray(v, np.float32) for k, v in arrays.items()},  # type: ignore[arg-type]
            )
    return path


def load(path: str | Path | None = None) -> Weights:
    """The weights at ``path`` (default: the model shipped in the package)."""
    return _load(str(Path(path).resolve()) if path else str(DEFAULT_PATH))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Weights:
    p = Path(path)
    if not p.is_file():
        raise ModelMissing(
            f"mouth model not found: {p} (set HEYGEM_MOUTH_MODEL to a trained file, or "
            "train one with scripts/train_mouth.py)"
        )
    try:
        with np.load(p, allow_pickle=False) as z:
            arch = json.loads(str(z["__arch__"]))
            manifest = json.loads(str(z["__manifest__"]))
            arrays = {k: z[k] for k in z.files if not k.startswith("__")}
    except (OSError, ValueError, KeyError) as err:
        raise ModelMissing(f"mouth model file is damaged or not a heygem mouth model: {p} ({err})") from err
    return Weights(arrays=arrays, arch=arch, manifest=manifest, version=version_of(arrays, arch))


def _conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray, dilation: int = 1) -> np.ndarray:
    """'same' 1-D convolution (torch's Conv1d, cross-correlation) of (T, C_in) by
    (C_out, C_in, K): one matrix product over the K shifted copies."""
    c_out, c_in, k = w.shape
    pad = dilation * (k // 2)
    xp = np.pad(x, ((pad, pad), (0, 0)))
    t = len(x)
    out = np.broadcast_to(b, (t, c_out)).copy()
    for j in range(k):
        out += xp[j * dilation : j * dilation + t] @ w[:, :, j].T
    return out


def forward(weights: Weights, feats: np.ndarray) -> np.ndarray:
    """(T, n_out) raw outputs for (T, N_FEATURES) features."""
    return outputs(weights, hidden(weights, feats))


def hidden(weights: Weights, feats: np.ndarray) -> np.ndarray:
    """(T, width): the last layer before the heads, what a per-lecturer head reads."""
    a = weights.arrays
    x = np.asarray(feats, np.float32)
    h = np.maximum(_conv1d(x, a["inp.w"], a["inp.b"]), 0.0)
    for k, d in enumerate(weights.arch["dilations"]):
        h = h + np.maximum(_conv1d(h, a[f"block{k}.w"], a[f"block{k}.b"], d), 0.0)
    return h


def outputs(weights: Weights, h: np.ndarray) -> np.ndarray:
    """The heads' raw outputs (T, n_out) from ``hidden``'s layer."""
    return _conv1d(h, weights.arrays["head.w"], weights.arrays["head.b"])
