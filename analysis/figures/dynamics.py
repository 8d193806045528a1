"""Figures of saddle-point dynamics on V = x*y and the Dirac-GAN. Each takes `width` (inches) and returns
(Figure, data dict); the layout adapts to the width (fewer columns below 5 in)."""
from __future__ import annotations

import numpy as np

import analysis
from analysis import games

from ._draw import directions, grid, symmetric_limits, trajectory, wrap
from .style import DEFAULT_WIDTH, FigureData, new_figure

G = games.Bilinear()


def saddle_surface(width: float = DEFAULT_WIDTH) -> FigureData:
    x = y = np.linspace(-2, 2, 61)
    X, Y = np.meshgrid(x, y)
    V = X * Y
    views = [(30, -60), (20, 30), (60, 120)]
    cols = 3 if width >= 5 else 1
    fig = new_figure(width, (len(views) // cols) * width / cols * 0.95)
    for i, (el, az) in enumerate(views):
        ax = fig.add_subplot(len(views) // cols, cols, i + 1, projection="3d")
        ax.plot_surface(X, Y, V, cmap="coolwarm", linewidth=0, antialiased=True)
        ax.view_init(el, az)
        ax.set_xticks([-2, 0, 2]); ax.set_yticks([-2, 0, 2]); ax.set_zticks([-4, 0, 4])
        ax.set_xlabel("x", labelpad=-4); ax.set_ylabel("y", labelpad=-4)
        ax.tick_params(pad=-1)
        ax.set_title(f"V = x·y (x max, y min),\nelevation {el}°, azimuth {az}°".replace("-", "−"))
    return fig, {"x": x, "y": y, "V": V}


def vector_field(width: float = DEFAULT_WIDTH) -> FigureData:
    """Direction arrows of the flow (ẋ, ẏ) = (y, −x), coloured by speed, with one closed orbit."""
    x = y = np.linspace(-2, 2, 17)
    X, Y = np.meshgrid(x, y)
    gx, gy = G.grads(X, Y)
    dx, dy = gx, -gy
    speed = np.hypot(dx, dy)
    fig = new_figure(width, min(0.86 * width, 3.8))
    ax = fig.add_subplot()
    n = np.where(speed > 0, speed, 1.0)
    h = 0.7 * (x[1] - x[0])
    # one dark-to-mid colour map: the slow arrows near the equilibrium stay dark, never white
    q = ax.quiver(X - 0.5 * h * dx / n, Y - 0.5 * h * dy / n, h * dx / n, h * dy / n, speed, cmap="viridis",
                  clim=(0, speed.max() / 0.85), angles="xy", scale_units="xy", scale=1.0, width=0.005,
                  headwidth=4, headlength=4, headaxislength=3.5)
    th = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(th), np.sin(th), "k--", lw=0.8, label="continuous-time orbit (a circle)")
    ax.plot([0], [0], "k*", ms=7, label="equilibrium (0, 0)")
    fig.colorbar(q, ax=ax, label="speed √(x² + y²)", shrink=0.9)
    L = 2 + 0.5 * (x[1] - x[0])
    ax.set_xlim(-L, L); ax.set_ylim(-L, L); ax.set_aspect("equal")
    ax.set_xlabel("x (ascends V)"); ax.set_ylabel("y (descends V)")
    ax.set_title("V = x·y: the flow (ẋ, ẏ) = (y, −x) rotates")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2 if width >= 5 else 1)
    return fig, {"x": x, "y": y, "dx": dx, "dy": dy, "arrow_length": np.array(h)}


def iterates_vs_time(width: float = DEFAULT_WIDTH) -> FigureData:
    lrs = np.array([0.05, 0.2])
    tr = analysis.simulate(G, "simultaneous", lr=lrs, steps=200, x0=1.0, y0=0.0)
    fig, axes = grid(width, 2, 2, 1, panel_aspect=0.62, extra_h=0.45)
    for i, ax in enumerate(axes):
        ax.plot(tr.t, tr.x[:, i], label="x (max player)"); ax.plot(tr.t, tr.y[:, i], "--", label="y (min player)")
        grow = np.sqrt(1 + lrs[i] ** 2) ** tr.t
        ax.plot(tr.t, grow, "k:", lw=0.8, label="envelope ±(√(1 + η²))ᵗ")
        ax.plot(tr.t, -grow, "k:", lw=0.8)
        ax.set_title(f"simultaneous GDA, η = {lrs[i]:g}"); ax.set_xlabel("iteration t")
        ax.set_ylabel("parameter value")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3 if width >= 5 else 1)
    return fig, {"t": tr.t, "lr": lrs, "x": tr.x, "y": tr.y}


