"""Asymmetry of divergences: KL integrands and best single-Gaussian fits to a 1-D Gaussian mixture.

P is the target (a mixture sum_k w_k N(m_k, s_k^2)), Q = N(m, s^2) the fit; D_f(P || Q) = int q f(p/q) dx is
computed by the trapezoid rule on a fixed fine grid (20001 points covering every component +- 12 std) using
divkit's `integrand(p, q)` (0-limits handled), and minimised over (m, log s) by Nelder-Mead from several starts.
"kl" (forward, KL(P||Q)) is mode covering and is minimised by moment matching; "reverse_kl" (KL(Q||P)) is mode
seeking: for P = 1/2 N(-a,1) + 1/2 N(a,1) it locks onto one mode when a is large (REFERENCE.md §4).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

import divkit


def normal_pdf(x, m, s):
    return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))


def kl_integrands(x, m1=0.0, s1=1.0, m2=2.0, s2=1.0):
    """(p log(p/q), q log(q/p)) at x for p = N(m1, s1^2), q = N(m2, s2^2); they integrate to KL(p||q), KL(q||p)."""
    p, q = normal_pdf(x, m1, s1), normal_pdf(x, m2, s2)
    lr = -0.5 * ((x - m1) / s1) ** 2 + 0.5 * ((x - m2) / s2) ** 2 + np.log(s2 / s1)  # log p/q, no underflow
    return p * lr, -q * lr


def mixture_pdf(x, means, stds=1.0, weights=None):
    means = np.atleast_1d(np.asarray(means, dtype=float))
    stds = np.broadcast_to(np.asarray(stds, dtype=float), means.shape)
    w = np.full(means.shape, 1 / means.size) if weights is None else np.asarray(weights, float) / np.sum(weights)
    return sum(wk * normal_pdf(x, mk, sk) for wk, mk, sk in zip(w, means, stds))


def fit_gaussian(divergence, means=(-3.0, 3.0), stds=1.0, weights=None, starts=None):
    """Best N(m, s^2) under D_f(P || Q): returns dict(m, s, D, divergence)."""
    d = divergence if isinstance(divergence, divkit.FDivergence) else divkit.get(divergence)
    means = np.atleast_1d(np.asarray(means, float))
    smax = float(np.max(stds))
    x = np.linspace(means.min() - 12 * smax - 5, means.max() + 12 * smax + 5, 20001)
    p = mixture_pdf(x, means, stds, weights)

    def objective(theta):
        m, logs = theta
        q = normal_pdf(x, m, np.exp(logs))
        with np.errstate(all="ignore"):
            val = np.trapezoid(d.integrand(p, q), x)
        return val if np.isfinite(val) else 1e300

    mom_m = float(np.trapezoid(x * p, x))
    mom_s = float(np.sqrt(np.trapezoid((x - mom_m) ** 2 * p, x)))
    starts = starts or [(mom_m, np.log(mom_s))] + [(mk, np.log(float(np.min(stds)))) for mk in means]
    best = None
    for s0 in starts:
        r = optimize.minimize(objective, np.asarray(s0, float), method="Nelder-Mead",
                              options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000})
        if best is None or r.fun < best.fun:
            best = r
    return {"divergence": d.name, "m": float(best.x[0]), "s": float(np.exp(best.x[1])), "D": float(best.fun)}


def fit_table(names=None, means=(-3.0, 3.0), stds=1.0):
    """[(name, m*, s*, D*)] for every catalog divergence (or `names`)."""
    names = names or divkit.names()
    return [tuple(fit_gaussian(n, means, stds)[k] for k in ("divergence", "m", "s", "D")) for n in names]
