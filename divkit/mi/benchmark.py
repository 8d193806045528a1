"""Poole et al. 2019 staircase benchmark: every estimator, separable and concat critics.

    python -m divkit.mi.benchmark [--quick] [--out DIR] [--estimators smile,infonce] [--critics separable]

Protocol (Poole et al. 2019 §4, Fig. 2; Song & Ermon 2020 Fig. 1): x ~ N(0, I_20), y = ρx + sqrt(1−ρ²)ε with
true MI 2, 4, 6, 8, 10 nats, 4000 steps per stage (the critic is not reset between stages), a fresh minibatch
of K = 64 pairs per step, Adam lr 5e-4, critics with 2 hidden layers of 256 ReLU units (separable: 32-d
embeddings). The recorded estimate at each step is the estimator's reported value on the training minibatch
(as in the papers' figures).

Song & Ermon's SMILE setting (`--layers 3`): their code, github.com/ermongroup/smile-mi-estimator, `demo.ipynb`
passes layers = 2, hidden 256, embed 32, K = 64, Adam 5e-4, 20,000 steps, but its `utils.py` `mlp` adds an
input layer before the `layers` hidden ones: 3 hidden ReLU layers. They plot the per-step training estimate
(and its EMA, span 200). Details in docs/mi.md. Statistics over the last 1000 steps of each stage: mean, variance,
bias = mean − truth, MSE = mean((estimate − truth)²).

--quick scales stage lengths down to 200 steps and the statistics window to the last 100 steps (20× and
10× shorter) and runs the separable critic only unless --critics says otherwise: a smoke run of the whole grid in minutes on a CPU, NOT a reproduction; the table says so.

Upper bounds (on by default, `--no-upper` skips them): a `GaussianConditional` q(y|x) (2 hidden layers of 256)
trained by maximum likelihood along the same staircase (fresh K = 64 minibatches, Adam 5e-4; Cheng et al.'s CLUB
network), recording CLUB and the leave-one-out bound of each training minibatch; the figure draws them on every
panel as a band (moving averages, LOO below CLUB) and the table adds their rows.

Outputs in --out: table.md, results.json, estimates.npz (per-step estimates), mi_staircase.png / .pdf.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import bounds as B
from .._version import __version__
from .critics import make_critic
from .estimate import fit
from .estimators import ESTIMATORS, make_estimator
from .gaussians import STAIRCASE_MIS, correlated_gaussians, staircase

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .estimators import Estimator

__all__ = ["run_benchmark", "run_upper", "stage_statistics", "plot_staircase", "main"]

FULL = dict(steps_per_stage=4000, window=1000)
QUICK = dict(steps_per_stage=200, window=100)


def stage_statistics(estimates: ArrayLike, truths: Sequence[float] = STAIRCASE_MIS, steps_per_stage: int = 4000,
                     window: int = 1000) -> list[dict[str, float]]:
    """Per stage: mean, var, bias, mse of the last `window` estimates. estimates: (n_stages·steps_per_stage,)."""
    est = np.asarray(estimates, dtype=np.float64)
    rows = []
    for s, truth in enumerate(truths):
        w = est[(s + 1) * steps_per_stage - window:(s + 1) * steps_per_stage]
        rows.append(dict(mi=float(truth), mean=float(w.mean()), var=float(w.var()), bias=float(w.mean() - truth),
                         mse=float(np.mean((w - truth) ** 2))))
    return rows


def run_one(estimator: str | Estimator, critic: str | torch.nn.Module, *, dim: int = 20, batch_size: int = 64,
            steps_per_stage: int = 4000, lr: float = 5e-4, seed: int = 0, device: str | torch.device = "cpu",
            mis: Sequence[float] = STAIRCASE_MIS, progress: bool | None = None, hidden: int = 256,
            embed_dim: int = 32, layers: int = 2) -> tuple[np.ndarray, float]:
    """Train one (estimator, critic) pair along the staircase; returns per-step estimates (numpy) and seconds."""
    torch.manual_seed(seed)
    kw = dict(hidden=hidden, layers=layers)
    if critic == "separable":
        kw["embed_dim"] = embed_dim
    crit = make_critic(critic, dim, dim, **kw).to(device)
    est = make_estimator(estimator, y_dim=dim).to(device)
    gen = torch.Generator().manual_seed(seed + 1)

    def sampler(step):
        mi = staircase(step, mis, steps_per_stage)
        x, y = correlated_gaussians(dim, mi, batch_size, seed=gen)
        return x.to(device), y.to(device)

    t0 = time.perf_counter()
    hist = fit(crit, est, sampler, steps_per_stage * len(mis), lr=lr, progress=progress, desc=f"{estimator}/{critic}")
    return hist, time.perf_counter() - t0


def run_upper(*, dim: int = 20, batch_size: int = 64, steps_per_stage: int = 4000, lr: float = 5e-4, seed: int = 0,
              device: str | torch.device = "cpu", mis: Sequence[float] = STAIRCASE_MIS, hidden: int = 256,
              layers: int = 2) -> tuple[dict[str, np.ndarray], float]:
    """Train a GaussianConditional q(y|x) by maximum likelihood along the staircase; per-step CLUB and LOO upper
    bounds of each training minibatch (evaluated before that step's update, as the lower bounds' `fit` records
    them): ({"club": (steps,), "loo": (steps,)}, seconds)."""
    from .upper import GaussianConditional

    torch.manual_seed(seed)
    q = GaussianConditional(dim, dim, hidden, layers).to(device)
    opt = torch.optim.Adam(q.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    n = steps_per_stage * len(mis)
    club, loo = np.empty(n), np.empty(n)
    t0 = time.perf_counter()
    for step in range(n):
        x, y = correlated_gaussians(dim, float(staircase(step, mis, steps_per_stage)), batch_size, seed=gen)
        x, y = x.to(device), y.to(device)
        log_q = q(x, y)                                   # (K, K): log q(y_j | x_i)
        with torch.no_grad():
            club[step], loo[step] = float(B.club(log_q)), float(B.loo_upper(log_q))
        ll = torch.diagonal(log_q).mean()
        opt.zero_grad(set_to_none=True)
        (-ll).backward()
        opt.step()
    return {"club": club, "loo": loo}, time.perf_counter() - t0


def run_benchmark(estimators: Iterable[str] = ESTIMATORS, critics: Iterable[str] = ("separable", "concat"),
                  steps_per_stage: int = 4000, window: int = 1000, seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool | None = None, log: Callable[[str], object] | None = print, layers: int = 2
                  ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(estimator, critic): dict(estimates, stats, seconds)} for the staircase."""
    out = {}
    for critic in critics:
        for name in estimators:
            hist, secs = run_one(name, critic, steps_per_stage=steps_per_stage, seed=seed, device=device,
                                 progress=progress, layers=layers)
            stats = stage_statistics(hist, STAIRCASE_MIS, steps_per_stage, window)
            out[(name, critic)] = dict(estimates=hist, stats=stats, seconds=secs)
            if log:
                log(f"{name:>13s} {critic:>9s}  {secs:7.1f}s  " +
                    "  ".join(f"I={r['mi']:.0f}: {r['mean']:6.2f}" for r in stats))
    return out


