"""Figures of gradient saturation and divergence asymmetry. Each returns (Figure, data dict)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

import divkit
from analysis import fits
from analysis import saturation as S

from ._draw import grid, unicode_log_ticks, wrap
from .style import DEFAULT_WIDTH, FigureData, new_figure

NAMES = {"kl": "KL(P‖Q)", "reverse_kl": "reverse KL, KL(Q‖P)", "pearson": "Pearson χ²", "neyman": "Neyman χ²",
         "squared_hellinger": "squared Hellinger", "js": "Jensen–Shannon", "gan": "GAN (2 JS − log 4)",
         "tv": "total variation", "jeffreys": "Jeffreys"}
_LINE_STYLES = ["-", "--", "-.", ":"]
_MARKERS = ["o", "s", "^", "v", "D", "x", "+", "<", ">"]


def _styled(i):
    """Colour, dash and marker for the i-th of many curves (curves that coincide stay distinguishable)."""
    # markevery as fractions of the axes diagonal: evenly spaced markers whatever the sampling, offset per curve
    return dict(c=f"C{i % 10}", ls=_LINE_STYLES[i % 4], marker=_MARKERS[i % 9], ms=3.5,
                markevery=(0.013 * (i % 7), 0.1))


def _num(v, digits=2):
    """v with `digits` decimals, a true minus sign and no "−0.00"."""
    s = f"{v:.{digits}f}"
    return s.lstrip("-") if float(s) == 0 else s.replace("-", "−")


def js_saturation(width: float = DEFAULT_WIDTH) -> FigureData:
    mu = np.linspace(0.0, 30.0, 301)
    js, lg = S.js(mu), S.log_js_grad(mu[1:]) / np.log(10)
    fig, (a, b) = grid(width, 2, 2, 1, panel_aspect=0.75, extra_h=0.45)
    a.plot(mu, js, label="JS, computed"); a.axhline(np.log(2), ls="--", c="k", lw=0.8, label="log 2")
    a.set_xlabel("separation μ"); a.set_ylabel("JS(N(0, 1) ‖ N(μ, 1)) (nats)"); a.legend(loc="lower right")
    a.set_title("JS saturates at log 2")
    b.plot(mu[1:], lg, lw=2.0, label="dJS/dμ (direct, log space)")
    b.plot(mu[1:], np.log10(S.js_asymptotic(mu[1:])[1]), "--", c="C1", label="asymptote (√(2π)/4)·exp(−μ²/8)")
    b.set_xlabel("separation μ"); b.set_ylabel("log₁₀ dJS/dμ"); b.legend(loc="lower left")
    b.set_title("its gradient vanishes like exp(−μ²/8)")
    return fig, {"mu": mu, "js": js, "log10_grad": np.r_[-np.inf, lg]}


YLIM_DECADES = 60


def generator_gradients(width: float = DEFAULT_WIDTH, mu: ArrayLike | None = None, names: Sequence[str] | None = None,
                        log: Callable[[str], object] | None = None) -> FigureData:
    """log10 |generator gradient| under the optimal critic for each divergence, both objectives.

    mu: separations (default 25 points on [0.5, 30]); names: divergences (default divkit.names());
    log: a callable given one progress line per divergence (the figure takes ~3 CPU-minutes of mpmath).
    """
    mu = np.linspace(0.5, 30, 25) if mu is None else np.asarray(mu, dtype=float)
    names = list(divkit.names()) if names is None else list(names)
    fig, axes = grid(width, 2, 2, 1, panel_aspect=0.85, extra_h=0.4, sharey=True)
    data = {"mu": mu}
    for i, n in enumerate(names):
        for ax, obj in zip(axes, ("saturating", "nonsaturating")):
            v = S.generator_gradient_log10(n, mu, obj)
            # the frame is +-60 decades (the chi^2 gradients reach 10^1200 at mu = 30 and would flatten the
            # rest): curves end where they leave it; the data file keeps every value
            ax.plot(mu, np.where(np.abs(v) <= YLIM_DECADES, v, np.nan), label=NAMES.get(n, n), **_styled(i))
            data[f"{obj}_{n}"] = v
        if log:
            log(f"  generator_gradients: {i + 1}/{len(names)} {n}")
    for ax, obj in zip(axes, ("saturating", "non-saturating")):
        ax.set_xlabel("separation μ"); ax.set_title(f"{obj} generator objective")
        ax.set_ylim(-YLIM_DECADES - 5, YLIM_DECADES + 5)
    axes[0].set_ylabel("log₁₀ |∂ loss/∂μ| (optimal critic)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3 if width >= 5 else 2)
    fig.suptitle(wrap("generator gradient against N(0, 1) with the optimal critic (curves end at ±60 decades)",
                      width))
    return fig, data


def frozen_generator(width: float = DEFAULT_WIDTH, **experiment: Any) -> FigureData:
    """Arjovsky & Bottou's frozen-generator experiment; `experiment` goes to saturation.frozen_generator_experiment."""
    r = S.frozen_generator_experiment(**experiment)
    w = width
    fig = new_figure(w, min(0.72 * w, 3.6))
    ax = fig.add_subplot()
    for i, b in enumerate(k.split("/")[1] for k in r if k.startswith("sat/")):
        ax.semilogy(r["iters"], r[f"sat/{b}"], f"C{i}-", label=f"log(1 − D), G trained {b} steps")
        ax.semilogy(r["iters"], r[f"nonsat/{b}"], f"C{i}--", label=f"−log D, G trained {b} steps")
    ax.set_xlabel("critic iterations (generator frozen)"); ax.set_ylabel("gradient norm ‖∇θ L‖")
    unicode_log_ticks(ax.yaxis)
    ax.set_title("Arjovsky & Bottou (2017): small MLPs on ring8")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2 if w >= 5 else 1)
    return fig, r


