"""Figures of saddle-point dynamics on V = x*y and the Dirac-GAN. Each returns (Figure, data dict)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

import analysis
from analysis import games, optim

G = games.Bilinear()


def saddle_surface():
    x = y = np.linspace(-2, 2, 61)
    X, Y = np.meshgrid(x, y)
    V = X * Y
    fig = plt.figure(figsize=(10, 3.4))
    for i, (el, az) in enumerate([(30, -60), (20, 30), (60, 120)]):
        ax = fig.add_subplot(1, 3, i + 1, projection="3d")
        ax.plot_surface(X, Y, V, cmap="coolwarm", linewidth=0, antialiased=True)
        ax.view_init(el, az)
        ax.set_xlabel("x (max player)"); ax.set_ylabel("y (min player)"); ax.set_zlabel("V = x·y")
        ax.set_title(f"elev {el}°, azim {az}°")
    return fig, {"x": x, "y": y, "V": V}


def vector_field():
    x = y = np.linspace(-2, 2, 21)
    X, Y = np.meshgrid(x, y)
    gx, gy = G.grads(X, Y)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    q = ax.quiver(X, Y, gx, -gy, X * Y, cmap="coolwarm")
    fig.colorbar(q, ax=ax, label="V(x, y) = x·y")
    ax.set_xlabel("x (ascends V)"); ax.set_ylabel("y (descends V)"); ax.set_title("gradient field (ẋ, ẏ) = (y, −x)")
    ax.set_aspect("equal")
    return fig, {"x": x, "y": y, "dx": gx, "dy": -gy}


def iterates_vs_time():
    lrs = np.array([0.05, 0.2])
    tr = analysis.simulate(G, "simultaneous", lr=lrs, steps=200, x0=1.0, y0=0.0)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for i, ax in enumerate(axes):
        ax.plot(tr.t, tr.x[:, i], label="x"); ax.plot(tr.t, tr.y[:, i], label="y")
        ax.set_title(f"simultaneous GDA, lr = {lrs[i]}"); ax.set_xlabel("iteration"); ax.legend()
    axes[0].set_ylabel("parameter value")
    return fig, {"t": tr.t, "lr": lrs, "x": tr.x, "y": tr.y}


def spiral():
    tr = analysis.simulate(G, "simultaneous", lr=0.1, steps=300, x0=1.0, y0=0.0)
    fig, ax = plt.subplots(figsize=(4.4, 4.4))
    ax.plot(tr.x, tr.y, lw=1); ax.plot([0], [0], "k*", ms=10, label="equilibrium")
    ax.set_xlabel("x"); ax.set_ylabel("y"); ax.set_aspect("equal"); ax.legend()
    ax.set_title("simultaneous GDA spirals out: |w| × √(1+lr²) per step")
    return fig, {"t": tr.t, "x": tr.x, "y": tr.y}


RULES = [("simultaneous", {}), ("alternating", {}), ("optimistic", {}), ("extragradient", {}),
         ("consensus", {"gamma": 1.0}), ("sga", {"lam": 1.0}), ("momentum", {"beta": -0.5})]


def update_rules():
    fig, axes = plt.subplots(2, 4, figsize=(12, 6))
    data = {}
    for ax, (rule, opt) in zip(axes.flat, RULES):
        tr = analysis.simulate(G, rule, lr=0.2, steps=150, x0=1.0, y0=0.0, **opt)
        ax.plot(tr.x, tr.y, lw=1); ax.plot([0], [0], "k*")
        ax.set_title(f"{rule} {opt if opt else ''}".strip()); ax.set_xlabel("x"); ax.set_ylabel("y")
        ax.set_xlim(-2.5, 2.5); ax.set_ylim(-2.5, 2.5); ax.set_aspect("equal")
        data[f"{rule}_x"], data[f"{rule}_y"] = tr.x, tr.y
    axes.flat[-1].axis("off")
    fig.suptitle("update rules on V = x·y, lr = 0.2, 150 steps from (1, 0)")
    return fig, data


def spectral_radius_vs_lr():
    lrs = np.linspace(0.01, 1.5, 150)
    fig, ax = plt.subplots(figsize=(6, 4))
    data = {"lr": lrs}
    for rule, opt in RULES:
        r = analysis.spectral_radius(G, rule, lrs, **opt)
        ax.plot(lrs, r, label=rule)
        data[rule] = r
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xlabel("learning rate η"); ax.set_ylabel("spectral radius ρ of the step map"); ax.set_ylim(0.4, 1.8)
    ax.legend(ncol=2); ax.set_title("V = x·y: ρ < 1 converges")
    return fig, data


def dirac_gan():
    variants = [("saturating", None), ("nonsaturating", None), ("wgan", None), ("saturating", "r1"),
                ("saturating", "instance_noise"), ("saturating", "consensus")]
    fig, axes = plt.subplots(2, 3, figsize=(11, 7))
    p = np.linspace(-2, 2, 17)
    P, T = np.meshgrid(p, p)
    data = {}
    for ax, (loss, reg) in zip(axes.flat, variants):
        g = games.DiracGAN(loss, reg, gamma=1.0, sigma=1.0, clip=np.inf)
        gx, gy = g.grads(P.ravel(), T.ravel())
        ax.quiver(T, P, -np.asarray(gy).reshape(P.shape), np.asarray(gx).reshape(P.shape), color="0.5")
        tr = analysis.simulate(g, "simultaneous", lr=0.1, steps=400, x0=0.5, y0=1.5)  # psi0, theta0
        ax.plot(tr.y, tr.x, "C3", lw=1.2); ax.plot([0], [0], "k*")
        ax.set_xlabel("θ (generator)"); ax.set_ylabel("ψ (discriminator)"); ax.set_title(g.name)
        ax.set_xlim(-2, 2); ax.set_ylim(-2, 2)
        data[f"{g.name}_theta"], data[f"{g.name}_psi"] = tr.y, tr.x
    fig.suptitle("Dirac-GAN (Mescheder et al. 2018): fields and simultaneous GD, lr = 0.1")
    return fig, data
