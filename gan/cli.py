"""Command line: `python -m gan {train,sample,eval,compare} ...` (see docs/gan.md).

Every bad input ends in one line on stderr and a non-zero exit, never a traceback: bad flag values, config
keys (with the closest known one), malformed TOML, unusable run folders, a config that does not match the
checkpoint of `--resume`, corrupt or unsafe checkpoints, a missing CUDA device exit with status 2; a
failure while training (a non-finite loss naming the step and the loss, a full disk) exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import run_folder
from .config import TrainConfig, add_config_flags, config_from_args, to_toml


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `prog: error: message (--help lists the flags)`, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")

    def fail(self, message, status: int = 2):
        """A bad input found after parsing (a run folder, a checkpoint, a device): one line, no usage."""
        self.exit(status, f"{self.prog}: error: {message}\n")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("divkit")
    except Exception:  # noqa: BLE001 - not installed: say so rather than guess
        return "unknown (not installed)"


def _positive_int(raw: str) -> int:
    try:
        v = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {raw!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {v}")
    return v


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m gan", description="f-GAN training for every divkit divergence")
    p.add_argument("--version", action="version", version=f"%(prog)s (divkit {_version()})")
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,sample,eval,plot,compare}")
    t = sub.add_parser("train", help="train one GAN", usage="%(prog)s [--config FILE.toml] [--FIELD VALUE ...] "
                       "[--resume | --overwrite] [--threads N] [--print-config]")
    add_config_flags(t)
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in OUT from its checkpoint (flags not given keep the checkpoint's "
                           "values; only steps, learning rates and logging may change)")
    mode.add_argument("--overwrite", action="store_true",
                      help="delete the run in a non-empty OUT and start again (without it, a non-empty OUT is "
                           "refused)")
    t.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="torch CPU threads (default: the checkpoint's count on --resume; else 1 for the 2-D MLP "
                        "models, else the free cores, at most 8)")
    t.add_argument("--print-config", action="store_true",
                   help="print the resolved config as TOML (readable by --config) and exit without training")
    t.add_argument("--stop-after", type=int, default=None,
                   help="(testing) exit abruptly after this step, as a killed run would")
    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder (with checkpoint.pt; it may have been moved)")
    s.add_argument("--n", type=int, default=2500, help="number of samples [default: 2500]")
    s.add_argument("--seed", type=int, default=0, help="seed of the noise [default: 0]")
    s.add_argument("--out", "--output", dest="output", default=None,
                   help="file for the samples; its suffix picks the format: .png (image grid, or scatter over the "
                        "data for 2-D), .npy, .npz [default: RUN/samples_seed<S>.npy]")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the run's, or cpu without CUDA)")
    e = sub.add_parser("eval", help="metrics of a trained run (mode coverage for mixtures and stacked images)")
    e.add_argument("run", help="run folder (with checkpoint.pt; it may have been moved)")
    e.add_argument("--n", type=int, default=None, help="generator samples (default 2500; stacked data: 26000)")
    e.add_argument("--seed", type=int, default=0, help="seed of the noise [default: 0]")
    e.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: the run's, or cpu without CUDA)")
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
    from .plot_cli import add_plot_parser

    add_plot_parser(sub)
    c = sub.add_parser("compare", help="every divergence × generator loss × seed (or a --study) under one budget")
    add_config_flags(c)
    c.add_argument("--divergences", default="all", help="'all' or a comma-separated list")
    c.add_argument("--study", default=None, help="a named set of variants instead of --divergences: "
                   "mode-collapse (GAN both losses, f-divergences, unrolled5, pacgan2, mine, sn), mine; "
                   "pacgan (PacGAN Table 1 at its protocol: GAN, PacGAN2/3/4 on ring8 and grid25, --seeds trials); "
                   "fair (random search per divergence × generator loss, --budget draws × --seeds seeds)")
    c.add_argument("--seeds", type=int, default=3, help="seeds 0 … N−1 per variant [default: 3]")
    c.add_argument("--generator-losses", default="saturating,nonsaturating",
                   help="comma-separated: saturating, nonsaturating [default: both]")
    # sweeps (gan.sweep): the batched engine, a job pool, commands for a scheduler, the published protocols
    c.add_argument("--engine", default="auto", choices=("auto", "solo"),
                   help="auto: train runs of one architecture as one batched model, the rest alone; solo: all alone")
    c.add_argument("--jobs", type=_positive_int, default=1, help="processes for the jobs: each batch (one per architecture) and each run trained alone")
    c.add_argument("--devices", default=None, help="comma-separated GPU ids the job processes are spread over")
    c.add_argument("--emit-commands", default=None, metavar="FILE",
                   help="write one command per unfinished job (a batch: 'python -m gan.sweep.batch_job SPEC', a "
                        "run alone: 'python -m gan train') to FILE and train nothing")
    c.add_argument("--budget", type=int, default=None,
                   help="--study fair: random hyperparameter draws per divergence × generator loss")
    p.commands = {"train": t, "sample": s, "eval": e, "plot": sub.choices["plot"], "compare": c}
    return p


def _load_run(parser, run, device=None):
    """The run in folder `run`, found from the folder given (never through the `out` saved in its config)."""
    from .trainer import Trainer

    run = Path(run)
    if not (run / "checkpoint.pt").is_file():
        parser.fail(f"{run} is not a run folder (no checkpoint.pt there)")
    return Trainer.from_run(run, device=device)


def _train_config(parser, args) -> TrainConfig:
    """defaults < --config < flags; with --resume the checkpoint's config replaces the defaults, so only the
    flags that change something need repeating."""
    from . import checkpoint as ckpt_mod

    cfg = config_from_args(args)
    ckpt = Path(cfg.out) / "checkpoint.pt"
    if args.resume and ckpt.is_file():
        saved = ckpt_mod.load(ckpt)["config"]
        known = set(TrainConfig.__dataclass_fields__)
        base = TrainConfig.from_dict({k: v for k, v in saved.items() if k in known and k != "out"})
        out = cfg.out
        cfg = config_from_args(args, base=base)
        cfg.out = out
    return cfg


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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    sub = parser.commands[args.command]  # errors name the subcommand
    try:
        return _run(sub, args)
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError) as exc:
        # bad input found after parsing (config values, run folders, checkpoints, devices, data files);
        # GAN_TRACEBACK=1 shows the traceback instead
        if os.environ.get("GAN_TRACEBACK"):
            raise
        sub.fail(_one_line(exc))


def _run(parser, args) -> int:
    if args.command in ("train", "compare"):
        cfg = _train_config(parser, args) if args.command == "train" else config_from_args(args)
        cfg.validate()
    if args.command == "train":
        from .threads import auto_threads, set_threads
        from .trainer import NonFiniteLossError, Trainer

        if args.print_config:
            print(to_toml(cfg), end="")
            return 0
        tr = Trainer(cfg, resume=args.resume, overwrite=args.overwrite)
        # a resumed run keeps the checkpoint's thread count (CPU results are bit-identical per count)
        set_threads(args.threads or tr.saved_threads or auto_threads(cfg, tr.data.shape))
        try:
            summary = tr.fit(stop_after=args.stop_after)
        except (NonFiniteLossError, OSError) as exc:  # a failure of the run itself (a full disk): status 1
            print(f"{parser.prog}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        if args.stop_after is not None and not summary:
            sys.stdout.flush()
            os._exit(3)  # as abrupt as a kill: no final checkpoint, no final outputs
        print(run_folder.dumps(summary))
        if tr.dist.distributed:  # leave the process group before interpreter teardown (gan.distributed.cleanup)
            from .distributed import cleanup

            del tr
            cleanup()
        return 0
    if args.command == "sample":
        if args.n < 1:
            parser.error(f"--n must be ≥ 1, got {args.n}")
        from .plot_cli import check_sample_path, write_samples

        out = check_sample_path(args.output or Path(args.run) / f"samples_seed{args.seed}.npy")
        tr = _load_run(parser, args.run, args.device)
        print(write_samples(tr, args.n, args.seed, out))
        return 0
    if args.command == "plot":
        from .plot_cli import run_plot

        return run_plot(args)
    if args.command == "eval":
        from .data import StackedImages
        from .metrics import mode_metrics

        if args.n is not None and args.n < 1:
            parser.error(f"--n must be ≥ 1, got {args.n}")
        tr = _load_run(parser, args.run, args.device)
        stacked = isinstance(tr.data, StackedImages)
        if (len(tuple(tr.data.shape)) == 3 and not stacked) or (stacked and (
                args.n_samples is not None or args.inception_weights is not None)):
            from .image_eval import DEFAULT_N, evaluate_run

            if args.n_samples is not None and args.n_samples < 2:
                parser.error(f"--n-samples must be ≥ 2, got {args.n_samples}")
            r = evaluate_run(args.run, args.n_samples or DEFAULT_N, args.inception_weights, seed=args.seed,
                             classifier_epochs=args.classifier_epochs, classifier_images=args.classifier_images)
            print(run_folder.dumps(r))
            return 0
        if stacked:
            print(run_folder.dumps(_stacked_eval(tr, args)))
            return 0
        if not hasattr(tr.data, "means"):
            parser.fail("eval supports mixture data (ring8, grid25) and images; this run's data have neither "
                        "modes nor an image shape")
        m = mode_metrics(tr.generate(n=args.n or 2500, seed=args.seed), tr.data.means, tr.data.std)
        print(run_folder.dumps({k: m[k] for k in ("modes", "hq_fraction", "reverse_kl", "n")}))
        return 0
    if args.command == "compare":
        from .compare import divergence_variants, run_variants, study_variants, table_markdown
        from .sweep.studies import SWEEP_STUDIES

        if args.seeds < 1:
            parser.error(f"--seeds must be ≥ 1, got {args.seeds}")
        gls = [g.strip() for g in args.generator_losses.split(",")]
        bad = [g for g in gls if g not in ("saturating", "nonsaturating")]
        if bad:
            parser.error(f"--generator-losses: unknown {bad}; known: saturating, nonsaturating")
        try:
            variants = ([] if args.study in SWEEP_STUDIES else
                        study_variants(args.study) if args.study else divergence_variants(args.divergences, gls))
        except ValueError as exc:
            parser.error(str(exc))
        devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
        # --eval-every is the config's field: batched runs log the same mode metrics into eval.jsonl
        sweep = dict(engine=args.engine, jobs=args.jobs, devices=devices, emit_commands=args.emit_commands,
                     eval_every=cfg.eval_every)
        if args.study in SWEEP_STUDIES:
            print(SWEEP_STUDIES[args.study](cfg, args, **sweep))
            return 0
        records = run_variants(cfg, variants, args.seeds, cfg.out, **sweep)
        print(table_markdown(records, cfg))
        return 0
    return 0
