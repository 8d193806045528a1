"""Hypothesis strategies for testing divergence code and estimators (imports hypothesis; load on demand).

    from hypothesis import given
    from divkit.testing import probability_pairs, divergences

    @given(probability_pairs(absolutely_continuous=True), divergences())
    def test_my_estimator(pq, div): ...

Every strategy returns plain numpy values (float64 unless `dtype` says otherwise) or FDivergence objects.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..catalog import alpha as _alpha
from ..catalog import get as _get
from ..catalog import names as _names
from ..fdiv import FDivergence, Interval

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, DTypeLike

__all__ = ["probability_vectors", "probability_pairs", "gaussian_pairs", "divergences", "alpha_values",
           "random_generator_divergences", "mixture_divergence", "score_matrices"]


def _weights(allow_zeros):
    pos = st.floats(1e-12, 1.0, allow_nan=False, allow_infinity=False)
    return st.one_of(st.just(0.0), pos) if allow_zeros else pos


@st.composite
def _prob_vector(draw, size, allow_zeros, dtype):
    w = np.asarray(draw(st.lists(_weights(allow_zeros), min_size=size, max_size=size)), dtype=np.float64)
    if not np.any(w > 0):  # at least one atom
        w[draw(st.integers(0, size - 1))] = 1.0
    return (w / w.sum()).astype(dtype)


def _size(n, min_size, max_size):
    if n is not None:
        if int(n) < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        return st.just(int(n))
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 ≤ min_size ≤ max_size, got {min_size}, {max_size}")
    return st.integers(min_size, max_size)


def probability_vectors(n: int | None = None, min_size: int = 1, max_size: int = 10, allow_zeros: bool = True,
                        dtype: DTypeLike = np.float64) -> st.SearchStrategy[np.ndarray]:
    """1-D probability vectors (non-negative, sum 1 to rounding), with exact zeros if `allow_zeros`.

    Args: n: fixed length (overrides min_size/max_size); dtype: numpy float dtype of the result.
    """
    return _size(n, min_size, max_size).flatmap(lambda k: _prob_vector(k, allow_zeros, dtype))


@st.composite
def probability_pairs(draw: st.DrawFn, n: int | None = None, min_size: int = 1, max_size: int = 10,
                      allow_zeros: bool = True, dtype: DTypeLike = np.float64,
                      absolutely_continuous: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(p, q): two probability vectors of the same length.

    absolutely_continuous=True forces p_i = 0 wherever q_i = 0 (P ≪ Q), so divergences with
    f_over_u_at_inf = +inf (KL, Pearson, ...) are finite.
    """
    k = draw(_size(n, min_size, max_size))
    q = draw(_prob_vector(k, allow_zeros, np.float64))
    p = draw(_prob_vector(k, allow_zeros, np.float64))
    if absolutely_continuous:
        p = np.where(q > 0, p, 0.0)
        if not np.any(p > 0):
            p = q.copy()
        p = p / p.sum()
    return p.astype(dtype), q.astype(dtype)


def gaussian_pairs(mu_range: tuple[float, float] = (-3.0, 3.0), sigma_range: tuple[float, float] = (0.25, 4.0)
                   ) -> st.SearchStrategy[tuple[float, float, float, float]]:
    """(mu1, sigma1, mu2, sigma2) for P = N(mu1, sigma1²), Q = N(mu2, sigma2²), within the given ranges."""
    if not (sigma_range[0] > 0 and sigma_range[0] <= sigma_range[1]):
        raise ValueError(f"sigma_range must be 0 < lo ≤ hi, got {sigma_range}")
    mu = st.floats(*mu_range, allow_nan=False, allow_infinity=False)
    sd = st.floats(*sigma_range, allow_nan=False, allow_infinity=False)
    return st.tuples(mu, sd, mu, sd)


def alpha_values() -> st.SearchStrategy[float]:
    """a for the α family: negative, in (0, 1) and > 1, kept 0.05 away from the excluded 0 and 1."""
    return st.one_of(st.floats(-3.0, -0.05), st.floats(0.05, 0.95), st.floats(1.05, 4.0))


def divergences(include_alpha: bool = True) -> st.SearchStrategy[FDivergence]:
    """Registered divergences (FDivergence objects), plus α(a) members with a from `alpha_values()`."""
    registered = st.sampled_from([_get(n) for n in _names()])
    if not include_alpha:
        return registered
    return st.one_of(registered, alpha_values().map(_alpha))


def _numpy_world(x):
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return False
    except ImportError:  # pragma: no cover
        pass
    return True


def _sum_interval(parts):
    lo = sum(w * iv.lo for w, iv in parts)
    hi = sum(w * iv.hi for w, iv in parts)
    return Interval(lo, hi, all(iv.lo_closed for _, iv in parts) and math.isfinite(lo),
                    all(iv.hi_closed for _, iv in parts) and math.isfinite(hi))


