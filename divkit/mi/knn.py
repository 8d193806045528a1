"""Non-neural baseline: the Kraskov-Stögbauer-Grassberger k-nearest-neighbour MI estimator.

Kraskov, Stögbauer & Grassberger 2004, "Estimating mutual information", Phys. Rev. E 69, 066138, estimator 1
(their eq. 8), with the max-norm in every space:

    Î(X; Y) = ψ(k) + ψ(N) − ⟨ ψ(n_x(i) + 1) + ψ(n_y(i) + 1) ⟩_i

ε_i = the distance from z_i = (x_i, y_i) to its k-th nearest neighbour in the joint space, with
‖z − z'‖ = max(‖x − x'‖_∞, ‖y − y'‖_∞); n_x(i) = #{j ≠ i : ‖x_j − x_i‖_∞ < ε_i} (strictly less), n_y(i)
likewise; ψ the digamma function. No training, no held-out split; biased low at high MI or high dimension
(the k-NN balls stop being local), accurate for low-dimensional smooth densities. Cost: k-d tree queries,
O(N log N) at low dimension, approaching O(N²) at d ≈ 20+ per variable.
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

if TYPE_CHECKING:
    from .._typing import Array

__all__ = ["ksg"]


def _samples(a, name):
    arr = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, dim); got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf; remove or impute those rows first")
    return arr


def ksg(x: Array, y: Array, k: int = 3, workers: int = 1) -> float:
    """KSG estimator 1 of I(X; Y) in nats (module docstring), from paired samples.

    Args:
      x, y: (n, dx) and (n, dy) (1-D allowed), numpy or torch, finite. Exact ties (discrete data) make the
        strict counts ambiguous: add tiny noise first, as Kraskov et al. advise.
      k: neighbours (≥ 1, < n); Kraskov et al. use 2-4. workers: threads for the k-d tree queries.
    Returns: a float (can be slightly negative for independent data: the estimator is unbiased at I = 0 only
    in expectation).
    """
    X, Y = _samples(x, "x"), _samples(y, "y")
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"x and y must hold the same number of pairs; got {n} and {Y.shape[0]}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n = {n}; got {k!r}")
    Z = np.hstack([X, Y])
    # the k-th neighbour other than the point itself: query k + 1 (the point is its own 0-th neighbour)
    eps = cKDTree(Z).query(Z, k=[k + 1], p=np.inf, workers=workers)[0][:, 0]
    r = np.nextafter(eps, 0.0)                  # strictly closer than ε_i: balls of radius just below it
    nx = cKDTree(X).query_ball_point(X, r, p=np.inf, return_length=True, workers=workers) - 1
    ny = cKDTree(Y).query_ball_point(Y, r, p=np.inf, return_length=True, workers=workers) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1)))
