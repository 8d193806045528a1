"""Command line: `python -m gan {train,sample,eval,compare} ...` (see docs/gan.md).

Bad flag values exit with status 2 and an argparse message; unknown divergences/datasets and missing data
files are reported the same way. A non-finite loss exits with status 1 naming the step and the loss.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from .config import TrainConfig, add_config_flags, config_from_args


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan", description="f-GAN training for every divkit divergence")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one GAN")
    add_config_flags(t)
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    t.add_argument("--stop-after", type=int, default=None,
                   help="(testing) exit abruptly after this step, as a killed run would")
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder (with config.json and checkpoint.pt)")
    s.add_argument("--n", type=int, default=2500)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--output", default=None, help="file for the samples (.npy); default RUN/samples_seed<S>.npy")
    e = sub.add_parser("eval", help="metrics of a trained run (mode coverage for mixtures and stacked images)")
    e.add_argument("run")
    e.add_argument("--n", type=int, default=None, help="generator samples (default 2500; stacked data: 26000)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--classifier-epochs", type=int, default=3,
                   help="stacked data: epochs of the mode classifier trained on the base images (cached in RUN)")
    e.add_argument("--classifier-images", type=int, default=None,
                   help="stacked data: train the mode classifier on the first N base images (default all)")
    e.add_argument("--n-samples", type=int, default=None,
                   help="images: generated and real images for IS/FID/KID/PR/DC (default 10000; on stacked data "
                        "giving it adds these metrics to the mode count); written to RUN/eval_images_<extractor>.json")
    e.add_argument("--inception-weights", default=None, metavar="PATH",
                   help="images: Inception-v3 weights (pytorch-fid/torch-fidelity .pth state dict or StyleGAN/"
                        "clean-fid TorchScript .pt) instead of the classifier trained on the data set")
    c = sub.add_parser("compare", help="every divergence × generator loss × seed (or a --study) under one budget")
    add_config_flags(c)
    c.add_argument("--divergences", default="all", help="'all' or a comma-separated list")
    c.add_argument("--study", default=None, help="a named set of variants instead of --divergences: "
                   "mode-collapse (GAN both losses, f-divergences, unrolled5, pacgan2, mine, sn)")
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--generator-losses", default="saturating,nonsaturating")
    return p


def _load_run(parser, run):
    from .trainer import Trainer

    run = Path(run)
    if not (run / "config.json").is_file() or not (run / "checkpoint.pt").is_file():
        parser.error(f"{run} is not a finished run folder (needs config.json and checkpoint.pt)")
    cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    cfg.progress = False
    tr = Trainer(cfg, resume=True)
    return tr


def _stacked_eval(tr, args) -> dict:
    """Modes (of 1000) and KL to uniform of a run on stacked data, with a SmallClassifier trained on the base
    images (cached as RUN/mode_classifier.pt with its accuracy)."""
    import torch

    from .features import SmallClassifier, train_classifier
    from .metrics import stacked_mode_metrics

    base = tr.data.base
    path = Path(args.run) / "mode_classifier.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        clf = SmallClassifier(1, base.num_classes)
        clf.load_state_dict(saved["state"])
        clf.eval()
        acc = float(saved["accuracy"])
    else:
        n = len(base) if args.classifier_images is None else min(args.classifier_images, len(base))
        clf, acc = train_classifier(base.images[:n], base.labels[:n], epochs=args.classifier_epochs)
        torch.save({"state": clf.state_dict(), "accuracy": acc}, path)
    m = stacked_mode_metrics(tr.generate(n=args.n or 26000, seed=args.seed), clf, tr.data.k, base.num_classes)
    return {"modes": m["modes"], "of": base.num_classes ** tr.data.k, "kl": m["kl"], "n": m["n"],
            "classifier_train_accuracy": acc}


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command in ("train", "compare"):
            cfg = config_from_args(args)
            try:
                cfg.validate()
            except ValueError as exc:
                parser.error(str(exc))
        if args.command == "train":
            from .trainer import NonFiniteLossError, Trainer

            try:
                tr = Trainer(cfg, resume=args.resume)
                summary = tr.fit(stop_after=args.stop_after)
            except NonFiniteLossError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            if args.stop_after is not None and not summary:
                sys.stdout.flush()
                os._exit(3)  # as abrupt as a kill: no final checkpoint, no final outputs
            print(json.dumps(summary))
            return 0
        if args.command == "sample":
            if args.n < 1:
                parser.error(f"--n must be ≥ 1, got {args.n}")
            tr = _load_run(parser, args.run)
            x = tr.generate(n=args.n, seed=args.seed).numpy()
            out = args.output or str(Path(args.run) / f"samples_seed{args.seed}.npy")
            np.save(out, x)
            print(out)
            return 0
        if args.command == "eval":
            from .data import ImageData, StackedImages
            from .metrics import mode_metrics

            if args.n is not None and args.n < 1:
                parser.error(f"--n must be ≥ 1, got {args.n}")
            tr = _load_run(parser, args.run)
            if isinstance(tr.data, ImageData) or (isinstance(tr.data, StackedImages) and (
                    args.n_samples is not None or args.inception_weights is not None)):
                from .image_eval import DEFAULT_N, evaluate_run

                try:
                    r = evaluate_run(args.run, args.n_samples or DEFAULT_N, args.inception_weights, seed=args.seed,
                                     classifier_epochs=args.classifier_epochs,
                                     classifier_images=args.classifier_images)
                except ValueError as exc:
                    parser.error(str(exc))
                print(json.dumps(r))
                return 0
            if isinstance(tr.data, StackedImages):
                print(json.dumps(_stacked_eval(tr, args)))
                return 0
            if not hasattr(tr.data, "means"):
                parser.error("eval supports mixture data (ring8, grid25) and stacked images; for other images use "
                             "gan.metrics.fid/kid")
            m = mode_metrics(tr.generate(n=args.n or 2500, seed=args.seed), tr.data.means, tr.data.std)
            print(json.dumps({k: m[k] for k in ("modes", "hq_fraction", "reverse_kl", "n")}))
            return 0
        if args.command == "compare":
            from .compare import divergence_variants, run_variants, study_variants, table_markdown

            if args.seeds < 1:
                parser.error(f"--seeds must be ≥ 1, got {args.seeds}")
            gls = [g.strip() for g in args.generator_losses.split(",")]
            bad = [g for g in gls if g not in ("saturating", "nonsaturating")]
            if bad:
                parser.error(f"--generator-losses: unknown {bad}; known: saturating, nonsaturating")
            try:
                variants = (study_variants(args.study) if args.study else divergence_variants(args.divergences, gls))
            except ValueError as exc:
                parser.error(str(exc))
            records = run_variants(cfg, variants, args.seeds, cfg.out)
            print(table_markdown(records, cfg))
            return 0
    except FileNotFoundError as exc:
        parser.error(str(exc))
    except ImportError as exc:
        parser.error(str(exc))
    return 0