KL_PAIR = ((0.0, 1.0), (1.5, 0.6))  # p = N(0, 1), q = N(1.5, 0.6²): unequal variances, so KL(p‖q) ≠ KL(q‖p)


def kl_integrands(width: float = DEFAULT_WIDTH) -> FigureData:
    """The two KL integrands of a pair of Gaussians with unequal variances, with the integrals they give."""
    (m1, s1), (m2, s2) = KL_PAIR
    x = np.linspace(-6.5, 6.0, 2501)  # the tails beyond hold < 1e-7 of either integral
    a, b = fits.kl_integrands(x, m1, s1, m2, s2)
    kl = lambda ma, sa, mb, sb: np.log(sb / sa) + (sa ** 2 + (ma - mb) ** 2) / (2 * sb ** 2) - 0.5
    kpq, kqp = kl(m1, s1, m2, s2), kl(m2, s2, m1, s1)
    w = width
    fig = new_figure(w, min(0.66 * w, 3.6))
    ax = fig.add_subplot()
    ax.axhline(0, c="0.5", lw=0.6)
    ax.plot(x, a, "C0", lw=1.6, label=f"p log(p/q): integrates to KL(p‖q) = {kpq:.2f}")
    ax.plot(x, b, "C3", lw=1.6, label=f"q log(q/p): integrates to KL(q‖p) = {kqp:.2f}")
    ax.plot(x, fits.normal_pdf(x, m1, s1), "k:", lw=1, label=f"p = N({m1:g}, {s1:g}²)")
    ax.plot(x, fits.normal_pdf(x, m2, s2), "k--", lw=1, label=f"q = N({m2:g}, {s2:g}²)")
    ax.set_xlabel("x"); ax.set_ylabel("integrand (nats per unit x)")
    ax.set_title("KL is asymmetric: the two integrands differ")
    ax.legend(loc="upper left")
    return fig, {"x": x, "p_log_p_over_q": a, "q_log_q_over_p": b, "kl_pq": np.array(kpq),
                 "kl_qp": np.array(kqp)}


