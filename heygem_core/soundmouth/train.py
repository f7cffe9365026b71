"""The torch side of the learned mouth: the model, its training loop, and export to the
numpy weights file that ``net.py`` runs. Only training imports torch.

Training is seeded and deterministic on the CPU; on a CUDA machine the same code runs there
(``device="cuda"``), numerically close but not bit-identical.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import net
from .data import Utterance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2500
    batch: int = 24
    chunk: int = 256  # frames (2.56 s) per training window
    lr: float = 2e-3
    weight_decay: float = 1e-4
    # Share of each batch from real clips. 0 by default (the synthetic-only model); the shipped
    # model is fine-tuned from that one at 0.5 on the corpus at scale (docs/research/learned_mouth.md).
    real_share: float = 0.0
    # loss weights
    w_open_real: float = 1.0
    w_open_synth: float = 0.4
    w_corr_real: float = 0.5  # 1 - Pearson r over each real window
    w_width: float = 0.2
    w_closed: float = 0.3
    # Whether real clips teach the closure head. Their "closed" is the tracker's gap under
    # CLOSED_GAP, a noisy reading; the synthetic speech's closures come from exact phones.
    closed_from_real: bool = True
    w_viseme: float = 0.2
    feature_mask: float = 0.15  # share of input bands masked per window (SpecAugment-style)
    # A fine-tune keeps this share of its starting weights: the saved weights are
    # keep_init * init + (1 - keep_init) * fine-tuned (weight-space ensembling, "WiSE-FT").
    # Fine-tuning on the corpus loses some of what the synthetic speech taught; held-out GRID
    # s1 and Arabic anchors are best at 0.5-0.7 of the way (docs/research/learned_mouth.md).
    keep_init: float = 0.0
    seed: int = 0
    arch: dict = field(default_factory=lambda: dict(net.DEFAULT_ARCH))


def _model(arch: dict):
    import torch
    from torch import nn

    class MouthNet(nn.Module):
        def __init__(self, n_in: int, width: int, kernel_in: int, dilations: Sequence[int], n_out: int):
            super().__init__()
            self.inp = nn.Conv1d(n_in, width, kernel_in, padding=kernel_in // 2)
            self.blocks = nn.ModuleList(nn.Conv1d(width, width, 3, dilation=d, padding=d) for d in dilations)
            self.head = nn.Conv1d(width, n_out, 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):  # x: (B, T, F) -> (B, T, n_out)
            h = torch.relu(self.inp(x.transpose(1, 2)))
            for block in self.blocks:
                h = h + torch.relu(block(self.drop(h)))
            return self.head(h).transpose(1, 2)

    return MouthNet(arch["n_in"], arch["width"], arch["kernel_in"], tuple(arch["dilations"]), arch["n_out"])


def _window(utt: Utterance, length: int, rng: np.random.Generator):
    n = len(utt)
    if n <= length:
        pad = length - n
        take = slice(0, n)
    else:
        a = int(rng.integers(0, n - length + 1))
        take, pad = slice(a, a + length), 0

    def cut(x, fill):
        x = x[take]
        if pad:
            x = np.concatenate([x, np.full((pad,) + x.shape[1:], fill, x.dtype)])
        return x

    return (
        cut(utt.feats, 0.0),
        cut(utt.opening, np.nan),
        cut(utt.width, np.nan),
        cut(utt.closed, np.nan),
        cut(utt.viseme, -1),
        utt.kind == "real",
    )


def _batch(pool: list[Utterance], k: int, cfg: TrainConfig, rng: np.random.Generator):
    picks = [pool[int(i)] for i in rng.integers(0, len(pool), k)]
    return [_window(u, cfg.chunk, rng) for u in picks]


def train(
    utterances: Sequence[Utterance],
    cfg: TrainConfig = TrainConfig(),
    device: str | None = None,
    report: Callable[[int, float], None] | None = None,
    init: dict | None = None,
) -> dict:
    """Train on ``utterances`` (from ``init``'s weights: a fine-tune); return the numpy weights
    (``net.save`` writes them)."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = _model(cfg.arch)
    if init is not None:
        model.load_state_dict({k: torch.as_tensor(v) for k, v in _state(init, cfg.arch).items()})
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(cfg.steps, 2), pct_start=0.1)
    real = [u for u in utterances if u.kind == "real"]
    synth = [u for u in utterances if u.kind != "real"]
    n_real = int(round(cfg.batch * cfg.real_share)) if real and synth else (cfg.batch if real else 0)
    t0 = time.perf_counter()
    model.train()
    for step in range(cfg.steps):
        windows = (_batch(real, n_real, cfg, rng) if n_real else []) + (
            _batch(synth, cfg.batch - n_real, cfg, rng) if cfg.batch - n_real else []
        )
        x, o, w, c, v, is_real = (np.stack([win[i] for win in windows]) for i in range(6))
        if cfg.feature_mask > 0:  # mask a band of features in each window
            for b in range(len(x)):
                width = int(rng.integers(0, int(cfg.feature_mask * x.shape[2]) + 1))
                f0 = int(rng.integers(0, x.shape[2] - width + 1))
                x[b, :, f0 : f0 + width] = 0.0
        to = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
        out = model(to(x))
        loss = _loss(out, to(o), to(w), to(c), to(v, torch.long), to(is_real, torch.bool), cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if report and (step % 100 == 0 or step == cfg.steps - 1):
            report(step, float(loss.detach()))
    log.info("trained %d steps in %.0f s on %s", cfg.steps, time.perf_counter() - t0, device)
    weights = export(model, cfg.arch)
    return interpolate(weights, init, cfg.keep_init) if init is not None else weights


def interpolate(weights: dict, init: dict, keep_init: float) -> dict:
    """``keep_init`` of ``init``'s weights with the rest of ``weights`` (same names and shapes)."""
    if not 0.0 <= keep_init <= 1.0:
        raise ValueError(f"keep_init must be within 0..1, got {keep_init}")
    if set(weights) != set(init) or any(weights[k].shape != np.shape(init[k]) for k in weights):
        raise ValueError("keep_init needs the starting weights of the same architecture")
    return {k: ((1 - keep_init) * weights[k] + keep_init * np.asarray(init[k])).astype(np.float32) for k in weights}


def _loss(out, o, w, c, v, is_real, cfg: TrainConfig):
    import torch
    import torch.nn.functional as F

    pred_o = torch.sigmoid(out[..., net.OPENING]) * net.OPEN_MAX
    pred_w = torch.tanh(out[..., net.WIDTH]) * net.WIDTH_MAX
    total = out.new_zeros(())
    ok_o = torch.isfinite(o)
    err = torch.where(ok_o, (pred_o - torch.nan_to_num(o)) ** 2, torch.zeros_like(o))
    weight = torch.where(is_real[:, None], cfg.w_open_real, cfg.w_open_synth) * ok_o
    total = total + (err * weight).sum() / weight.sum().clamp(min=1)
    if cfg.w_corr_real and bool(is_real.any()):
        total = total + cfg.w_corr_real * _corr_loss(pred_o[is_real], o[is_real])
    ok_w = torch.isfinite(w)
    if bool(ok_w.any()):
        total = total + cfg.w_width * ((pred_w - torch.nan_to_num(w)) ** 2)[ok_w].mean()
    ok_c = torch.isfinite(c)
    if not cfg.closed_from_real:
        ok_c = ok_c & ~is_real[:, None]
    if bool(ok_c.any()):
        total = total + cfg.w_closed * F.binary_cross_entropy_with_logits(out[..., net.CLOSED][ok_c], c[ok_c])
    ok_v = v >= 0
    if bool(ok_v.any()):
        total = total + cfg.w_viseme * F.cross_entropy(out[..., net.VISEMES_AT :][ok_v], v[ok_v])
    return total


def _corr_loss(pred, target):
    """Mean of 1 - Pearson r over windows (frames with a known target only)."""
    import torch

    ok = torch.isfinite(target)
    t = torch.nan_to_num(target)
    n = ok.sum(1).clamp(min=2)
    mp = (pred * ok).sum(1) / n
    mt = (t * ok).sum(1) / n
    dp = (pred - mp[:, None]) * ok
    dt = (t - mt[:, None]) * ok
    r = (dp * dt).sum(1) / ((dp.pow(2).sum(1) * dt.pow(2).sum(1)).sqrt() + 1e-6)
    return (1 - r).mean()


def export(model, arch: dict) -> dict:
    """The model's weights as numpy arrays under ``net``'s names."""
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    weights = {
        "inp.w": sd["inp.weight"],
        "inp.b": sd["inp.bias"],
        "head.w": sd["head.weight"],
        "head.b": sd["head.bias"],
    }
    for k in range(len(arch["dilations"])):
        weights[f"block{k}.w"] = sd[f"blocks.{k}.weight"]
        weights[f"block{k}.b"] = sd[f"blocks.{k}.bias"]
    return weights


def _state(weights: dict, arch: dict) -> dict:
    """``export``'s inverse: numpy weights under the torch model's names."""
    state = {
        "inp.weight": weights["inp.w"],
        "inp.bias": weights["inp.b"],
        "head.weight": weights["head.w"],
        "head.bias": weights["head.b"],
    }
    for k in range(len(arch["dilations"])):
        state[f"blocks.{k}.weight"] = weights[f"block{k}.w"]
        state[f"blocks.{k}.bias"] = weights[f"block{k}.b"]
    return state


def torch_forward(weights: dict, arch: dict, feats: np.ndarray) -> np.ndarray:
    """The torch model with ``weights`` on one clip (for checking net.forward against it)."""
    import torch

    model = _model(arch)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in _state(weights, arch).items()})
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(feats[None], dtype=torch.float32))[0].numpy()


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)


