"""Figures of gradient saturation and divergence asymmetry. Each returns (Figure, data dict)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import divkit
from analysis import fits, saturation as S


def js_saturation():
    mu = np.linspace(0.0, 30.0, 301)
    js, lg = S.js(mu), S.log_js_grad(mu[1:]) / np.log(10)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(mu, js); a.axhline(np.log(2), ls="--", c="k", lw=0.8, label="log 2")
    a.set_xlabel("μ (separation)"); a.set_ylabel("JS(N(0,1) ‖ N(μ,1)) [nats]"); a.legend()
    b.plot(mu[1:], lg, label="dJS/dμ (direct, log space)")
    b.plot(mu[1:], np.log10(S.js_asymptotic(mu[1:])[1]), "--", label="(√(2π)/4) e^{−μ²/8}")
    b.set_xlabel("μ"); b.set_ylabel("log10 dJS/dμ"); b.legend()
    return fig, {"mu": mu, "js": js, "log10_grad": np.r_[-np.inf, lg]}


def generator_gradients():
    mu = np.linspace(0.5, 30, 25)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    data = {"mu": mu}
    for ax, obj in zip(axes, ("saturating", "nonsaturating")):
        for n in divkit.names():
            v = S.generator_gradient_log10(n, mu, obj)
            ax.plot(mu, v, label=n); data[f"{obj}_{n}"] = v
        ax.set_xlabel("μ"); ax.set_title(f"{obj} generator objective"); ax.set_ylim(-60, 60)
    axes[0].set_ylabel("log10 |∂ loss/∂μ| (optimal critic)"); axes[1].legend(ncol=2, fontsize=7)
    return fig, data


def frozen_generator():
    r = S.frozen_generator_experiment()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, b in enumerate(k.split("/")[1] for k in r if k.startswith("sat/")):
        ax.semilogy(r["iters"], r[f"sat/{b}"], f"C{i}-", label=f"log(1−D), G trained {b} steps")
        ax.semilogy(r["iters"], r[f"nonsat/{b}"], f"C{i}--", label=f"−log D, G trained {b} steps")
    ax.set_xlabel("critic iterations (generator frozen)"); ax.set_ylabel("‖∇θ L_G‖")
    ax.legend(fontsize=7); ax.set_title("Arjovsky & Bottou (2017), small MLPs on ring8")
    return fig, r


def kl_integrands():
    x = np.linspace(-5, 7, 1201)
    a, b = fits.kl_integrands(x, 0.0, 1.0, 2.0, 1.0)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(x, a, label="p log(p/q)  → KL(p‖q)"); ax.plot(x, b, label="q log(q/p)  → KL(q‖p)")
    ax.plot(x, fits.normal_pdf(x, 0, 1), "k:", lw=1, label="p = N(0,1)")
    ax.plot(x, fits.normal_pdf(x, 2, 1), "k--", lw=1, label="q = N(2,1)")
    ax.set_xlabel("x"); ax.set_ylabel("integrand density"); ax.legend()
    return fig, {"x": x, "p_log_p_over_q": a, "q_log_q_over_p": b}


def kl_fits():
    x = np.linspace(-9, 9, 1801)
    means = (-3.0, 3.0)
    p = fits.mixture_pdf(x, means)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(x, p, "k", label="target ½N(−3,1)+½N(3,1)")
    data = {"x": x, "p": p}
    for n in ("kl", "reverse_kl", "squared_hellinger", "js"):
        r = fits.fit_gaussian(n, means)
        ax.plot(x, fits.normal_pdf(x, r["m"], r["s"]), label=f"{n}: μ*={r['m']:.2f}, σ*={r['s']:.2f}")
        data[n] = np.array([r["m"], r["s"], r["D"]])
    ax.set_xlabel("x"); ax.set_ylabel("density"); ax.legend(fontsize=7)
    return fig, data


def conjugate_envelope():
    d = divkit.get("tv")
    u = np.linspace(0.0, 4.0, 41)
    t = np.linspace(-1.0, 1.0, 401)
    lines = u[:, None] * t[None, :] - np.asarray(d.f(u))[:, None]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(t, lines.T, c="0.75", lw=0.6)
    env = lines.max(0)
    ax.plot(t, env, "C0", lw=2, label="max_u (u t − f(u)) on the grid")
    exact = np.where(np.abs(t) <= 0.5, t, np.nan)
    ax.plot(t, exact, "C3--", label="f*(t) = t on |t| ≤ ½ (+∞ beyond)")
    ax.set_ylim(-1.5, 1.5); ax.set_xlabel("t"); ax.set_ylabel("u·t − f(u)"); ax.legend(fontsize=7)
    ax.set_title("TV: conjugate as the upper envelope of lines")
    return fig, {"t": t, "u": u, "envelope": env}


RING8_SETTINGS = (("balanced: lr_G = lr_D = 1e-3", 1e-3, 1e-3),
                  ("fast generator: lr_G = 2e-3, lr_D = 2e-4", 2e-3, 2e-4))


def ring8_mode_collapse(snapshots=(100, 300, 600, 1000, 1500, 2500), every=100, seed=0, n_samples=2500):
    """Mode collapse on ring8 over training: a balanced GAN covers the 8 modes, a fast generator collapses.

    Both runs train the same standard GAN (gan.Trainer: non-saturating generator loss, MLPs with 2 hidden
    layers of 64 units, Adam betas (0.5, 0.999), batch 256, seed `seed`) and differ only in the learning
    rates (RING8_SETTINGS). With the generator 10x faster than the critic (the reverse of TTUR), the generator
    sits on one mode at a time and hops to another when the critic catches up (the mode hopping of Metz et al.
    2017, Fig. 1); with equal rates it spreads over all 8 modes. Left: n_samples generator samples (fixed z)
    at the `snapshots` steps (red crosses: the modes). Right, every `every` steps: modes captured
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
    fig = plt.figure(figsize=(13, 4.8))
    gs = fig.add_gridspec(2, len(snap) + 2, width_ratios=[1] * len(snap) + [0.15, 2.2])
    ax_modes, ax_share = fig.add_subplot(gs[0, -1]), fig.add_subplot(gs[1, -1])
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
                        ax = fig.add_subplot(gs[row, col])
                        ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.25, c=f"C{row}", rasterized=True)
                        ax.plot(means[:, 0], means[:, 1], "rx", ms=4)
                        ax.set_xlim(-1.6, 1.6); ax.set_ylim(-1.6, 1.6); ax.set_aspect("equal")
                        ax.set_xticks([-1, 0, 1]); ax.set_yticks([-1, 0, 1])
                        ax.set_title(f"step {s}: {m['modes']}/8 modes", fontsize=8)
                        ax.set_xlabel("x₁" if row == 1 else "")
                        if col == 0:
                            ax.set_ylabel(("balanced\n" if row == 0 else "fast generator\n") + "x₂")
                        else:
                            ax.set_yticklabels([])
                        if row == 0:
                            ax.set_xticklabels([])
                        data[f"{key}_samples_{s}"] = x
                        col += 1
            data[f"{key}_modes"], data[f"{key}_hq_fraction"] = np.array(modes), np.array(hq)
            data[f"{key}_top_mode_share"] = np.array(share)
            ax_modes.plot(steps, modes, f"C{row}-o", ms=3, label=label)
            ax_share.plot(steps, share, f"C{row}-o", ms=3, label=label)
    finally:
        torch.set_num_threads(threads)
    ax_modes.set_ylabel("modes captured (of 8)"); ax_modes.set_ylim(-0.3, 8.5); ax_modes.set_yticks(range(0, 9, 2))
    ax_modes.set_xticklabels([]); ax_modes.legend(fontsize=7, loc="center right")
    ax_modes.set_title("standard GAN on ring8 (non-saturating loss)")
    ax_share.axhline(1 / 8, c="k", ls=":", lw=0.8)
    ax_share.text(steps[-1], 1 / 8 - 0.02, "even cover: 1/8", ha="right", va="top", fontsize=7)
    ax_share.set_ylabel("share of samples at the\nmost popular mode"); ax_share.set_xlabel("generator step")
    ax_share.set_ylim(0, 1.05)
    return fig, data


class FigureUnavailable(RuntimeError):
    """A figure whose dependency (e.g. the gan package) is missing."""
