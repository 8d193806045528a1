"""`python -m gan plot RUN [RUN ...]` (training curves) and the file formats of `python -m gan sample`.

plot: reads every run folder's step log (metrics.jsonl: loss_d, loss_g, and loss-specific values such as
began_k) and evaluation log (eval.jsonl: modes, hq_fraction, reverse_kl, fid, kid), groups the runs whose
config.json agree on everything but the seed (and the fields that do not change the run: out, progress,
logging, device), and draws one panel per metric: the mean over a group's runs with a ±1 s.e. band, at the
steps every run of the group logged. Writes STEM.pdf and STEM.png (default RUN0/curves).

sample: the suffix of --out decides the format: .png an image grid (images) or a scatter over 1000 real
samples (2-D data); .npy the array; .npz the array under "samples". Any other suffix is refused.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import argparse
    import os

    from .trainer import Trainer

# config fields that do not change what a run computes: runs differing only in these (and the seed) are seeds
# of one experiment
NOT_EXPERIMENT = {"seed", "out", "progress", "log_every", "sample_every", "checkpoint_every", "device",
                  "tensorboard", "eval_every", "keep_best", "data_path", "data_workers", "compile", "compile_backend"}
LOGS = ("metrics.jsonl", "eval.jsonl")
SAMPLE_SUFFIXES = (".png", ".npy", ".npz")


def read_curves(run: str | os.PathLike) -> dict:
    """{metric: (steps (T,) int, values (T,) float)} from RUN/metrics.jsonl and RUN/eval.jsonl. Non-step lines
    (no integer "step", or "final") are skipped; a step logged twice keeps its last record; null → NaN."""
    run = Path(run)
    rows: dict[str, dict[int, float]] = {}
    found = False
    for name in LOGS:
        path = run / name
        if not path.is_file():
            continue
        found = True
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or rec.get("final") or not isinstance(rec.get("step"), int):
                continue
            for k, v in rec.items():
                if k in ("step", "seconds", "best") or isinstance(v, bool):
                    continue
                if v is None or isinstance(v, (int, float)):
                    rows.setdefault(k, {})[rec["step"]] = math.nan if v is None else float(v)
    if not found:
        raise FileNotFoundError(f"{run} has no metrics.jsonl or eval.jsonl (is it a run folder?)")
    return {k: (np.array(sorted(d)), np.array([d[s] for s in sorted(d)])) for k, d in rows.items()}


def _config(run) -> dict:
    path = Path(run) / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def group_runs(runs: Sequence[str | os.PathLike]) -> list:
    """[(label, [run paths])]: runs with equal configs up to NOT_EXPERIMENT, in first-seen order; the label
    names the fields on which groups differ (or the divergence and generator loss when there is one group)."""
    keys, order = {}, []
    for r in runs:
        cfg = _config(r)
        key = json.dumps({k: v for k, v in sorted(cfg.items()) if k not in NOT_EXPERIMENT})
        if key not in keys:
            keys[key] = []
            order.append(key)
        keys[key].append(Path(r))
    cfgs = [json.loads(k) for k in order]
    differ = sorted({k for c in cfgs for k in c if any(c.get(k) != d.get(k) for d in cfgs)})
    out = []
    for key, cfg in zip(order, cfgs):
        if differ:
            label = ", ".join(f"{k}={cfg.get(k)}" for k in differ)
        elif cfg:
            label = f"{cfg.get('divergence')} {cfg.get('generator_loss')}"
        else:
            label = keys[key][0].name
        out.append((label, keys[key]))
    return out


def plot_runs(runs: Sequence[str | os.PathLike], metrics: Sequence[str] | None = None,
              out: str | os.PathLike | None = None) -> list:
    """Curves of `runs` (module docstring); metrics None: every metric logged. Returns the written paths."""
    from .plots import curves_figure, save_figure

    if not runs:
        raise ValueError("give at least one run folder")
    curves = {Path(r): read_curves(r) for r in runs}
    available = sorted({m for c in curves.values() for m in c})
    if metrics is None:
        first = ["loss_d", "loss_g", "modes", "hq_fraction", "reverse_kl", "fid", "kid"]
        metrics = [m for m in first if m in available] + [m for m in available if m not in first]
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(f"--metrics: {', '.join(missing)} logged by none of the runs; available: "
                         f"{', '.join(available) or 'none'}")
    groups = [(label, [curves[r] for r in rs]) for label, rs in group_runs(list(curves))]
    fig = curves_figure(groups, metrics)
    return save_figure(fig, Path(out) if out else Path(runs[0]) / "curves")


def add_plot_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="training curves of run folders (PDF + PNG; mean ± s.e. over seeds)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (seeds of one config are averaged)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated: loss_d, loss_g, modes, hq_fraction, reverse_kl, fid, kid, began_k, ... "
                        "(default: every metric logged)")
    p.add_argument("--out", default=None, help="output path without suffix (default RUN0/curves): writes .pdf, .png")


def run_plot(args: argparse.Namespace) -> int:
    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    for p in plot_runs(args.runs, metrics, args.out):
        print(p)
    return 0


# ---------------------------------------------------------------- sample files

def check_sample_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() not in SAMPLE_SUFFIXES:
        raise ValueError(f"--out must end in {', '.join(SAMPLE_SUFFIXES)} (the suffix picks the format); got "
                         f"{str(path)!r}")
    return path


def write_samples(trainer: Trainer, n: int, seed: int, path: str | os.PathLike) -> Path:
    """n generator samples of `trainer` (seeded by `seed`) written to `path` in the format of its suffix."""
    import torch

    from .plots import save_image_grid, save_scatter

    path = check_sample_path(path)
    x = trainer.generate(n=n, seed=seed).numpy()
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        with open(path, "wb") as fh:  # a file object: numpy appends no second suffix
            np.save(fh, x) if suffix == ".npy" else np.savez(fh, samples=x)
    elif x.ndim == 2:
        real = trainer.data.sample(1000, generator=torch.Generator().manual_seed(seed + 3)).numpy()
        save_scatter(path, x, real, title=f"{trainer.config.divergence}: {n} samples, step {trainer.step}")
    else:
        save_image_grid(path, x, nrow=min(n, max(1, math.ceil(math.sqrt(n)))))
    return path
