"""Sweeps with a published protocol: PacGAN Table 1, and a fair comparison of divergences (Lucic et al. 2018).

- `pacgan_table1`: GAN, PacGAN2, PacGAN3, PacGAN4 on ring8 and grid25 under `presets.pacgan_config`, `trials`
  seeds each, trained through the batched engine (one batch per pack size and data set); writes the table
  side by side with the published numbers (`PUBLISHED`), modes / HQ / reverse KL against iterations (from the
  runs' periodic evaluations) and a sample grid.
- `fair_study`: for every divergence × generator loss, `budget` random draws of (lr_g, lr_d log-uniform in
  [1e-5, 1e-2], β1 ∈ {0, 0.5, 0.9} for both players, n_critic ∈ {1, 2, 5}, width ∈ WIDTHS), each over `seeds`
  seeds, batched by (width, n_critic); a draw's score is its mean over seeds. Table: best / median / IQR of
  each metric over the draws; figures: the score distribution per divergence and the expected best score of
  k draws against k with a bootstrap band (Lucic et al. 2018, §4 and Fig. 4).

The draws of one divergence × generator loss come from a generator seeded by its name (crc32), so adding a
divergence leaves the others' draws unchanged and a rerun reuses every finished run.
"""
from __future__ import annotations

import dataclasses
import json
import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compare import run_variants
from ..config import TrainConfig
from .presets import PACGAN_STEPS, pacgan_config

if TYPE_CHECKING:
    import os

    import numpy.typing as npt

__all__ = ["PUBLISHED", "pacgan_table1", "fair_study", "fair_draws", "expected_best", "SWEEP_STUDIES"]

#: PacGAN Table 1 (Lin et al. 2018): (modes, HQ %, reverse KL), mean over 10 trials
PUBLISHED = {
    ("ring8", "gan"): (6.3, 98.2, 0.45), ("grid25", "gan"): (17.3, 94.8, 0.70),
    ("ring8", "pacgan2"): (7.9, 95.6, 0.07), ("grid25", "pacgan2"): (23.8, 91.3, 0.13),
    ("ring8", "pacgan3"): (7.8, 97.7, 0.10), ("grid25", "pacgan3"): (24.6, 94.2, 0.06),
    ("ring8", "pacgan4"): (7.8, 95.9, 0.07), ("grid25", "pacgan4"): (24.8, 93.6, 0.04),
}
PACKS = {"gan": 1, "pacgan2": 2, "pacgan3": 3, "pacgan4": 4}


