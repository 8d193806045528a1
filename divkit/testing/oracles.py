"""Independent reference computations ("oracles") to test divergence code and estimators against.

They deliberately share no code with what they check: quadrature is scipy.integrate.quad written here in log
space (not divkit.numeric), the discrete divergence uses float64 and the limits written out below (not
FDivergence.integrand), the conjugate is a brute-force maximum over a grid refined by a bounded scalar search
(not the closed forms in divkit.catalog or the LLT in divkit.legendre).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .._typing import Array
    from ..fdiv import FDivergence

__all__ = ["quadrature_divergence", "discrete_divergence", "brute_force_conjugate", "check_fenchel_young",
           "check_lower_bound", "default_u_grid"]


def _np64(x):
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", torch.float64).numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x, dtype=np.float64)


def _f64(div, u):
    """f(u) in float64 numpy, with f(0) taken from the divergence's stated limit (f(0) may be a 0·log 0)."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        out = np.asarray(div.f(u), dtype=np.float64)
    return np.where(u == 0, div.f_at_zero, out)


def default_u_grid(n: int = 20001, lo: float = 1e-9, hi: float = 1e9) -> np.ndarray:
    """u = 0 and u = 1 (where generators like TV have their kink) with a geometric grid on [lo, hi]."""
    return np.unique(np.concatenate([[0.0, 1.0], np.geomspace(lo, hi, n - 2)]))


def quadrature_divergence(p_logpdf: Callable[[float], float], q_logpdf: Callable[[float], float], div: FDivergence,
                          lo: float = -math.inf, hi: float = math.inf, *, epsabs: float = 1e-12,
                          epsrel: float = 1e-10, limit: int = 500, points: Iterable[float] | None = None) -> float:
    """D_f(P||Q) = ∫ q(x) f(p(x)/q(x)) dx by adaptive quadrature (scipy.integrate.quad), in log space.

    The integrand is formed as exp(log q)·f(exp(log p − log q)), so the density ratio never divides two
    underflowed numbers; where q underflows (log q = −inf) and p does not, the mass of P there contributes
    p·lim_{u→∞} f(u)/u (`div.f_over_u_at_inf`), and where p underflows the contribution is q·f(0).

    Args:
      p_logpdf, q_logpdf: callables x (float) -> log density (float, may be −inf).
      div: FDivergence (only `f`, `f_at_zero`, `f_over_u_at_inf` are used).
      lo, hi: integration limits (±inf allowed).
      points: optional break points (e.g. the means) passed to quad on finite intervals.
    Returns:
      float, nats. Raises ValueError if quad reports an error estimate above 1e-6·(1 + |value|).
    """
    from scipy import integrate

    def integrand(x):
        lp, lq = float(p_logpdf(x)), float(q_logpdf(x))
        if lp == -math.inf and lq == -math.inf:
            return 0.0
        if lq == -math.inf:
            return math.exp(lp) * div.f_over_u_at_inf if div.f_over_u_at_inf != math.inf else math.inf
        if lp == -math.inf:
            return math.exp(lq) * div.f_at_zero if div.f_at_zero != math.inf else math.inf
        ratio = math.exp(min(lp - lq, 700.0))
        if lp - lq > 700.0:  # f(u)/u at u → ∞ weights p
            fu_over_u = float(_f64(div, np.array([ratio]))[0]) / ratio
            return math.exp(lp) * fu_over_u
        return math.exp(lq) * float(_f64(div, np.array([ratio]))[0])

    kw: dict[str, Any] = dict(epsabs=epsabs, epsrel=epsrel, limit=limit)
    if points is not None and math.isfinite(lo) and math.isfinite(hi):
        kw["points"] = list(points)
    val, err = integrate.quad(integrand, lo, hi, **kw)
    if not (err <= 1e-6 * (1.0 + abs(val))):
        raise ValueError(f"quadrature_divergence: quad error estimate {err:.3g} too large for value {val:.6g}")
    return val