def spiral(width: float = DEFAULT_WIDTH, lr: float = 0.1, steps: int = 300) -> FigureData:
    """The spiral of simultaneous GDA from (1, 0) and (at widths >= 5 in, a second panel) its radius over time."""
    tr = analysis.simulate(G, "simultaneous", lr=lr, steps=steps, x0=1.0, y0=0.0)
    r = np.hypot(tr.x, tr.y)
    two = width >= 5
    fig, axes = grid(width, 2 if two else 1, 2, 1, panel_aspect=1.0, extra_h=0.75)
    ax = axes[0]
    trajectory(ax, tr.x, tr.y, label="iterates", arrows=4)
    symmetric_limits(ax, tr.x, tr.y)
    ax.set_xlabel("x"); ax.set_ylabel("y"); ax.legend(loc="lower left")
    ax.set_title(f"the iterates spiral outwards\n(|w| = {r[-1]:.2f} after {steps} steps)")
    if two:
        b = axes[1]
        b.semilogy(tr.t, r, lw=2.0, label="|wₜ|, simulated")
        b.semilogy(tr.t, np.sqrt(1 + lr ** 2) ** tr.t, "k--", label="(√(1 + η²))ᵗ")
        b.set_xlabel("iteration t"); b.set_ylabel("distance |w| to the equilibrium"); b.legend(loc="upper left")
        b.set_title("|w| grows by √(1 + η²) every step")
        from matplotlib.ticker import NullFormatter

        ticks = [v for v in (1, 1.5, 2, 3, 4, 6, 8, 10, 15, 20, 30) if v <= 1.05 * r.max()]
        b.set_yticks(ticks, [f"{v:g}" for v in ticks]); b.yaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(wrap(f"simultaneous GDA on V = x·y, η = {lr:g}, {steps} steps from (1, 0)", width))
    return fig, {"t": tr.t, "x": tr.x, "y": tr.y, "lr": np.array(lr)}


RULES = [("simultaneous", {}), ("alternating", {}), ("optimistic", {}), ("extragradient", {}),
         ("consensus", {"gamma": 1.0}), ("sga", {"lam": 1.0}), ("momentum", {"beta": -0.5})]
RULE_TITLES = {"simultaneous": "simultaneous GDA", "alternating": "alternating GDA",
               "optimistic": "optimistic GDA", "extragradient": "extragradient",
               "consensus": "consensus, γ = 1", "sga": "SGA, λ = 1", "momentum": "momentum, β = −0.5"}


def update_rules(width: float = DEFAULT_WIDTH, lr: float = 0.2, steps: int = 150) -> FigureData:
    fig, axes = grid(width, len(RULES), 4, 2, panel_aspect=1.0, extra_h=0.7)
    data = {}
    th = np.linspace(0, 2 * np.pi, 200)
    for ax, (rule, opt) in zip(axes, RULES):
        tr = analysis.simulate(G, rule, lr=lr, steps=steps, x0=1.0, y0=0.0, **opt)
        ax.plot(np.cos(th), np.sin(th), c="0.6", lw=0.6, ls=":", zorder=0)  # |w| = 1: the start's radius
        trajectory(ax, tr.x, tr.y, arrows=2)
        symmetric_limits(ax, tr.x, tr.y, floor=1.0)
        ax.set_title(f"{RULE_TITLES[rule]}\nfinal |w| = {np.hypot(tr.x[-1], tr.y[-1]):.2g}")
        ax.set_xlabel("x"); ax.set_ylabel("y")
        data[f"{rule}_x"], data[f"{rule}_y"] = tr.x, tr.y
    fig.suptitle(f"update rules on V = x·y, η = {lr:g}, {steps} steps from (1, 0)" + (" " if width >= 5 else "\n")
                 + "(dotted: |w| = 1)")
    return fig, data