def format_table(results: dict[tuple[str, str], dict[str, Any]], steps_per_stage: int, window: int, quick: bool = False) -> str:
    lines = []
    if quick:
        lines.append(f"QUICK MODE: {steps_per_stage} steps per stage (not 4000), statistics over the last {window} "
                     "steps (not 1000); a smoke run, not a reproduction of Poole et al. 2019.\n")
    lines.append(f"Statistics over the last {window} steps of each {steps_per_stage}-step stage (d = 20, K = 64; "
                 f"log K = {math.log(64):.3f}).\n")
    lines.append("| estimator | critic | true MI | mean | variance | bias | MSE |")
    lines.append("|---|---|---|---|---|---|---|")
    for (name, critic), r in results.items():
        for s in r["stats"]:
            lines.append(f"| {name} | {critic} | {s['mi']:.0f} | {s['mean']:.3f} | {s['var']:.3f} | {s['bias']:+.3f} | "
                         f"{s['mse']:.3f} |")
    return "\n".join(lines) + "\n"


def plot_staircase(results: dict[tuple[str, str], dict[str, Any]], steps_per_stage: int, path_stem: str,
                   upper: dict[str, np.ndarray] | None = None) -> str:
    """Figure: one panel per estimator, per-step estimates (light) and a moving average, true MI as a staircase;
    `upper` ({"club", "loo"} per-step values of `run_upper`): the band between their moving averages on every
    panel."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(n for n, _ in results))
    ncol = min(3, len(names))
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False, sharey=True)
    colors = {"separable": "tab:blue", "concat": "tab:orange"}
    n_steps = steps_per_stage * len(STAIRCASE_MIS)
    steps = np.arange(n_steps)
    k = max(1, steps_per_stage // 20)
    for ax, name in zip(axes.flat, names):
        if upper is not None:
            lo, hi = (np.convolve(upper[b], np.ones(k) / k, mode="valid") for b in ("loo", "club"))
            ax.fill_between(steps[k - 1:], np.minimum(lo, hi), np.maximum(lo, hi), color="tab:green", alpha=0.2,
                            lw=0, label="upper bounds (LOO…CLUB)")
        for (n, critic), r in results.items():
            if n != name:
                continue
            e = r["estimates"]
            c = colors.get(critic, None)
            ax.plot(steps, e, color=c, alpha=0.25, lw=0.5)
            ma = np.convolve(e, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], ma, color=c, lw=1.2, label=critic)
        ax.plot(steps, staircase(steps, STAIRCASE_MIS, steps_per_stage), color="k", lw=1.0, label="true MI")
        ax.axhline(math.log(64), color="gray", ls="--", lw=0.8, label="log K")
        ax.set_title(name)
        ax.set_ylim(-1, 14)
        ax.set_xlabel("step")
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("MI estimate (nats)")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{path_stem}.{ext}", dpi=130)
    plt.close(fig)
    return f"{path_stem}.png"


def main(argv: Sequence[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    ap = argparse.ArgumentParser(prog="python -m divkit.mi.benchmark", description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    ap.add_argument("--quick", action="store_true", help="200-step stages, 100-step windows (smoke run)")
    ap.add_argument("--out", default="runs/mi_benchmark", help="output folder (default runs/mi_benchmark)")
    ap.add_argument("--estimators", default=",".join(ESTIMATORS), help=f"comma list from {','.join(ESTIMATORS)}")
    ap.add_argument("--critics", default=None,
                    help="comma list from separable,concat (default both; with --quick only separable: the concat "
                         "critic scores all K² pairs, ~40 ms a step on one core, 10× the separable one)")
    ap.add_argument("--steps-per-stage", type=int, default=None, help="override the stage length")
    ap.add_argument("--window", type=int, default=None, help="override the statistics window")
    ap.add_argument("--layers", type=int, default=2,
                    help="hidden layers per critic MLP: 2 as in Poole et al.'s code, 3 as in Song & Ermon's "
                         "(ermongroup/smile-mi-estimator utils.py: mlp(layers=2) adds one input layer)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads; default 1 on the CPU: these critics are small (d = 20, 256 units, K = 64) "
                         "and one thread was the fastest measured (bench/bench_mi.py --thread-sweep)")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--no-upper", action="store_true", help="skip the CLUB / LOO upper bounds (their band)")
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.steps_per_stage:
        cfg["steps_per_stage"] = args.steps_per_stage
    if args.window:
        cfg["window"] = args.window
    if cfg["window"] > cfg["steps_per_stage"]:
        ap.error("--window must not exceed the stage length")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.threads or args.device == "cpu":
        torch.set_num_threads(args.threads or 1)
    ests = [e.strip() for e in args.estimators.split(",") if e.strip()]
    crits = [c.strip() for c in (args.critics or ("separable" if args.quick else "separable,concat")).split(",")
             if c.strip()]
    for e in ests:
        if e not in ESTIMATORS:
            ap.error(f"unknown estimator {e!r}; known: {','.join(ESTIMATORS)}")
    os.makedirs(args.out, exist_ok=True)
    results = run_benchmark(ests, crits, cfg["steps_per_stage"], cfg["window"], seed=args.seed, device=args.device,
                            progress=False if args.no_progress else None, layers=args.layers)
    upper = None
    if not args.no_upper:
        upper, secs = run_upper(steps_per_stage=cfg["steps_per_stage"], seed=args.seed, device=args.device)
        for b, e in upper.items():
            results[(f"{b} (upper)", "gaussian q")] = dict(
                estimates=e, stats=stage_statistics(e, STAIRCASE_MIS, cfg["steps_per_stage"], cfg["window"]),
                seconds=secs)
        print(f"upper bounds (gaussian q)  {secs:7.1f}s")
    scaled = cfg != FULL
    table = format_table(results, cfg["steps_per_stage"], cfg["window"], quick=scaled)
    with open(os.path.join(args.out, "table.md"), "w") as fh:
        fh.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(dict(config=dict(cfg, device=args.device, seed=args.seed, quick=args.quick, layers=args.layers),
                       results=[dict(estimator=n, critic=c, seconds=r["seconds"], stats=r["stats"])
                                for (n, c), r in results.items()]), fh, indent=1)
    np.savez(os.path.join(args.out, "estimates.npz"), **{f"{n}__{c}": r["estimates"] for (n, c), r in results.items()})
    lower = {key: r for key, r in results.items() if key[1] != "gaussian q"}
    fig = plot_staircase(lower, cfg["steps_per_stage"], os.path.join(args.out, "mi_staircase"), upper=upper)
    print(table)
    print(f"figure: {fig}")
    return results


if __name__ == "__main__":
    main()
