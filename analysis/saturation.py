"""Gradient saturation of GAN objectives (Goodfellow et al. 2014; Arjovsky & Bottou 2017).

Setting: data P = N(0, 1), generator Q_mu = N(mu, 1), likelihood ratio r(x) = p/q = exp(-mu x + mu^2/2).

JS(P || Q_mu) = log 2 - S(mu),  S(mu) = E_{x~N(0,1)}[softplus(mu x - mu^2/2)]  (REFERENCE.md §4).
In float64 JS rounds to log 2 beyond mu ~ 17, so S is computed directly: with x = mu/2 + u,
    S(mu)      = e^{-mu^2/8} * I(mu),   I(mu) = int softplus(mu u) e^{-mu u/2} phi(u) du,
    dJS/dmu    = e^{-mu^2/8} * K(mu),   K(mu) = int (mu/2 - u) e^{-mu u/2} sigmoid(mu u) phi(u) du,
where e^{-s/2} sigmoid(s) = 1/(2 cosh(s/2)) and log(softplus(s)) - s/2 are evaluated without overflow; both
integrands are O(1) so adaptive quadrature gives full relative accuracy, and the Gaussian factor is kept in
log space (`log_js_gap`, `log_js_grad`). Asymptotics: I ~ sqrt(2 pi)/mu, K ~ sqrt(2 pi)/4; small mu: JS ~ mu^2/8.

Generator gradient under the optimal critic T* = f'(r) (held fixed while the generator moves its samples
x = mu + z):
    saturating (minimise D_f = the tight bound): dD_f/dmu = mu * E_P[r f''(r)]
    non-saturating (maximise E_Q[T*(x)], the f-GAN trick):   mu * E_Q[r f''(r)]
For the GAN generator f(u) = u log u - (u+1) log(u+1): saturating = 2 dJS/dmu -> 0, non-saturating
= mu - 2 dJS/dmu = d/dmu [KL(Q||P) - 2 JS] (Arjovsky & Bottou 2017, Thm 2.5), since KL(Q_mu||P) = mu^2/2.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate

if TYPE_CHECKING:
    import torch

    from divkit.fdiv import FDivergence

LOG2 = math.log(2.0)
_SQ2PI = math.sqrt(2 * math.pi)


def _phi(u):
    return np.exp(-0.5 * u * u) / _SQ2PI


def _quad(g, a, b):
    # relative 1e-13 is at the float64 limit; quad may flag roundoff on the smooth O(1) integrands, whose
    # accuracy is pinned by tests against 40-digit mpmath (tests/analysis/test_saturation.py)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(g, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]


def _I(mu):
    if mu == 0:
        return LOG2
    def g(u):
        s = mu * u
        sp_ = np.logaddexp(0.0, s)
        return np.exp(np.log(sp_) - s / 2) * _phi(u) if sp_ > 0 else 0.0
    # the integrand lives on |u| <~ 40/mu (the e^{-|s|/2} factor) and |u| <~ 10 (phi): split at 0
    w = min(10.0, 80.0 / mu)
    a, b = _quad(g, -w, 0), _quad(g, 0, w)
    return a + b


def _K(mu):
    if mu == 0:
        return 0.0
    def g(u):
        return (mu / 2 - u) / (2 * np.cosh(mu * u / 2)) * _phi(u)
    w = min(10.0, 80.0 / mu)
    a, b = _quad(g, -w, 0), _quad(g, 0, w)
    return a + b


def log_js_gap(mu: ArrayLike) -> np.ndarray:
    """log(log 2 - JS(N(0,1) || N(mu,1))), accurate for every mu >= 0 (array in, array out)."""
    mu = np.abs(np.asarray(mu, dtype=np.float64))
    return np.vectorize(lambda m: -m * m / 8 + math.log(_I(m)))(mu)


def js_gap(mu: ArrayLike) -> np.ndarray:
    """log 2 - JS(N(0,1) || N(mu,1)) (underflows to 0 only beyond mu ~ 77; use log_js_gap there)."""
    return np.exp(log_js_gap(mu))


def js(mu: ArrayLike) -> np.ndarray:
    """JS(N(0,1) || N(mu,1)) in nats (<= log 2)."""
    return LOG2 - js_gap(mu)


def log_js_grad(mu: ArrayLike) -> np.ndarray:
    """log dJS/dmu for mu > 0 (the gradient itself underflows beyond mu ~ 77)."""
    mu = np.asarray(mu, dtype=np.float64)
    return np.vectorize(lambda m: -m * m / 8 + math.log(_K(m)) if m > 0 else -np.inf)(mu)


def js_grad(mu: ArrayLike) -> np.ndarray:
    """dJS(N(0,1) || N(mu,1))/dmu; odd in mu."""
    mu = np.asarray(mu, dtype=np.float64)
    return np.sign(mu) * np.exp(log_js_grad(np.abs(mu)))


def js_asymptotic(mu: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Large-mu forms: (log 2 - JS, dJS/dmu) ~ (sqrt(2 pi) e^{-mu^2/8}/mu, sqrt(2 pi)/4 e^{-mu^2/8})."""
    mu = np.asarray(mu, dtype=np.float64)
    e = np.exp(-mu * mu / 8)
    return _SQ2PI * e / mu, _SQ2PI / 4 * e