def kl_fits(width: float = DEFAULT_WIDTH) -> FigureData:
    x = np.linspace(-9, 9, 1801)
    means = (-3.0, 3.0)
    p = fits.mixture_pdf(x, means)
    w = width
    fig = new_figure(w, min(0.7 * w, 3.6))
    ax = fig.add_subplot()
    ax.fill_between(x, p, color="0.85", label="target P = ½ N(−3, 1) + ½ N(3, 1)")
    data = {"x": x, "p": p}
    for i, n in enumerate(("kl", "reverse_kl", "squared_hellinger", "js")):
        r = fits.fit_gaussian(n, means)
        ax.plot(x, fits.normal_pdf(x, r["m"], r["s"]), **_styled(i),
                label=f"{NAMES[n]}: μ = {_num(r['m'])}, σ = {_num(r['s'])}")
        data[n] = np.array([r["m"], r["s"], r["D"]])
    ax.set_xlabel("x"); ax.set_ylabel("density")
    ax.set_title(wrap("best single Gaussian Q under each divergence, D(P‖Q)", w))
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2 if w >= 4.5 else 1)
    return fig, data


def conjugate_envelope(width: float = DEFAULT_WIDTH) -> FigureData:
    """TV's conjugate as the upper envelope of the lines u·t − f(u), u ≥ 0 (divkit.plotting.envelope_figure)."""
    from divkit.plotting import envelope_figure

    d = divkit.get("tv")
    w = width
    fig = new_figure(w, min(0.75 * w, 3.6))
    ax = fig.add_subplot()
    envelope_figure(d, np.linspace(0.0, 4.0, 2001), t_range=(-1.0, 1.0), ax=ax, n_lines=9)
    ax.get_legend().remove()  # below the axes instead: inside, at narrow widths, it covered the envelope
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1)
    t = np.linspace(-1.0, 1.0, 401)
    env = divkit.legendre_transform(np.linspace(0.0, 4.0, 2001), np.asarray(d.f(np.linspace(0.0, 4.0, 2001))), t)
    ax.set_title("total variation, f(u) = ½|u − 1|: f*(t) = max(t, −½) for t ≤ ½, +∞ beyond\n"
                 "(the f-GAN critic ½ tanh v stays in |t| < ½, where f*(t) = t)" if w >= 5 else
                 "total variation, f(u) = ½|u − 1|:\nf*(t) = max(t, −½) for t ≤ ½, +∞ beyond\n"
                 "(the f-GAN critic ½ tanh v stays in |t| < ½)")
    return fig, {"t": t, "envelope": env, "exact": np.asarray(d.conjugate(t), dtype=float)}


RING8_SETTINGS = (("balanced: both learning rates 1e-3", 1e-3, 1e-3),
                  ("fast generator: G 2e-3, critic 2e-4", 2e-3, 2e-4))