def discrete_divergence(p: Array, q: Array, div: FDivergence) -> float:
    """D_f(P||Q) = Σ_i q_i f(p_i/q_i) in float64 with explicit limits (brute force, one term at a time).

    Limits: p_i = q_i = 0 contributes 0; q_i = 0 < p_i contributes p_i·lim_{u→∞} f(u)/u (+inf for most f);
    p_i = 0 < q_i contributes q_i·f(0). p, q: 1-D probability vectors (not renormalised).
    """
    p, q = _np64(p).reshape(-1), _np64(q).reshape(-1)
    if p.shape != q.shape:
        raise ValueError(f"discrete_divergence: p and q must have the same length, got {p.size} and {q.size}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise ValueError("discrete_divergence: p and q must be finite and non-negative")
    total = math.fsum(_term(div, float(pi), float(qi)) for pi, qi in zip(p, q))
    return total


def _term(div, pi, qi):
    if pi == 0.0 and qi == 0.0:
        return 0.0
    if qi == 0.0:
        return pi * div.f_over_u_at_inf if div.f_over_u_at_inf != math.inf else math.inf
    if pi == 0.0:
        return qi * div.f_at_zero if div.f_at_zero != math.inf else math.inf
    return qi * float(_f64(div, np.array([pi / qi]))[0])


def brute_force_conjugate(f: FDivergence | Callable[[np.ndarray], ArrayLike], t: Array,
                          u_grid: Array | None = None, *, refine: bool = True) -> np.ndarray:
    """f*(t) = sup_{u ∈ grid} (t·u − f(u)) by brute force, optionally refined between grid neighbours.

    Args:
      f: FDivergence (uses f and its f(0) limit) or a callable u -> f(u) (numpy float64).
      t: array of slopes (any shape).
      u_grid: 1-D sorted grid of u ≥ 0 (default `default_u_grid()`: 0, 1 and 1e-9 … 1e9, geometric).
      refine: if True, maximise t·u − f(u) on [u_{k−1}, u_{k+1}] around the grid argmax k with
        scipy.optimize.minimize_scalar (bounded); for convex f the objective is concave, so this finds the sup
        over the grid's hull to ~1e-12 relative when the sup is attained inside the grid.
    Returns:
      float64 numpy array of t's shape; always a lower bound of the true sup over u ≥ 0 (up to rounding).
    """
    from scipy.optimize import minimize_scalar

    u = default_u_grid() if u_grid is None else _np64(u_grid).reshape(-1)
    if hasattr(f, "f") and hasattr(f, "f_at_zero"):
        div = f

        def fn(x):
            return _f64(div, x)
    else:
        def fn(x):
            with np.errstate(all="ignore"):
                return np.asarray(f(np.asarray(x, dtype=np.float64)), dtype=np.float64)
    fu = fn(u)
    t = _np64(t)
    flat = t.reshape(-1)
    out = np.empty(flat.size)
    for j, tj in enumerate(flat):
        with np.errstate(all="ignore"):
            vals = tj * u - fu
        vals = np.where(np.isnan(vals), -np.inf, vals)
        k = int(np.argmax(vals))
        best = vals[k]
        if refine and best > -np.inf and 0 < k < u.size - 1:
            res = minimize_scalar(lambda x: -(tj * x - float(fn(np.array([x]))[0])), bounds=(u[k - 1], u[k + 1]),
                                  method="bounded", options={"xatol": 1e-14 * max(1.0, u[k + 1])})
            best = max(best, -float(res.fun))
        out[j] = best
    return out.reshape(t.shape)


def check_fenchel_young(div: FDivergence, u: Array, t: Array, rtol: float = 1e-10, atol: float = 1e-12
                        ) -> np.ndarray:
    """Assert the Fenchel–Young inequality f(u) + f*(t) ≥ u·t (elementwise, u ≥ 0, t anywhere).

    Tolerance: violations smaller than atol + rtol·(|f(u)| + |f*(t)| + |u·t|) are rounding. Raises
    AssertionError naming the worst (u, t) with f(u), f*(t) and the gap.
    """
    u, t = np.broadcast_arrays(_np64(u), _np64(t))
    fu = _f64(div, u)
    with np.errstate(all="ignore"):
        ft = _np64(div.conjugate(t))
        gap = fu + ft - u * t
    scale = atol + rtol * (np.abs(fu) + np.abs(np.where(np.isfinite(ft), ft, 0.0)) + np.abs(u * t))
    bad = np.isnan(gap) | (gap < -scale)  # NaN counts as a failure
    if np.any(bad):
        i = np.flatnonzero(bad.reshape(-1))[0]
        uf, tf = u.reshape(-1)[i], t.reshape(-1)[i]
        raise AssertionError(
            f"Fenchel–Young violated for {getattr(div, 'name', div)}: f(u) + f*(t) − u·t = {gap.reshape(-1)[i]!r} < "
            f"−{scale.reshape(-1)[i]:.3g} at u = {uf!r}, t = {tf!r} (f(u) = {fu.reshape(-1)[i]!r}, "
            f"f*(t) = {ft.reshape(-1)[i]!r}); {int(bad.sum())} of {bad.size} points fail. "
            "A conjugate that is too small, or an f that is not convex, does this.")
    return gap


def check_lower_bound(estimate: float, truth: float, stderr: float, z: float = 3.0) -> bool:
    """Assert that `estimate` is not significantly above `truth` (one-sided band for a lower-bound estimator).

    Passes iff estimate ≤ truth + z·stderr. With a Gaussian estimate of a valid lower bound, a false failure has
    probability ≤ Φ(−z) (0.13% at z = 3). Raises AssertionError with the excess in units of stderr.
    """
    est, tr, se = float(estimate), float(truth), float(stderr)
    if not (se >= 0) or not math.isfinite(est) or math.isnan(tr):
        raise AssertionError(f"check_lower_bound: need finite estimate and stderr ≥ 0, got estimate={est}, "
                             f"truth={tr}, stderr={se}")
    if est > tr + z * se:
        k = (est - tr) / se if se > 0 else math.inf
        raise AssertionError(f"estimate {est:.6g} exceeds the true value {tr:.6g} by {est - tr:.3g} = {k:.2f} "
                             f"standard errors (allowed z = {z}); a lower bound estimator must not do this")
    return True