_STYLES = {"simultaneous": dict(c="C0", ls="-"), "alternating": dict(c="C1", ls="-", lw=2.2),
           "optimistic": dict(c="C2", ls="-"), "extragradient": dict(c="C3", ls="-."),
           "consensus": dict(c="C4", ls="-", lw=2.2), "sga": dict(c="C5", ls="--", marker="o", ms=3, markevery=12),
           "momentum": dict(c="C6", ls=":", lw=1.8)}


def spectral_radius_vs_lr(width: float = DEFAULT_WIDTH) -> FigureData:
    """ρ(η) per rule. Alternating GDA is exactly 1 (drawn thick above the thin ρ = 1 line) and consensus equals
    SGA on a bilinear game (SGA drawn dashed with markers over the thick consensus line)."""
    lrs = np.linspace(0.01, 1.5, 150)
    w = width
    fig = new_figure(w, min(0.78 * w, 4.2))
    ax = fig.add_subplot()
    data = {"lr": lrs}
    # drawn on top, thin and dotted: alternating GDA (thick, below it) is exactly 1 for every η < 2
    ax.axhline(1, color="k", lw=0.8, ls=(0, (1, 2)), zorder=5, label="ρ = 1 (stability boundary)")
    for rule, opt in RULES:
        r = analysis.spectral_radius(G, rule, lrs, **opt)
        # the curves stop at the frame's top (ρ = 1.8); the data file keeps every value
        ax.plot(lrs, np.where(r <= 1.8, r, np.nan), label=RULE_TITLES[rule] + (" (= consensus here)" if rule == "sga" else ""),
                **_STYLES[rule])
        data[rule] = r
    ax.set_xlabel("learning rate η"); ax.set_ylabel("spectral radius ρ"); ax.set_ylim(0.4, 1.8)
    ax.set_xlim(0, 1.5)
    ax.set_title("V = x·y: iterates converge where ρ < 1")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1 if w < 4.5 else 3)
    return fig, data


DIRAC_VARIANTS = [("saturating", None, {}, "standard GAN\n(saturating loss)"),
                  ("nonsaturating", None, {}, "non-saturating\nGAN"),
                  ("wgan", None, {}, "WGAN\n(clip |ψ| ≤ 1)"),
                  ("wgan", "gradient_penalty", {}, "WGAN-GP\n(no clipping)"),
                  ("saturating", "r1", {}, "GAN + R1\n(γ = 1)"),
                  ("saturating", "instance_noise", {}, "GAN + instance\nnoise (σ = 1)"),
                  ("saturating", "consensus", {}, "GAN + consensus\n(γ = 1)"),
                  ("nonsaturating", "r1", {}, "non-saturating\nGAN + R1 (γ = 1)")]


def dirac_gan(width: float = DEFAULT_WIDTH, lr: float = 0.1, steps: int = 400) -> FigureData:
    fig, axes = grid(width, len(DIRAC_VARIANTS), 4, 2, panel_aspect=1.0, extra_h=0.55)
    data = {}
    first_col = {id(a) for a in axes if a.get_subplotspec().is_first_col()}
    for ax, (loss, reg, kw, title) in zip(axes, DIRAC_VARIANTS):
        g = games.DiracGAN(loss, reg, gamma=1.0, sigma=1.0, **kw)
        tr = analysis.simulate(g, "simultaneous", lr=lr, steps=steps, x0=0.5, y0=1.5)  # psi0, theta0
        L = symmetric_limits(ax, tr.x, tr.y, floor=2.0)
        p = np.linspace(-L, L, 13)[1:-1]
        P, T = np.meshgrid(p, p)  # P: psi (vertical), T: theta (horizontal)
        gx, gy = g.grads(P.ravel(), T.ravel())
        directions(ax, T, P, -np.asarray(gy).reshape(P.shape), np.asarray(gx).reshape(P.shape))
        trajectory(ax, tr.y, tr.x, arrows=2)
        ax.set_xlabel("θ (generator)"); ax.set_title(title)
        if id(ax) in first_col:
            ax.set_ylabel("ψ (discriminator)")
        key = f"{loss}_{reg or 'none'}"
        data[f"{key}_theta"], data[f"{key}_psi"] = tr.y, tr.x
    fig.suptitle(f"Dirac-GAN (Mescheder et al. 2018): direction field and simultaneous GD, η = {lr:g}, "
                 f"{steps} steps" if width >= 5 else f"Dirac-GAN (Mescheder et al. 2018):\nsimultaneous GD, "
                 f"η = {lr:g}, {steps} steps")
    return fig, data
