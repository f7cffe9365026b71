#!/usr/bin/env python
"""Train the learned mouth (heygem_core/soundmouth) and write its weights file.

The shipped model, in two steps (the first is heygem_core/models/mouth_net_synthetic.npz,
also QA's judge; the second fine-tunes it on real talking heads at scale):

    .venv/bin/python scripts/train_mouth.py -o heygem_core/models/mouth_net_synthetic.npz
    .venv/bin/python scripts/train_mouth.py --corpus --init heygem_core/models/mouth_net_synthetic.npz \
        --real-share 0.5 --steps 800 --lr 1e-3 --synthetic 1500 --festival 500 --no-real-closures \
        --hold-out presenter_suit_6s --hold-out grid_lbax4n
    # a leave-speakers-out model for benchmarks/selfdub.py and fold_models.py: add --fold K -o DIR/foldK.npz
    .venv/bin/python scripts/train_mouth.py --tiny -o /tmp/t.npz # a few seconds, for CI

Synthetic: espeak-ng speech in many languages and Festival's English voices (diphone and
HTS, closer to a recorded voice), with exact phone timings, augmented; kept in the cache dir
once made. Real (--corpus): every clip of ../shared/corpus (the single clips, GRID s1, the
Arabic anchors) and the two fixture clips with their own sound, each speaker's own sound ->
their own tracked mouth, each single clip's sound offset from its picture measured over the
whole clip and taken out (bulk windows are too short to measure and their sets are in step).
--hold-out keeps a speaker out; --fold K keeps out the speakers of fold K
(soundmouth/corpus.fold_of). Seeded: the same command on the same data gives the same weights
on the CPU. The file's manifest lists every clip it (and its --init) saw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SHARED = HERE.parent / "shared"
DEFAULT_REAL = [
    SHARED / "corpus" / "video",
    SHARED / "fixtures" / "video" / "katie_8s.mp4",
    SHARED / "fixtures" / "video" / "chaplin_7s.mp4",
]


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE))
    from heygem_core.config import Settings
    from heygem_core.soundmouth import data, net, synthetic, train

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", type=Path, default=net.DEFAULT_PATH, help="weights file to write")
    p.add_argument("--real", type=Path, action="append", help="real clip or folder (repeatable)")
    p.add_argument(
        "--corpus",
        action="store_true",
        help="real material at scale: every clip of ../shared/corpus (single clips, GRID s1, "
        "the Arabic anchors) and the fixture clips with their own sound",
    )
    p.add_argument(
        "--fold",
        type=int,
        action="append",
        default=[],
        help="leave out the speakers of this fold (soundmouth/corpus.fold_of; repeatable)",
    )
    p.add_argument("--init", type=Path, help="start from these weights (a fine-tune)")
    p.add_argument("--lr", type=float, default=train.TrainConfig.lr)
    p.add_argument(
        "--keep-init",
        type=float,
        default=train.TrainConfig.keep_init,
        help="share of the --init weights the result keeps (0..1; weight-space ensembling)",
    )
    p.add_argument(
        "--no-real-closures",
        action="store_true",
        help="the closure head learns from the synthetic speech's exact phones only",
    )
    p.add_argument("--synthetic", type=int, default=4000, help="espeak utterances (default 4000)")
    p.add_argument(
        "--festival", type=int, default=1500, help="Festival utterances, where Festival is installed (default 1500)"
    )
    p.add_argument(
        "--festival-languages",
        default="en",
        help="Festival voices of these languages, comma-separated (default en; 'all': en,it,cs,fi,ru,ca)",
    )
    p.add_argument(
        "--real-share",
        type=float,
        default=train.TrainConfig.real_share,
        help="share of each batch from real clips (default 0: none are used)",
    )
    p.add_argument("--steps", type=int, default=train.TrainConfig.steps)
    p.add_argument(
        "--hold-out",
        action="append",
        default=[],
        metavar="SPEAKER",
        help="leave this speaker's clips out (repeatable; names as in data.speaker_of)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    p.add_argument("--tiny", action="store_true", help="a few steps on a little data (CI)")
    args = p.parse_args(argv)
    if not 0.0 <= args.keep_init <= 1.0:
        p.error(f"--keep-init must be within 0..1, got {args.keep_init}")
    if args.keep_init and not args.init:
        p.error("--keep-init needs --init (the weights to keep a share of)")

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    settings = Settings.from_env()
    from heygem_core.soundmouth import corpus

    if args.corpus:
        real = [c.path for c in corpus.all_clips(SHARED) if corpus.fold_of(c.speaker) not in args.fold]
    else:
        real = data.real_clips(args.real or [r for r in DEFAULT_REAL if r.exists()])
    steps, n_synth, n_fest, share = args.steps, args.synthetic, args.festival, args.real_share
    if args.tiny:  # every kind of material, a few steps
        real, steps, n_synth, n_fest, share = real[:2], 20, 8, 4, 0.5
    if share <= 0:
        real = []
    cfg = train.TrainConfig(
        steps=steps,
        seed=args.seed,
        real_share=share,
        lr=args.lr,
        closed_from_real=not args.no_real_closures,
        keep_init=args.keep_init,
    )
    languages = (
        tuple(sorted({lang for lang, _ in synthetic.FESTIVAL_VOICES.values()}))
        if args.festival_languages == "all"
        else tuple(x.strip() for x in args.festival_languages.split(",") if x.strip())
    )
    t0 = time.perf_counter()
    utts, manifest = train.material(
        real, n_synth, settings, hold_out=args.hold_out, seed=args.seed, n_festival=n_fest, festival_languages=languages
    )
    print(
        f"material: {sum(u.kind == 'real' for u in utts)} real windows, "
        f"{sum(u.kind != 'real' for u in utts)} synthetic ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    init = net.load(args.init) if args.init else None
    weights = train.train(
        utts,
        cfg,
        device=args.device,
        init=init.arrays if init else None,
        report=lambda step, loss: print(f"step {step:5d}  loss {loss:.4f}", flush=True),
    )
    manifest.update(
        config=train.config_dict(cfg),
        torch=torch.__version__,
        seconds=round(time.perf_counter() - t0, 1),
        folds_held_out=args.fold,
        init=(
            {
                "file": args.init.name,
                "version": init.version,
                "real": init.manifest.get("real", []),
                "synthetic": init.manifest.get("synthetic"),
            }
            if init
            else None
        ),
    )
    if init:  # every real clip the weights ever saw, for leave-speakers-out checks
        manifest["real"] = manifest["real"] + init.manifest.get("real", [])
    path = net.save(args.out, weights, cfg.arch, manifest)
    w = net.load(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {w.n_parameters} parameters, {w.version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