def synthetic_material(
    n_synthetic: int, n_festival: int, seed: int, festival_languages: tuple[str, ...], cache_dir: Path | None
) -> tuple[list[Utterance], list[Utterance]]:
    """``n_synthetic`` espeak and ``n_festival`` Festival utterances, kept in ``cache_dir``
    (minutes to make, the same for every fold of a leave-speakers-out run)."""
    import pickle
    import tempfile

    from .. import cache
    from . import data, synthetic

    kept_at = None
    if cache_dir is not None:
        key = cache.key(
            "synthetic",
            made_by={"data": data.DATA_VERSION},
            settings={
                "espeak": n_synthetic,
                "festival": n_festival,
                "seed": seed,
                "languages": list(festival_languages),
                "voices": synthetic.festival_voices(festival_languages) if n_festival else [],
            },
        )
        kept_at = cache.entry(cache_dir, "soundmouth", key, ".pkl")

        def load(path: Path):
            with open(path, "rb") as fh:
                return pickle.load(fh)  # our own file, written below

        kept = cache.read(kept_at, load, "synthetic training material")
        if kept is not None:
            return kept
    synth = [synthetic.synthetic_utterance(seed * 1_000_003 + 1000 + k) for k in range(n_synthetic)]
    festival = []
    with tempfile.TemporaryDirectory(prefix="heygem-festival-") as tmp:
        for a in range(0, n_festival, 250):  # one Festival process per 250 utterances
            festival += synthetic.festival_utterances(
                [seed * 1_000_003 + k for k in range(a, min(n_festival, a + 250))],
                Path(tmp),
                languages=tuple(festival_languages),
            )
    if kept_at is not None:

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                pickle.dump((synth, festival), fh, protocol=pickle.HIGHEST_PROTOCOL)

        cache.write(kept_at, save, "synthetic training material")
    return synth, festival


