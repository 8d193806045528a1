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


def ring8_mode_collapse(steps=(100, 400, 1200), seed=0):
    """Generator samples on ring8 after increasing training budgets (standard GAN, via gan.trainer.train).

    Each budget is a separate run from the same seed (so the panels show one training run's trajectory up to
    the optimiser state at that step). Needs the `gan` package; reported as unavailable otherwise.
    """
    import tempfile
    from pathlib import Path

    try:
        from gan.config import TrainConfig
        from gan.trainer import train
    except ImportError as exc:
        raise FigureUnavailable(f"ring8_mode_collapse needs gan.trainer.train and gan.config.TrainConfig ({exc})")
    fig, axes = plt.subplots(1, len(steps), figsize=(3.2 * len(steps), 3.3), sharex=True, sharey=True)
    data = {}
    ang = np.arange(8) * 2 * np.pi / 8
    for ax, n in zip(np.atleast_1d(axes), steps):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(data="ring8", divergence="gan", steps=int(n), seed=seed, progress=False,
                              sample_every=0, checkpoint_every=10 ** 9, out=tmp, hidden=64, lr_g=1e-3, lr_d=1e-3)
            summary = train(cfg)
            x = np.load(Path(tmp) / "samples.npy")
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4)
        ax.plot(np.cos(ang), np.sin(ang), "rx", ms=6)
        modes = summary.get("modes", summary.get("metrics", {}).get("modes") if isinstance(
            summary.get("metrics"), dict) else None)
        ax.set_title(f"step {n}" + (f", modes {modes}" if modes is not None else ""))
        ax.set_xlabel("x₁"); ax.set_ylabel("x₂"); ax.set_aspect("equal")
        data[f"samples_{n}"] = x
    return fig, data


class FigureUnavailable(RuntimeError):
    """A figure whose dependency (e.g. the gan package) is missing."""