# --------------------------------------------------------------------- every divkit f-divergence
@cache
def _f2_mpmath(name):
    import sympy as sp

    from divkit import symbolic

    u = sp.Symbol("u", positive=True)
    f = symbolic.generator_of(name).subs(sp.Symbol("u"), u) if isinstance(name, str) else name
    f2 = sp.simplify(sp.diff(f, u, 2))
    return sp.lambdify(u, f2, "mpmath")


def generator_gradient(divergence: str | FDivergence, mu: ArrayLike, objective: str = "saturating",
                       dps: int = 30) -> np.ndarray:
    """|d loss / d mu| of the generator N(mu, 1) against data N(0, 1) under the optimal critic.

    Args:
        divergence: a divkit catalog name (or an FDivergence; its name is used) or "alpha(a)".
        mu: float or array of separations (>= 0).
        objective: "saturating" (mu E_P[r f''(r)] = dD_f/dmu) or "nonsaturating" (mu E_Q[r f''(r)]).
        dps: mpmath working precision (the expectations are computed with mpmath.quad in log-ratio space, so
            e^{mu^2}-sized values such as Pearson's do not overflow).
    Returns:
        float64 array of the gradient magnitude; values beyond float64 range are +inf (use `log10=True` in
        `generator_gradient_log10`).
    """
    return 10.0 ** generator_gradient_log10(divergence, mu, objective, dps)


def generator_gradient_log10(divergence: str | FDivergence, mu: ArrayLike, objective: str = "saturating",
                             dps: int = 30) -> np.ndarray:
    """log10 of `generator_gradient` (finite for every catalog divergence and mu in [0, 40])."""
    import mpmath as mp

    if objective not in ("saturating", "nonsaturating"):
        raise ValueError(f"objective must be 'saturating' or 'nonsaturating', got {objective!r}")
    name = divergence if isinstance(divergence, str) else divergence.name
    mus = np.asarray(mu, dtype=np.float64)
    out = np.empty(mus.shape)
    if name == "tv":  # f'' = delta(u - 1)/... : both objectives give phi(mu/2) (the densities' crossing)
        return np.log10(np.exp(-mus ** 2 / 8) / _SQ2PI)
    if name.startswith("alpha("):
        import sympy as sp

        from divkit import symbolic

        u = sp.Symbol("u", positive=True)
        a = float(name[6:-1])
        f2fn = sp.lambdify(u, sp.diff(symbolic.alpha_generator(a).subs(sp.Symbol("u"), u), u, 2), "mpmath")
    else:
        import divkit

        if name not in divkit.names():
            raise ValueError(f"unknown divergence {name!r}; expected one of {divkit.names()} or 'alpha(a)'")
        f2fn = _f2_mpmath(name)
    with mp.workdps(dps):
        for idx, m in np.ndenumerate(mus):
            m = mp.mpf(float(abs(m)))
            if m == 0:
                out[idx] = -np.inf
                continue
            # integrate over x with r = exp(-m x + m^2/2); the integrand peaks within a few units of x=0 or mu
            centre = 0 if objective == "saturating" else m

            def integrand(x):
                r = mp.exp(-m * x + m * m / 2)
                return mp.npdf(x, centre, 1) * r * f2fn(r)

            pts, peak = _breakpoints(integrand, float(m), float(centre))
            # mp.quad stops on an absolute error of 10^-dps: scaled by the peak the integral is O(1), so that
            # is a relative accuracy (unscaled, integrals of e^-112 at mu = 30 stopped at their first level,
            # 1e-6 relative per sub-interval)
            val = peak * mp.quad(lambda x: integrand(x) / peak, pts)
            out[idx] = float(mp.log10(m * abs(val))) if val != 0 else -np.inf
    return out


def _breakpoints(integrand, m, centre, drop=60.0):
    """Sub-interval ends for mp.quad of a non-negative integrand phi(x - centre) r f''(r), r = e^{-m x + m^2/2}.

    The integrand is a sum of Gaussian bumps of width ~1 (f'' a power of r on either side of r = 1 moves the
    bump to centre + j m for some j) joined by a transition of width 1/m at the crossing x = m/2. Where those
    bumps sit depends on f, so they are located: log|integrand| on a 0.25-spaced grid over centre +- (3 m + 15)
    gives the region within e^-drop of the maximum (what is outside contributes < e^-60 relative); inside it the
    ends are spaced 1 apart (one bump width: tanh-sinh on a whole 30-unit tail lost 1e-4 relative at mu = 30)
    with the crossing m/2 and m/2 +- {1, 3, 10}/m added. Returns (ends, the largest sampled value, an mpf).
    """
    import mpmath as mp

    span = 3 * m + 15
    grid = np.arange(centre - span, centre + span + 0.125, 0.25)
    vals = [integrand(mp.mpf(float(x))) for x in grid]
    logs = np.array([float(mp.log(v)) if v > 0 else -np.inf for v in vals])
    keep = np.flatnonzero(logs > np.max(logs) - drop)
    lo, hi = grid[keep[0]] - 1.0, grid[keep[-1]] + 1.0
    pts = set(np.arange(lo, hi, 1.0).tolist()) | {hi}
    h = m / 2
    pts |= {v for v in (h, *(h + k / m for k in (-10, -3, -1, 1, 3, 10))) if lo < v < hi}
    return sorted(pts), max(vals)


