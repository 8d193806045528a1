"""Fair comparison: every divergence × generator loss × seed under one config (same models, steps, lrs, batch).

Writes results.json (one record per run), table.md (mean ± s.e. over seeds of modes, HQ %, reverse KL) and
samples.png (a grid of final samples, one row per divergence × generator loss, one column per seed).
s.e. = sample standard deviation / √seeds (ddof = 1; "—" with one seed).
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

import divkit

from .config import TrainConfig
from .losses import BASELINES, GENERATOR_LOSSES
from .trainer import Trainer


def resolve_divergences(spec) -> list[str]:
    """"all" → every divkit divergence; else a comma-separated list or list of names (validated)."""
    if isinstance(spec, str):
        spec = divkit.names() if spec.strip() == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    from .losses import get

    for name in spec:
        get(name)  # raises ValueError listing known names
    return list(spec)


def _mean_se(vals):
    v = np.asarray([x for x in vals if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


def _fmt(m, s, digits):
    if math.isnan(m):
        return "—"
    return f"{m:.{digits}f}" + ("" if math.isnan(s) else f" ± {s:.{digits}f}")


def compare(base: TrainConfig, divergences="all", seeds: int = 3, generator_losses=GENERATOR_LOSSES,
            out="runs/cmp") -> list[dict]:
    """Train every combination; returns the per-run records and writes the table and figure to `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for div in resolve_divergences(divergences):
        gls = ("-",) if div in BASELINES else tuple(generator_losses)
        for gl in gls:
            for seed in range(seeds):
                cfg = dataclasses.replace(base, divergence=div, generator_loss=gl if gl != "-" else "nonsaturating",
                                          seed=seed, out=str(out / f"{div}-{gl}-s{seed}"))
                try:
                    summary = Trainer(cfg).fit()
                    summary["failed"] = None
                except FloatingPointError as exc:
                    summary = {"modes": 0, "hq_fraction": 0.0, "reverse_kl": math.nan, "failed": str(exc)}
                records.append({"divergence": div, "generator_loss": gl, "seed": seed, "run": cfg.out, **summary})
                with open(out / "results.json", "w", encoding="utf-8") as fh:
                    json.dump(records, fh, indent=1)
    write_table(records, out / "table.md", base)
    write_figure(records, out / "samples.png", base)
    return records


def table_markdown(records, base: TrainConfig | None = None) -> str:
    rows = {}
    for r in records:
        rows.setdefault((r["divergence"], r["generator_loss"]), []).append(r)
    lines = []
    if base is not None:
        lines.append(f"data {base.data}, {base.steps} steps, batch {base.batch_size}, lr_g {base.lr_g}, "
                     f"lr_d {base.lr_d}, n_critic {base.n_critic}; mean ± s.e. over seeds\n")
    lines += ["| divergence | generator loss | seeds | modes | HQ % | reverse KL | failed |", "|---|---|---|---|---|---|---|"]
    for (div, gl), rs in rows.items():
        m = _mean_se([r.get("modes") for r in rs])
        hq = _mean_se([100 * r["hq_fraction"] for r in rs if r.get("hq_fraction") is not None])
        kl = _mean_se([r.get("reverse_kl") for r in rs])
        failed = sum(1 for r in rs if r.get("failed"))
        lines.append(f"| {div} | {gl} | {len(rs)} | {_fmt(*m, 1)} | {_fmt(*hq, 1)} | {_fmt(*kl, 2)} | {failed} |")
    return "\n".join(lines) + "\n"


def write_table(records, path, base=None) -> None:
    Path(path).write_text(table_markdown(records, base), encoding="utf-8")


def write_figure(records, path, base: TrainConfig) -> None:
    from matplotlib.figure import Figure

    from . import data as data_mod
    from .plots import save_scatter

    keys = list(dict.fromkeys((r["divergence"], r["generator_loss"]) for r in records))
    seeds = max(r["seed"] for r in records) + 1
    fig = Figure(figsize=(2 * seeds, 2 * len(keys)))
    ds = data_mod.get(base.data, base.data_path, base.image_size)
    real = ds.sample(500).numpy() if len(ds.shape) == 1 else None
    for r in records:
        ax = fig.add_subplot(len(keys), seeds, keys.index((r["divergence"], r["generator_loss"])) * seeds + r["seed"] + 1)
        p = Path(r["run"]) / "samples.npy"
        if real is not None and p.exists():
            save_scatter(None, np.load(p), real, title=f"{r['divergence']} {r['generator_loss']} s{r['seed']}", ax=ax)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