def ring8_mode_collapse(width: float = DEFAULT_WIDTH, snapshots: Sequence[int] = (100, 300, 600, 1000, 1500, 2500),
                        every: int = 100, seed: int = 0, n_samples: int = 2500) -> FigureData:
    """Mode collapse on ring8 over training: a balanced GAN covers the 8 modes, a fast generator collapses.

    Both runs train the same standard GAN (gan.Trainer: non-saturating generator loss, MLPs with 2 hidden
    layers of 64 units, Adam betas (0.5, 0.999), batch 256, seed `seed`) and differ only in the learning
    rates (RING8_SETTINGS). With the generator 10x faster than the critic (the reverse of TTUR), the generator
    sits on one mode at a time and hops to another when the critic catches up (the mode hopping of Metz et al.
    2017, Fig. 1); with equal rates it spreads over all 8 modes. Left: n_samples generator samples (fixed z)
    at the `snapshots` steps (black crosses on top: the 8 real modes). Bottom, every `every` steps: modes captured
    (gan.metrics.mode_metrics: a sample is high quality within 3 std of its nearest mode; a mode is captured by
    at least one such sample; the high-quality fraction is saved in the data) and the share of all samples
    whose nearest mode is the most popular one (1/8 for an even cover, 1 for full collapse).
    Deterministic: torch runs with one intra-op thread during training (restored afterwards). About
    2 x 15 s of CPU. Needs the `gan` package; reported as unavailable otherwise.
    """
    import tempfile

    import torch

    try:
        from gan import TrainConfig, Trainer
        from gan.metrics import mode_metrics
    except ImportError as exc:
        raise FigureUnavailable(f"ring8_mode_collapse needs gan.Trainer and gan.metrics ({exc})")
    steps = np.arange(every, max(snapshots) + 1, every)
    snap = sorted(set(int(s) for s in snapshots))
    stops = sorted(set(steps.tolist()) | set(snap))
    data = {"steps": steps, "snapshot_steps": np.array(snap),
            "lr_g": np.array([r[1] for r in RING8_SETTINGS]), "lr_d": np.array([r[2] for r in RING8_SETTINGS])}
    cols = len(snap) if width >= 5 else min(3, len(snap))
    per_run = int(np.ceil(len(snap) / cols))
    fig = new_figure(width, 2 * per_run * width / cols + 0.3 * 2 * per_run + 0.55 * width + 0.3)
    top, bottom = fig.subfigures(2, 1, height_ratios=[2 * per_run * (width / cols + 0.3), 0.55 * width + 0.3])
    grid_axes = top.subplots(2 * per_run, cols, squeeze=False)
    for row in range(2):
        for k in range(len(snap), per_run * cols):
            grid_axes[row * per_run + k // cols, k % cols].set_visible(False)
    ax_modes, ax_share = bottom.subplots(1, 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for row, (label, lr_g, lr_d) in enumerate(RING8_SETTINGS):
            key = f"run{row}"
            modes, hq, share = [], [], []
            with tempfile.TemporaryDirectory() as tmp:
                cfg = TrainConfig(data="ring8", divergence="gan", generator_loss="nonsaturating", hidden=64,
                                  layers=2, lr_g=lr_g, lr_d=lr_d, steps=int(max(snap)), seed=seed, progress=False,
                                  log_every=0, sample_every=0, checkpoint_every=0, out=tmp)
                tr = Trainer(cfg)
                means, std = np.asarray(tr.data.means), float(tr.data.std)
                col = 0
                for s in stops:
                    tr.fit(stop_after=s)
                    x = tr.generate(n=n_samples, seed=seed + 100).numpy()
                    m = mode_metrics(x, means, std)
                    nearest = ((x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
                    if s in steps:
                        modes.append(m["modes"]); hq.append(m["hq_fraction"])
                        share.append(np.bincount(nearest, minlength=len(means)).max() / len(x))
                    if s in snap:
                        r_, c_ = divmod(col, cols)
                        ax = grid_axes[row * per_run + r_, c_]
                        ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.25, c=f"C{row}", rasterized=True, lw=0)
                        ax.plot(means[:, 0], means[:, 1], "kx", ms=4, mew=1.0, zorder=5)
                        ax.set_xlim(-1.6, 1.6); ax.set_ylim(-1.6, 1.6); ax.set_aspect("equal")
                        ax.set_xticks([-1, 0, 1]); ax.set_yticks([-1, 0, 1])
                        ax.set_title(f"step {s}: {m['modes']}/8", pad=2)
                        ax.set_xlabel("x₁", labelpad=1)
                        ax.set_ylabel(("balanced: " if row == 0 else "fast G: ") + "x₂" if c_ == 0 else "",
                                      labelpad=1)
                        if c_:
                            ax.set_yticklabels([])
                        data[f"{key}_samples_{s}"] = x
                        col += 1
            data[f"{key}_modes"], data[f"{key}_hq_fraction"] = np.array(modes), np.array(hq)
            data[f"{key}_top_mode_share"] = np.array(share)
            ax_modes.plot(steps, modes, f"C{row}-o", ms=3, label=label)
            ax_share.plot(steps, share, f"C{row}-o", ms=3, label=label)
    finally:
        torch.set_num_threads(threads)
    ax_modes.set_ylabel("modes captured (of 8)"); ax_modes.set_ylim(-0.3, 8.5); ax_modes.set_yticks(range(0, 9, 2))
    ax_modes.set_xlabel("generator step")
    ax_share.axhline(1 / 8, c="k", ls=":", lw=0.8, label="even cover: 1/8")
    ax_share.set_ylabel("share at the most\npopular mode"); ax_share.set_xlabel("generator step")
    ax_share.set_ylim(0, 1.05)
    bottom.legend(*ax_share.get_legend_handles_labels(), loc="outside lower center", ncol=1)
    top.suptitle(wrap("standard GAN on ring8 (non-saturating loss): samples (dots) and the 8 modes (×)", width))
    return fig, data


class FigureUnavailable(RuntimeError):
    """A figure whose dependency (e.g. the gan package) is missing."""
