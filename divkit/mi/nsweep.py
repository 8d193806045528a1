"""The N-sweep: `dk.mi.estimate` with its defaults on the staircase MIs at several sample sizes.

    python -m divkit.mi.nsweep --out docs/results [--ns 1000,5000,20000,160000] [--mis 2,4,6,8,10]
                               [--methods smile,ksg,upper] [--ksg-max-n 5000] [--threads 1]

Data: d = 20 correlated Gaussians (`correlated_gaussians`, true MI known), N pairs, seed = the row's index.
Each method is one column: "smile" is `estimate(x, y)` with every default (the held-out value ± stderr and the
warnings it raised); "ksg" is `ksg(x, y, k=3)` (no stderr; skipped above --ksg-max-n, where it costs minutes
per value at d = 20); "upper" is CLUB and the leave-one-out bound of `divkit.mi.upper.estimate_upper` with its defaults, from one
learned Gaussian conditional (trained for CLUB, then frozen for LOO on the same test split).
A row's verdict for a value with a stderr: "ok" when |value − truth| ≤ 3·stderr, "warned" when it is not but a
warning was raised, "SILENT" otherwise (the failure the defaults must never produce).

Results accumulate in OUT/mi-nsweep.json (a later run with other methods adds columns), then OUT/mi-nsweep.md
(the table) and OUT/mi-nsweep.png (value against truth, one panel per N, upper bounds as a band).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch

from .estimate import estimate
from .gaussians import STAIRCASE_MIS, correlated_gaussians
from .knn import ksg

__all__ = ["run_cell", "format_table", "plot", "main"]

DIM = 20


def _smile(x, y, seed):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = estimate(x, y, seed=seed, progress=False)
    names = sorted({w.category.__name__ for w in caught})
    return dict(value=r.value, stderr=r.stderr, train=r.train_value, best_step=int(r.best_step),
                warnings=names, baseline=r.baseline_value, baseline_stderr=r.baseline_stderr)


def _ksg(x, y, seed):
    return dict(value=ksg(x, y, k=3), stderr=None, warnings=[])


def _upper(x, y, seed):
    """CLUB and LOO from ONE maximum-likelihood GaussianConditional (trained for CLUB, then frozen: same seed,
    same test split for LOO)."""
    from .upper import estimate_upper
    club = estimate_upper(x, y, "club", seed=seed, progress=False)
    club.critic.requires_grad_(False)
    loo = estimate_upper(x, y, "loo", conditional=club.critic, seed=seed, progress=False)
    return dict(value=club.value, stderr=club.stderr, loo=loo.value, loo_stderr=loo.stderr, warnings=[])


METHODS = {"smile": _smile, "ksg": _ksg, "upper": _upper}


def run_cell(method: str, n: int, mi: float, seed: int) -> dict[str, Any]:
    x, y = correlated_gaussians(DIM, mi, n, seed=seed)
    t0 = time.perf_counter()
    out = METHODS[method](x, y, seed)
    out["seconds"] = time.perf_counter() - t0
    return out


def verdict(cell: dict[str, Any] | None, truth: float) -> str:
    if cell is None or cell.get("stderr") is None:
        return ""
    if abs(cell["value"] - truth) <= 3 * cell["stderr"]:
        return "ok"
    return "warned" if cell["warnings"] else "SILENT"


def _key(method, n, mi):
    return f"{method}|{n}|{mi:g}"


def format_table(res: dict[str, dict[str, Any]], ns: Sequence[int], mis: Sequence[float]) -> str:
    methods = [m for m in METHODS if any(k.startswith(m + "|") for k in res)]
    lines = [f"d = {DIM}, correlated Gaussians, true MI in nats; `estimate` with its defaults (SMILE τ = 5, separable "
             f"critic 2×256, K = 64, 2000 steps, lr 5e-4, 60/20/20 split, best-validation critic); value ± stderr "
             f"(held-out), (the same bound with the closed-form Gaussian critic, `result.baseline_value`), [warnings]; verdict: ok = within 3σ of the truth, warned = not, but a warning said so, "
             f"SILENT = wrong without a warning. Upper bounds should lie above the truth.\n"]
    head = "| N | true MI | " + " | ".join({"upper": "upper bounds (learned Gaussian q)"}.get(m, m)
                                        for m in methods) + " | smile verdict |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    short = {"OverfitWarning": "overfit", "BiasWarning": "bias", "DivergedWarning": "diverged",
             "ConvergenceWarning": "not converged", "WeakCriticWarning": "weak critic"}
    for n in ns:
        for mi in mis:
            row = [f"{n}", f"{mi:g}"]
            for m in methods:
                c = res.get(_key(m, n, mi))
                if c is None:
                    row.append("not run")
                    continue
                s = f"{c['value']:.3f}" + (f" ± {c['stderr']:.3f}" if c.get("stderr") is not None else "")
                if m == "upper":
                    s = f"CLUB {s}, LOO {c['loo']:.3f} ± {c['loo_stderr']:.3f}"
                if m == "smile" and c.get("baseline") is not None:
                    s += f" (Gaussian critic {c['baseline']:.3f})"
                if c["warnings"]:
                    s += " [" + ", ".join(short.get(w, w) for w in c["warnings"]) + "]"
                row.append(s)
            c = res.get(_key("smile", n, mi))
            row.append(verdict(c, mi) if c else "")
            lines.append("| " + " | ".join(row) + " |")
    secs = sum(c["seconds"] for c in res.values())
    lines.append(f"\nWall-clock time of the cells above: {secs / 60:.1f} minutes (1 torch thread per process; on a shared "
                 f"machine this includes time waiting for a core).")
    return "\n".join(lines) + "\n"


def plot(res: dict[str, dict[str, Any]], ns: Sequence[int], mis: Sequence[float] | np.ndarray, path: str) -> str:
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ns), figsize=(3.6 * len(ns), 3.4), sharey=True, squeeze=False)
    mis = np.asarray(mis, dtype=float)
    for ax, n in zip(axes[0], ns):
        ax.plot(mis, mis, color="k", lw=1, label="true MI")
        up = [res.get(_key("upper", n, m)) for m in mis]
        if all(up):
            full = cast("list[dict[str, Any]]", up)  # all(up): no cell is missing
            ax.fill_between(mis, [min(c["loo"], c["value"]) for c in full], [max(c["loo"], c["value"]) for c in full],
                            color="tab:green", alpha=0.25, label="upper bounds (LOO…CLUB)")
        for m, color in (("smile", "tab:blue"), ("ksg", "tab:red")):
            cs = [res.get(_key(m, n, v)) for v in mis]
            pts = [(v, c) for v, c in zip(mis, cs) if c]
            if not pts:
                continue
            xs = [v for v, _ in pts]
            ys = [c["value"] for _, c in pts]
            es = [3 * c["stderr"] if c.get("stderr") else 0.0 for _, c in pts]
            ax.errorbar(xs, ys, yerr=es, color=color, marker="o", ms=3, lw=1, capsize=2,
                        label=f"{m}" + (" ± 3σ" if m == "smile" else ""))
            if m == "smile" and all(c.get("baseline") is not None for _, c in pts):
                ax.plot(xs, [c["baseline"] for _, c in pts], color="0.45", ls="--", marker="x", ms=4, lw=1,
                        label="smile, closed-form Gaussian critic")
            for (v, c) in pts:
                if c["warnings"]:
                    ax.plot([v], [c["value"]], marker="o", ms=8, mfc="none", mec="tab:orange")
        ax.set_title(f"N = {n}")
        ax.set_xlabel("true MI (nats)")
        ax.set_ylim(-2, 14)
    axes[0, 0].set_ylabel("estimate (nats)")
    axes[0, 0].plot([], [], marker="o", ms=8, mfc="none", mec="tab:orange", ls="none", label="warned")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"dk.mi.estimate defaults, d = {DIM}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _ints(s, name):
    try:
        return [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"error: {name} must be a comma list of integers; got {s!r}")


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    ap = argparse.ArgumentParser(prog="python -m divkit.mi.nsweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/mi_nsweep")
    ap.add_argument("--ns", default="1000,5000,20000,160000")
    ap.add_argument("--mis", default=",".join(f"{m:g}" for m in STAIRCASE_MIS))
    ap.add_argument("--methods", default="smile,ksg")
    ap.add_argument("--ksg-max-n", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small critics)")
    args = ap.parse_args(argv)
    ns = _ints(args.ns, "--ns")
    try:
        mis = [float(v) for v in args.mis.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--mis must be a comma list of numbers; got {args.mis!r}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            ap.error(f"unknown method {m!r}; known: {','.join(METHODS)}")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "mi-nsweep.json")
    res = json.load(open(path)) if os.path.exists(path) else {}
    for m in methods:
        for n in ns:
            if m == "ksg" and n > args.ksg_max_n:
                continue
            for i, mi in enumerate(mis):
                c = run_cell(m, n, mi, seed=i)
                res[_key(m, n, mi)] = c
                print(f"{m:>6s} N={n:>6d} MI={mi:g}: {c['value']:.3f}"
                      + (f" ± {c['stderr']:.3f}" if c.get("stderr") is not None else "")
                      + f" {c['warnings']} {c['seconds']:.1f}s", flush=True)
                with open(path + ".tmp", "w") as fh:
                    json.dump(res, fh, indent=1)
                os.replace(path + ".tmp", path)
    all_ns = sorted({int(k.split("|")[1]) for k in res})
    all_mis = sorted({float(k.split("|")[2]) for k in res})
    with open(os.path.join(args.out, "mi-nsweep.md"), "w") as fh:
        fh.write(format_table(res, all_ns, all_mis))
    print(plot(res, all_ns, all_mis, os.path.join(args.out, "mi-nsweep.png")))
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