def mixture_divergence(weights: Sequence[float], members: Sequence[str | FDivergence], *,
                       u_grid: ArrayLike | None = None) -> FDivergence:
    """The f-divergence of f = Σ_i w_i f_i (w_i > 0): convex, so a valid generator; D_f = Σ_i w_i D_{f_i}.

    f and f' are the weighted sums. The conjugate (an infimal convolution of the f_i*) has no closed form:
    `conjugate` is the numeric Legendre transform (divkit.legendre) of f on `u_grid` (default: u = 0 and a
    geometric grid of 200 000 points on [1e-9, 1e9], plus u = 1), +inf outside dom f* = Σ w_i dom f_i* (Minkowski sum).
    Accuracy: a lower bound of the exact f*, relative error ≈ ½ f''(u*)·(u*·δ)² / |f*| with δ ≈ 2e-4 the grid's
    relative spacing, good to ~1e-6 where the maximiser u* = (f')^{-1}(t) lies in [1e-9, 1e9]; near the end of
    dom f* where u* leaves the grid it is too small. The f-GAN pieces use the generic parametrisation
    T = f'(e^v): activation(v) = p_term(v) = f'(e^v), q_term(v) = e^v f'(e^v) − f(e^v) (exact, but not
    overflow-safe for |v| ≳ 700, unlike the registered fused terms).
    """
    from ..legendre import legendre_transform

    ws = [float(w) for w in weights]
    divs = [_get(m) for m in members]
    if len(ws) != len(divs) or not divs:
        raise ValueError("mixture_divergence: need one weight per member and at least one member")
    if not all(w > 0 and math.isfinite(w) for w in ws):
        raise ValueError(f"mixture_divergence: weights must be positive and finite, got {ws}")
    pairs = list(zip(ws, divs))
    # u = 1 is on the grid: TV-like generators have their kink there
    grid = (np.unique(np.concatenate([[0.0, 1.0], np.geomspace(1e-9, 1e9, 200_000)])) if u_grid is None
            else np.asarray(u_grid, dtype=np.float64))
    dom = _sum_interval([(w, d.conjugate_domain) for w, d in pairs])
    crit = _sum_interval([(w, d.critic_range) for w, d in pairs])

    def _sum(attr, x):
        out = None
        for w, d in pairs:
            term = w * getattr(d, attr)(x)
            out = term if out is None else out + term
        return out

    def f(u):
        return _sum("f", u)

    def f_prime(u):
        return _sum("f_prime", u)

    f0 = sum(w * d.f_at_zero for w, d in pairs)
    with np.errstate(all="ignore"):
        fg = np.asarray(f(grid[1:]), dtype=np.float64)
    fgrid = np.concatenate([[f0], fg])
    fgrid = np.where(np.isnan(fgrid), np.inf, fgrid)

    def conjugate(t):
        if _numpy_world(t):
            tt = np.asarray(t, dtype=np.float64)
            val = legendre_transform(grid, fgrid, np.where(np.isfinite(tt), tt, 0.0))
            return np.where(dom.contains(tt), val, np.inf).astype(np.result_type(np.asarray(t).dtype, np.float32)
                                                                   if np.issubdtype(np.asarray(t).dtype, np.floating)
                                                                   else np.float64)
        import torch

        inside = dom.contains(t)
        safe = torch.where(inside, t, torch.zeros_like(t))
        val = legendre_transform(torch.as_tensor(grid, dtype=t.dtype, device=t.device),
                                 torch.as_tensor(fgrid, dtype=t.dtype, device=t.device), safe)
        return torch.where(inside, val, torch.full_like(val, math.inf))

    def activation(v):
        from .._array import ops

        o = ops(v)
        return f_prime(o.exp(o.asarray(v)))

    def q_term(v):
        from .._array import ops

        o = ops(v)
        r = o.exp(o.asarray(v))
        return r * f_prime(r) - f(r)

    name = "mix(" + " + ".join(f"{w:.3g}·{d.name}" for w, d in pairs) + ")"
    return FDivergence(name, f, f_prime, conjugate, dom, crit, activation, activation, q_term,
                       threshold=sum(w * d.threshold for w, d in pairs),
                       f_at_one=sum(w * d.f_at_one for w, d in pairs), f_at_zero=f0,
                       f_over_u_at_inf=sum(w * d.f_over_u_at_inf for w, d in pairs),
                       description="positive mixture of registered generators (numeric conjugate)",
                       params={"weights": tuple(ws), "members": tuple(d.name for d in divs)})


@st.composite
def random_generator_divergences(draw: st.DrawFn, max_terms: int = 3, include_alpha: bool = True) -> FDivergence:
    """Random convex generators f = Σ w_i f_i (1 to max_terms registered/α members, w_i ∈ [0.1, 3]).

    See `mixture_divergence` for what the resulting FDivergence provides (numeric conjugate).
    """
    k = draw(st.integers(1, max_terms))
    members = draw(st.lists(divergences(include_alpha), min_size=k, max_size=k))
    w = draw(st.lists(st.floats(0.1, 3.0), min_size=k, max_size=k))
    return mixture_divergence(w, members)


def score_matrices(k: int | None = None, dtype: DTypeLike = np.float64, scale: float = 10.0, min_k: int = 2,
                   max_k: int = 16) -> st.SearchStrategy[np.ndarray]:
    """(k, k) critic score matrices S (S_ij = critic(x_i, y_j); diagonal = joint pairs) with |S| ≤ scale."""
    ks = st.just(int(k)) if k is not None else st.integers(min_k, max_k)
    width: Literal[32, 64] = 32 if np.dtype(dtype) == np.float32 else 64
    elems = st.floats(-scale, scale, allow_nan=False, allow_infinity=False, width=width)
    return ks.flatmap(lambda kk: hnp.arrays(dtype, (kk, kk), elements=elems))
