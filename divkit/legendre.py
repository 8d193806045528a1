"""Numeric Fenchel conjugate on grids: the linear-time discrete Legendre transform (LLT).

Given samples f_i = f(u_i) on a grid u_0 < u_1 < ... < u_{n−1} and slopes t_0 ≤ ... ≤ t_{m−1},

    f*(t_j) = max_i (t_j · u_i − f_i),

the conjugate of the piecewise-linear / discrete function on the grid (exactly the brute-force maximum; an
approximation of the continuous f*(t) = sup_u (t·u − f(u)) whose error is that of the grid). Algorithm
(Lucet, "Faster than the fast Legendre transform, the linear-time Legendre transform", Numer. Algorithms
16, 1997, §3):

1. Lower convex hull of the points (u_i, f_i). Only hull vertices can maximise t·u − f(u) (a point above the
   hull is beaten by one of its hull neighbours for every t). We first prune points above the chord of their
   neighbours in a few vectorised passes (a convex f sampled on a grid loses nothing and is done), then finish
   with Andrew's monotone chain, one pass over the (already sorted) remaining points: O(n).
2. The hull's edge slopes s_0 < s_1 < ... are increasing; vertex h_k is the maximiser for t ∈ [s_{k−1}, s_k].
3. Merge the sorted slopes with the sorted t (a stable sort of two sorted runs is one timsort merge, O(n + m)):
   the number of slopes ≤ t_j is the index of the maximising vertex.

Complexity: O(n + m) time and memory for sorted t; unsorted t is sorted first (argsort, O(m log m)) and the
result is put back in the input order. Values are formed as t·u_{i*} − f_{i*} in the input's own world
(numpy or torch), so torch inputs get autograd: ∂f*/∂t = u_{i*} (the maximiser) and ∂f*/∂f_i = −1 at i = i*.

+inf entries of fu (points outside dom f) are ignored; if all are +inf, f* = −inf.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from ._typing import Array

__all__ = ["legendre_transform", "legendre_argmax"]

_PRUNE_PASSES = 4


def _to_numpy64(x, name):
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"legendre_transform: {name} must be real, got dtype {x.dtype}")
        return x.detach().to("cpu", torch.float64).numpy()
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
                                 or a.dtype == bool):
        raise TypeError(f"legendre_transform: {name} must be a real numeric array, got dtype {a.dtype}")
    return a.astype(np.float64)


def _validate(u, fu, t):
    u64, f64, t64 = _to_numpy64(u, "u"), _to_numpy64(fu, "fu"), _to_numpy64(t, "t")
    if u64.ndim != 1:
        raise ValueError(f"legendre_transform: u must be 1-D (the grid), got shape {u64.shape}")
    if f64.shape != u64.shape:
        raise ValueError(f"legendre_transform: fu must have the shape of u {u64.shape}, got {f64.shape}")
    if u64.size == 0:
        raise ValueError("legendre_transform: u must contain at least one point")
    if not np.all(np.isfinite(u64)):
        raise ValueError("legendre_transform: u must be finite (no NaN or ±inf)")
    if np.any(np.diff(u64) <= 0):
        i = int(np.argmax(np.diff(u64) <= 0))
        raise ValueError("legendre_transform: u must be strictly increasing (sort it, drop duplicates keeping the "
                         f"smallest fu); u[{i}] = {u64[i]!r} ≥ u[{i + 1}] = {u64[i + 1]!r}")
    if np.any(np.isnan(f64)) or np.any(f64 == -np.inf):
        raise ValueError("legendre_transform: fu must not contain NaN or −inf (use +inf for points outside dom f)")
    if not np.all(np.isfinite(t64)):
        raise ValueError("legendre_transform: t must be finite (no NaN or ±inf)")
    return u64, f64, t64


def _lower_hull(x, y):
    """Indices (into x) of the lower convex hull vertices of points with strictly increasing x. O(n)."""
    idx = np.arange(x.size)
    # vectorised pruning: drop interior points on or above the chord of their neighbours (never hull vertices
    # strictly, and collinear points do not change the maximum). Each pass is O(n); at most _PRUNE_PASSES.
    for _ in range(_PRUNE_PASSES):
        if idx.size < 3:
            return idx
        xs, ys = x[idx], y[idx]
        dx0, dy0 = xs[1:-1] - xs[:-2], ys[1:-1] - ys[:-2]
        dx1, dy1 = xs[2:] - xs[1:-1], ys[2:] - ys[1:-1]
        # left slope ≥ right slope  <=>  dy0·dx1 ≥ dy1·dx0 (dx > 0)
        bad = dy0 * dx1 >= dy1 * dx0
        if not bad.any():
            return idx
        keep = np.ones(idx.size, dtype=bool)
        keep[1:-1] = ~bad
        idx = idx[keep]
    # Andrew's monotone chain on what remains (already sorted by x): amortised O(n).
    xs, ys = x[idx].tolist(), y[idx].tolist()
    hull: list[int] = []
    for k in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (ys[b] - ys[a]) * (xs[k] - xs[b]) >= (ys[k] - ys[b]) * (xs[b] - xs[a]):
                hull.pop()
            else:
                break
        hull.append(k)
    return idx[np.asarray(hull, dtype=np.intp)]


def _argmax_sorted(u64, f64, t_sorted):
    """For sorted t, the grid index maximising t·u_i − f_i (one maximiser), via hull + merge."""
    finite = np.flatnonzero(np.isfinite(f64))
    if finite.size == 0:
        return None
    h = finite[_lower_hull(u64[finite], f64[finite])]
    if h.size == 1:
        return np.full(t_sorted.shape, h[0], dtype=np.intp)
    # increasing; a subnormal grid spacing may overflow a slope to ±inf, which still orders correctly
    with np.errstate(over="ignore"):
        slopes = np.diff(f64[h]) / np.diff(u64[h])
    # rank of each t among the slopes by merging two sorted runs (stable timsort: one linear merge)
    merged = np.argsort(np.concatenate([slopes, t_sorted]), kind="stable")
    is_t = merged >= slopes.size
    # slopes placed before a t (ties: slope first, stable) = its merged position − t's own index
    pos = np.flatnonzero(is_t) - np.arange(t_sorted.size)
    order_t = merged[is_t] - slopes.size  # which t sits there (identity for sorted t; guards ties)
    k = np.empty(t_sorted.size, dtype=np.intp)
    k[order_t] = pos
    return h[k]


def legendre_argmax(u: Array, fu: Array, t: Array) -> np.ndarray | None:
    """Index i*(t) into the grid with f*(t) = t·u[i*] − fu[i*] (numpy intp array of t's shape).

    Same inputs and validation as `legendre_transform`. Returns None when every fu is +inf.
    """
    u64, f64, t64 = _validate(u, fu, t)
    flat = t64.reshape(-1)
    if flat.size > 1 and np.any(np.diff(flat) < 0):
        order = np.argsort(flat, kind="stable")
        ks = _argmax_sorted(u64, f64, flat[order])
        if ks is None:
            return None
        k = np.empty_like(ks)
        k[order] = ks
    else:
        k = _argmax_sorted(u64, f64, flat)
        if k is None:
            return None
    return k.reshape(t64.shape)


def legendre_transform(u: Array, fu: Array, t: Array) -> Array:
    """Discrete Legendre–Fenchel transform f*(t) = max_i (t·u_i − f(u_i)) in linear time (Lucet 1997).

    Args:
      u: (n,) strictly increasing finite grid (numpy or torch).
      fu: (n,) values f(u_i); +inf marks points outside dom f (ignored); NaN / −inf rejected.
      t: any shape, finite slopes. Sorted (flattened, increasing) t costs O(n + m); otherwise it is argsorted
        first, O(n + m log m), and the result returned in the input order.

    Returns:
      f*(t), shape of t. numpy in -> numpy float64 (float32 if t is float32); any torch input -> torch tensor with
      t's dtype/device (t promoted to the common floating dtype of u, fu, t), differentiable in t and fu (and u):
      the value is t·u[i*] − fu[i*] with the maximiser i* found on float64 copies.

    The result equals the brute-force maximum over the grid (to rounding of one product t·u − f). As an
    approximation of the continuous conjugate, it is a lower bound, exact where the maximiser u*(t) lies on
    the grid; t outside [slope of the first hull edge, slope of the last] is maximised at a grid end (the
    continuous f* may be larger, or +inf, there: widen the grid).

    Example:
      >>> import numpy as np
      >>> u = np.linspace(-2, 2, 401)
      >>> ft = legendre_transform(u, 0.5 * u**2, np.array([-1.0, 0.0, 1.5]))  # (u²/2)* = t²/2
      >>> np.allclose(ft, [0.5, 0.0, 1.125])
      True
    """
    k = legendre_argmax(u, fu, t)
    if any(isinstance(x, torch.Tensor) for x in (u, fu, t)):
        tens = [x for x in (u, fu, t) if isinstance(x, torch.Tensor)]
        dtype = tens[0].dtype
        for x in tens[1:]:
            dtype = torch.promote_types(dtype, x.dtype)
        if not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        dev = tens[0].device
        tt = torch.as_tensor(t, dtype=dtype, device=dev) if not isinstance(t, torch.Tensor) else t.to(dtype)
        if k is None:
            return torch.full_like(tt, -math.inf)
        uu = torch.as_tensor(u, dtype=dtype, device=dev) if not isinstance(u, torch.Tensor) else u.to(dtype)
        ff = torch.as_tensor(fu, dtype=dtype, device=dev) if not isinstance(fu, torch.Tensor) else fu.to(dtype)
        kk = torch.as_tensor(k, device=tt.device)
        return tt * uu[kk] - ff[kk]
    u64, f64 = np.asarray(u, dtype=np.float64), np.asarray(fu, dtype=np.float64)
    t_arr = np.asarray(t)
    out_dtype = t_arr.dtype if np.issubdtype(t_arr.dtype, np.floating) else np.float64
    if k is None:
        return np.full(t_arr.shape, -np.inf, dtype=out_dtype)
    return (t_arr.astype(np.float64) * u64[k] - f64[k]).astype(out_dtype)