# ------------------------------------------------------------ Arjovsky & Bottou (2017), Figures 2 and 3
def frozen_generator_experiment(budgets: Sequence[int] = (20, 200), critic_iters: int = 1500, record_every: int = 50,
                                batch: int = 128, hidden: int = 32, lr: float = 2e-3, seed: int = 0,
                                device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
    """Train a GAN for each budget, freeze G, train a fresh critic D and record ||grad_theta L_G|| over D's steps.

    Arjovsky & Bottou 2017 (§2.2, Figs. 2-3) with a small model: data = 8 Gaussians on the unit circle (std 0.02),
    G and D are 2-layer ReLU MLPs (`hidden` units), Adam(lr, betas (0.5, 0.999)); G is first trained for
    `budget` steps with the non-saturating loss. With G frozen, a new D is trained with BCE (logits v) and every
    `record_every` iterations the generator gradient norm is recorded for
        original (saturating) loss   E_z[log(1 - D(G(z)))] = -E_z[softplus(v)],
        -log D (non-saturating) loss -E_z[log D(G(z))]      =  E_z[softplus(-v)].
    The first vanishes as D approaches optimality; the second does not (and is noisy).

    Returns:
        dict with "iters" (n_rec,), and for each budget b: "sat/b", "nonsat/b" (n_rec,) gradient norms, and
        "critic_acc/b" (n_rec,) accuracy of D on a fresh batch.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    g = torch.Generator(device="cpu").manual_seed(seed)
    angles = torch.arange(8) * (2 * math.pi / 8)
    centres = torch.stack([angles.cos(), angles.sin()], 1)

    def data(n):
        idx = torch.randint(0, 8, (n,), generator=g)
        return (centres[idx] + 0.02 * torch.randn(n, 2, generator=g)).to(device)

    def noise(n):
        return torch.randn(n, 2, generator=g).to(device)

    def mlp(out_dim):
        return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, out_dim)).to(device)

    torch.manual_seed(seed)
    out = {"iters": np.arange(0, critic_iters + 1, record_every)}
    for budget in budgets:
        G, Dnet = mlp(2), mlp(1)
        og = torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999))
        od = torch.optim.Adam(Dnet.parameters(), lr, betas=(0.5, 0.999))
        for _ in range(budget):  # plain GAN training, non-saturating generator loss
            x, z = data(batch), noise(batch)
            vd = Dnet(torch.cat([x, G(z).detach()]))
            lab = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)]).to(device)
            od.zero_grad(); F.binary_cross_entropy_with_logits(vd, lab).backward(); od.step()
            og.zero_grad(); F.softplus(-Dnet(G(noise(batch)))).mean().backward(); og.step()
        for p in G.parameters():
            p.requires_grad_(False)
        D2 = mlp(1)  # a fresh critic
        od = torch.optim.Adam(D2.parameters(), lr, betas=(0.5, 0.999))
        sat, ns, acc = [], [], []
        zfix = noise(2048)
        for it in range(critic_iters + 1):
            if it % record_every == 0:
                for p in G.parameters():
                    p.requires_grad_(True)
                norms = []
                for loss_fn in (lambda v: -F.softplus(v).mean(), lambda v: F.softplus(-v).mean()):
                    G.zero_grad()
                    loss_fn(D2(G(zfix))).backward()
                    norms.append(math.sqrt(sum(float((p.grad ** 2).sum()) for p in G.parameters())))
                sat.append(norms[0]); ns.append(norms[1])
                for p in G.parameters():
                    p.requires_grad_(False); p.grad = None
                with torch.no_grad():
                    acc.append(0.5 * float((D2(data(2048)) > 0).float().mean() + (D2(G(zfix)) < 0).float().mean()))
            if it == critic_iters:
                break
            x, z = data(batch), noise(batch)
            with torch.no_grad():
                fake = G(z)
            vd = D2(torch.cat([x, fake]))
            lab = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)]).to(device)
            od.zero_grad(); F.binary_cross_entropy_with_logits(vd, lab).backward(); od.step()
        out[f"sat/{budget}"], out[f"nonsat/{budget}"], out[f"critic_acc/{budget}"] = map(np.array, (sat, ns, acc))
    return out