def _mean_sd(v):
    v = np.asarray([x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def _f(m, s, d):
    return "—" if math.isnan(m) else f"{m:.{d}f}" + ("" if math.isnan(s) else f" ± {s:.{d}f}")


def pacgan_table1(out: str | os.PathLike = "runs/pacgan", steps: int = PACGAN_STEPS, trials: int = 10,
                  datasets: Sequence[str] = ("ring8", "grid25"),
                  eval_every: int = 0, overrides: dict | None = None, **sweep: Any) -> str:
    """Train the PacGAN Table 1 grid and write out/table.md, out/curves.png, out/<data>/samples.png; returns
    the table. `overrides`: TrainConfig fields applied to every run (e.g. hidden for a smaller test)."""
    out = Path(out)
    overrides = dict(overrides or {})
    per_data = {}
    for data in datasets:
        base = pacgan_config(pack=1, data=data, steps=steps, **overrides)
        variants = [(name, {"pack": m, "batch_size": 100 * m if "batch_size" not in overrides else
                            overrides["batch_size"] * m}) for name, m in PACKS.items()]
        per_data[data] = run_variants(base, variants, trials, out / data, eval_every=eval_every, **sweep)
    text = pacgan_markdown(per_data, steps, trials, overrides)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text, encoding="utf-8")
    if any(per_data.values()):
        curves_figure(per_data, out / "curves.png")
    return text


def pacgan_markdown(per_data: dict, steps: int, trials: int, overrides: dict) -> str:
    lines = [f"PacGAN Table 1 protocol (gan.sweep.presets.PACGAN), {steps:,} iterations of batch 100 packs "
             f"(published: 400,000), {trials} trials per cell (published: 10); ours mean ± sd over the trials that "
             f"finished" + (f"; overrides {overrides}" if overrides else "") + ".\n",
             "| data | variant | trials | modes (ours) | modes (PacGAN) | HQ % (ours) | HQ % (PacGAN) | "
             "reverse KL (ours) | reverse KL (PacGAN) | failed |", "|---|---|---|---|---|---|---|---|---|---|"]
    for data, recs in per_data.items():
        for name in PACKS:
            rs = [r for r in recs if r["variant"] == name]
            if not rs:
                continue
            pub = PUBLISHED.get((data, name), (math.nan,) * 3)
            m, hq, kl = (_mean_sd([r.get("modes") for r in rs]),
                         _mean_sd([100 * r["hq_fraction"] for r in rs if r.get("hq_fraction") is not None]),
                         _mean_sd([r.get("reverse_kl") for r in rs]))
            lines.append(f"| {data} | {name} | {len(rs)} | {_f(*m, 1)} | {pub[0]:.1f} | {_f(*hq, 1)} | {pub[1]:.1f} | "
                         f"{_f(*kl, 2)} | {pub[2]:.2f} | {sum(1 for r in rs if r.get('failed'))} |")
    return "\n".join(lines) + "\n"


def _history(run) -> list[dict]:
    """The run's periodic evaluations (eval.jsonl) and its final metrics (summary.json, as a record of its
    last step marked "final")."""
    run = Path(run)
    rows = []
    if (run / "eval.jsonl").exists():
        rows += [json.loads(x) for x in (run / "eval.jsonl").read_text().splitlines() if x.strip()]
    if (run / "summary.json").exists():
        summary = json.loads((run / "summary.json").read_text())
        rows.append({**summary, "step": summary.get("steps"), "final": True})
    return rows


def curves_figure(per_data: dict, path: str | os.PathLike) -> None:
    """Modes, HQ % and reverse KL against iterations: one line per variant (mean over trials), one row per
    data set; from the runs' periodic evaluations (`--eval-every`) and their final metrics."""
    from matplotlib.figure import Figure

    metrics = (("modes", "modes captured", 1), ("hq_fraction", "high quality %", 100), ("reverse_kl", "reverse KL", 1))
    fig = Figure(figsize=(12, 3.2 * len(per_data)))
    for i, (data, recs) in enumerate(per_data.items()):
        for j, (key, label, scale) in enumerate(metrics):
            ax = fig.add_subplot(len(per_data), 3, 3 * i + j + 1)
            for ci, name in enumerate(PACKS):
                color = f"C{ci}"
                runs = [r["run"] for r in recs if r["variant"] == name]
                table: dict = {}
                for run in runs:
                    for h in _history(run):
                        v = h.get(key)
                        if v is not None and not (isinstance(v, float) and math.isnan(v)):
                            table.setdefault(h["step"], []).append(scale * v)
                if table:
                    steps = sorted(table)
                    ax.plot(steps, [np.mean(table[s]) for s in steps], marker=".", label=name, color=color)
                pub = PUBLISHED.get((data, name))
                if pub is not None:
                    ax.axhline(pub[j], ls=":", lw=0.8, color=color)
            ax.set_title(f"{data}: {label}", fontsize=9)
            ax.set_xlabel("iteration")
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.suptitle("PacGAN protocol: mean over trials (dotted: published after 400,000 iterations)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


# ---------------------------------------------------------------------------------------------- fair study
WIDTHS = (64, 128, 256)
BETA1 = (0.0, 0.5, 0.9)
N_CRITIC = (1, 2, 5)
LR_RANGE = (1e-5, 1e-2)


def fair_draws(name: str, budget: int) -> list[dict]:
    """`budget` hyperparameter draws for the divergence × loss called `name` (a generator seeded by its crc32):
    lr_g, lr_d log-uniform in LR_RANGE, β1 (both players) from BETA1, n_critic from N_CRITIC, hidden from WIDTHS."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int, got {budget!r}")
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    lo, hi = np.log(LR_RANGE[0]), np.log(LR_RANGE[1])
    out = []
    for _ in range(budget):
        lr_g, lr_d = (float(np.exp(rng.uniform(lo, hi))) for _ in range(2))
        b1 = float(rng.choice(BETA1))
        out.append({"lr_g": lr_g, "lr_d": lr_d, "betas_g": (b1, 0.999), "betas_d": (b1, 0.999),
                    "n_critic": int(rng.choice(N_CRITIC)), "hidden": int(rng.choice(WIDTHS))})
    return out


def expected_best(scores: npt.ArrayLike, k_max: int | None = None, higher_is_better: bool = True, boot: int = 1000,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """E[best of k draws] for k = 1 … k_max, k draws without replacement from the B `scores` (exact: the
    order-statistic formula E = Σ_i s_(i) [C(i−1, k−1)/C(B, k)] over the ascending-sorted scores), with a
    bootstrap band (5th, 95th percentile over `boot` resamples of the scores with replacement).
    Returns (k (K,), mean (K,), lo (K,), hi (K,))."""
    s = np.asarray(scores, float)
    if not higher_is_better:
        s = -s
    B = len(s)
    k_max = B if k_max is None else min(k_max, B)

    def curve(v):
        v = np.sort(v)
        i = np.arange(1, B + 1)
        res = []
        for k in range(1, k_max + 1):
            w = np.exp(_log_comb(i - 1, k - 1) - _log_comb(B, k))
            res.append(float((w * v).sum()))
        return np.array(res)

    mean = curve(s)
    rng = np.random.default_rng(seed)
    bs = np.stack([curve(rng.choice(s, B, replace=True)) for _ in range(boot)])
    lo, hi = np.percentile(bs, 5, axis=0), np.percentile(bs, 95, axis=0)
    if not higher_is_better:
        mean, lo, hi = -mean, -hi, -lo
    return np.arange(1, k_max + 1), mean, lo, hi


def _log_comb(n, k):
    from scipy.special import gammaln

    n, k = np.asarray(n, float), np.asarray(k, float)
    with np.errstate(invalid="ignore"):
        out = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return np.where((k >= 0) & (k <= n), out, -np.inf)


def fair_study(base: TrainConfig, budget: int, seeds: int = 3, divergences: str | Sequence[str] = "all",
               generator_losses: Sequence[str] | None = None, out: str | os.PathLike = "runs/fair",
               **sweep: Any) -> str:
    """Random search per divergence × generator loss (see the module docstring) on base.data; writes
    out/table.md, out/draws.json, out/scores.png and out/expected_best.png; returns the table."""
    from ..compare import divergence_variants
    from ..losses import GENERATOR_LOSSES

    out = Path(out)
    variants = []
    for name, ov in divergence_variants(divergences, generator_losses or GENERATOR_LOSSES):
        for k, draw in enumerate(fair_draws(name, budget)):
            variants.append((f"{name}-d{k}", {**ov, **draw}))
    records = run_variants(base, variants, seeds, out, **sweep)
    draws = {}
    for r in records:
        key = r["variant"].rsplit("-d", 1)
        draws.setdefault(key[0], {}).setdefault(int(key[1]), []).append(r)
    scored = {name: [_draw_score(rs) for _, rs in sorted(d.items())] for name, d in draws.items()}
    (out / "draws.json").write_text(json.dumps(scored, indent=1), encoding="utf-8")
    text = fair_markdown(base, budget, seeds, scored)
    (out / "table.md").write_text(text, encoding="utf-8")
    if scored:
        fair_figures(scored, base, out)
    return text


def _draw_score(rs) -> dict:
    """One draw's score: mean over its seeds (a failed run counts 0 modes, 0 HQ; reverse KL over the runs with
    HQ samples, log K — the worst — when none has any)."""
    first = rs[0]
    hp = {k: first["tricks"].get(k) for k in ("lr_g", "lr_d", "betas_g", "n_critic", "hidden")}
    kls = [r["reverse_kl"] for r in rs if r.get("reverse_kl") is not None and not math.isnan(r["reverse_kl"])]
    return {"modes": float(np.mean([r.get("modes", 0) for r in rs])),
            "hq": float(np.mean([100 * r.get("hq_fraction", 0.0) for r in rs])),
            "reverse_kl": float(np.mean(kls)) if kls else math.nan,
            "failed": sum(1 for r in rs if r.get("failed")), "seeds": len(rs), **hp}


def fair_markdown(base: TrainConfig, budget: int, seeds: int, scored: dict) -> str:
    lines = [f"Fair comparison (Lucic et al. 2018 protocol) on {base.data}: {budget} random draws per divergence × "
             f"generator loss (lr_g, lr_d log-uniform in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], β1 ∈ {list(BETA1)}, "
             f"n_critic ∈ {list(N_CRITIC)}, width ∈ {list(WIDTHS)}, {base.layers} layers), {seeds} seeds each, "
             f"{base.steps} steps, batch {base.batch_size}; a draw's score is its mean over seeds. Best / median / "
             f"IQR over the draws.\n",
             "| divergence-loss | draws | modes best | modes median | modes IQR | HQ % best | HQ % median | "
             "rev. KL best | rev. KL median | failed runs |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, ds in scored.items():
        m = np.array([d["modes"] for d in ds])
        hq = np.array([d["hq"] for d in ds])
        kl = np.array([d["reverse_kl"] for d in ds if not math.isnan(d["reverse_kl"])])
        q1, q3 = np.percentile(m, [25, 75])
        kl_best = f"{kl.min():.2f}" if len(kl) else "—"
        kl_med = f"{np.median(kl):.2f}" if len(kl) else "—"
        lines.append(f"| {name} | {len(ds)} | {m.max():.1f} | {np.median(m):.1f} | {q1:.1f}–{q3:.1f} | "
                     f"{hq.max():.1f} | {np.median(hq):.1f} | {kl_best} | {kl_med} | "
                     f"{sum(d['failed'] for d in ds)} |")
    return "\n".join(lines) + "\n"


def fair_figures(scored: dict, base: TrainConfig, out: Path) -> None:
    from matplotlib.figure import Figure

    names = list(scored)
    fig = Figure(figsize=(max(6, 0.5 * len(names)), 4.6))
    ax = fig.add_subplot()
    data = [[d["modes"] for d in scored[n]] for n in names]
    ax.boxplot(data, showfliers=False)
    for i, v in enumerate(data, 1):
        ax.scatter(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, s=6, c="C3", alpha=0.6, zorder=3)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=75, fontsize=7)
    ax.set_ylabel("modes (mean over seeds) per draw")
    ax.set_title(f"{base.data}: score of each hyperparameter draw", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=90, bbox_inches="tight")  # the rotated names need the room

    fig = Figure(figsize=(12, 4.5))
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    for j, (key, label, hib) in enumerate((("modes", "modes", True), ("reverse_kl", "reverse KL", False))):
        ax = fig.add_subplot(1, 2, j + 1)
        for i, n in enumerate(names):
            v = np.array([d[key] for d in scored[n]], float)
            if key == "reverse_kl":  # no HQ sample on any seed: the worst value, log K
                k_modes = 8 if base.data == "ring8" else 25
                v = np.where(np.isnan(v), math.log(k_modes), v)
            k, mean, lo, hi = expected_best(v, higher_is_better=hib)
            original = n == "gan-nonsaturating"  # the original GAN (Goodfellow et al.'s −log D generator loss)
            color = "k" if original else cmap(i % 20)
            ax.plot(k, mean, "-" if original or i % 2 == 0 else "--", color=color, label=n, lw=2.2 if original else 1)
            if original:  # one band, the reference's; the others' bands are in draws.json's spread
                ax.fill_between(k, lo, hi, color="k", alpha=0.12, label="gan-nonsaturating 90 % band")
        ax.set_xlabel("budget (hyperparameter draws)")
        ax.set_ylabel(f"expected best {label}")
        ax.set_xticks(k)
        if j == 1:
            ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(f"{base.data}: expected best score of k draws (black: the original GAN, band: 90 % bootstrap over its draws)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "expected_best.png", dpi=90, bbox_inches="tight")


# ---------------------------------------------------------------------------------------------- CLI glue
def _explicit(args) -> dict:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if getattr(args, f.name, None) is not None}


def _cli_pacgan(cfg, args, **sweep) -> str:
    given = _explicit(args)
    datasets = [given.pop("data")] if "data" in given else ["ring8", "grid25"]
    steps = given.pop("steps", PACGAN_STEPS)
    for k in ("pack", "preset", "out"):
        given.pop(k, None)
    return pacgan_table1(cfg.out, steps, args.seeds, datasets, overrides=given, **sweep)


def _cli_fair(cfg, args, **sweep) -> str:
    if args.budget is None:
        raise ValueError("--study fair needs --budget B (random draws per divergence × generator loss)")
    gls = [g.strip() for g in args.generator_losses.split(",")]
    return fair_study(cfg, args.budget, args.seeds, args.divergences, gls, cfg.out, **sweep)


#: studies `python -m gan compare --study NAME` runs with their own protocol
SWEEP_STUDIES = {"pacgan": _cli_pacgan, "fair": _cli_fair}