def material(
    real_paths: Sequence[Path],
    n_synthetic: int,
    settings,
    hold_out: Sequence[str] = (),
    real_copies: int = 3,
    seed: int = 0,
    n_festival: int = 0,
    festival_languages: tuple[str, ...] = ("en",),
) -> tuple[list[Utterance], dict]:
    """The training set and its manifest: every real clip in ``real_paths`` not of a held-out
    speaker (and ``real_copies`` augmented copies of each), ``n_synthetic`` espeak utterances
    and ``n_festival`` Festival ones (where Festival is installed). The manifest lists exactly
    the real clips trained on."""
    from ..files import sha256_file
    from . import data, synthetic

    utts: list[Utterance] = []
    real_manifest = []
    for path in real_paths:
        path = Path(path)
        speaker = data.speaker_of(path)
        if speaker in hold_out:
            continue
        utt = data.real_utterance(path, settings, cache_dir=settings.cache_dir)
        # a bulk set's windows (1-3 s) are too short to measure an offset on; their sets are
        # in step (corpus README)
        bulk = speaker in data.BULK_SPEAKERS.values()
        lag = 0 if bulk else data.recording_lag(utt, path)
        utt = data.with_lag(utt, lag)
        utts.append(utt)
        if not bulk:
            utts.extend(synthetic.augmented(utt, path, real_copies, seed))
        real_manifest.append(
            {
                "file": path.name,
                "speaker": speaker,
                "sha256": sha256_file(path),
                "seconds": round(len(utt) / 100.0, 2),
                "lag_frames": lag,
            }
        )
    synth, festival = synthetic_material(n_synthetic, n_festival, seed, tuple(festival_languages), settings.cache_dir)
    utts.extend(synth + festival)
    languages = sorted({u.extra.get("language", "?") for u in synth + festival})
    manifest = {
        "real": real_manifest,
        "held_out": list(hold_out),
        "synthetic": {
            "utterances": len(synth) + len(festival),
            "espeak": len(synth),
            "festival": len(festival),
            "festival_voices": synthetic.festival_voices(tuple(festival_languages)) if festival else [],
            "seconds": round(sum(len(u) for u in synth + festival) / 100.0, 1),
            "languages": languages,
            "seed": seed,
            "data_version": data.DATA_VERSION,
        },
    }
    return utts, manifest
