"""Input checks shared by divkit: probability vectors, positive scales, array worlds.

Every check raises `ValueError` (bad values or shapes) or `TypeError` (wrong kind of object) with a message
that names the argument, says what was expected and how to fix it (torch `distributions/constraints.py`
style). Checks return the input coerced to a floating array of its own world (numpy stays numpy, torch
stays torch, dtype and device kept).

Tolerance policy for "sums to 1" (`sum_tolerance`): |Σ_i p_i − 1| ≤ tol with
  tol = 1e-6 for float64, 1e-4 for float32, 1e-2 for float16 / bfloat16.
float64 vectors normalised by `p / p.sum()` are within a few eps (≈1e-15) of 1; 1e-6 still accepts vectors
written with 6-7 significant digits. float32 has eps ≈ 1.2e-7 and long sums drift by ≈ eps·√n, hence 1e-4.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from ._typing import Array

_SUM_TOL = {
    np.dtype(np.float64): 1e-6,
    np.dtype(np.float32): 1e-4,
    np.dtype(np.float16): 1e-2,
    torch.float64: 1e-6,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
}


def sum_tolerance(dtype: DTypeLike | torch.dtype) -> float:
    """Allowed |Σp − 1| for a probability vector of this dtype (see the module docstring)."""
    if isinstance(dtype, torch.dtype):
        return _SUM_TOL.get(dtype, 1e-6)
    return _SUM_TOL.get(np.dtype(dtype), 1e-6)


def as_array(x: object, name: str) -> Array:
    """numpy array / torch tensor (floating) from an array-like; lists and scalars become float64 numpy."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor")
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    if isinstance(x, (np.ndarray, list, tuple, float, int, np.floating, np.integer)) and not isinstance(x, bool):
        a = np.asarray(x)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
                                     or a.dtype == bool):
            raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
        return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)
    raise TypeError(f"{name} must be a numpy array or torch tensor of probabilities, got {type(x).__name__}")


def check_probability_vector(x: Array, name: str = "p", *, tol: float | None = None) -> Array:
    """Check that `x` holds probability vectors on its last axis and return it as a floating array.

    Requirements: at least one axis, every entry finite and ≥ 0 (no NaN), each vector sums to 1 within
    `tol` (default `sum_tolerance(x.dtype)`). Raises ValueError naming `name`, the offending value and the
    tolerance.
    """
    x = as_array(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (probabilities on the last axis), got a scalar")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} has an empty last axis; a probability vector needs at least one entry")
    tol = sum_tolerance(x.dtype) if tol is None else float(tol)
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            mn = float(x.min())  # NaN propagates through min
            s = x.sum(-1)
            err = float((s - 1.0).abs().max())
    else:
        mn = float(np.min(x))
        s = np.sum(x, axis=-1)
        err = float(np.max(np.abs(s - 1.0)))
    if math.isnan(mn) or math.isnan(err):
        raise ValueError(f"{name} contains NaN; probabilities must be finite numbers in [0, 1]")
    if mn < 0:
        raise ValueError(f"{name} has a negative entry (min {mn:.3g}); probabilities must be ≥ 0")
    if not math.isfinite(err) or err > tol:
        raise ValueError(
            f"{name} is not normalised: a vector on the last axis sums to 1 {'+' if err > 0 else ''}"
            f"{err:.3g} away from 1, beyond the tolerance {tol:g} for {x.dtype} "
            f"(divide by {name}.sum(-1, keepdims=True), or pass validate=False)")
    return x


def check_same_world(p: object, q: object, names: tuple[str, str] = ("p", "q")) -> None:
    """p and q must both be numpy or both torch (no silent conversion)."""
    tp, tq = isinstance(p, torch.Tensor), isinstance(q, torch.Tensor)
    if tp != tq:
        kinds = {True: "torch tensor", False: "numpy array"}
        raise TypeError(f"{names[0]} is a {kinds[tp]} but {names[1]} is a {kinds[tq]}; pass both as numpy "
                        f"or both as torch (numpy in -> numpy out, torch in -> torch out)")


def check_event_shapes(p: Array, q: Array, names: tuple[str, str] = ("p", "q")) -> tuple[int, ...]:
    """Last-axis sizes must match and the batch axes must broadcast; returns the broadcast batch shape."""
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same number of outcomes on the last axis, "
                         f"got shapes {tuple(p.shape)} and {tuple(q.shape)}")
    try:
        return tuple(np.broadcast_shapes(tuple(p.shape[:-1]), tuple(q.shape[:-1])))
    except ValueError:
        raise ValueError(f"the batch shapes of {names[0]} {tuple(p.shape)} and {names[1]} {tuple(q.shape)} do "
                         f"not broadcast (probabilities are on the last axis; batch axes broadcast numpy-style)"
                         ) from None


def check_positive(x: Array, name: str) -> Array:
    """All entries finite and > 0 (scales, standard deviations); returns x unchanged."""
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            bad = ~(torch.isfinite(x) & (x > 0))
            if bool(bad.any()):
                raise ValueError(f"{name} must be finite and > 0, got {x[bad].flatten()[0].item():.6g}")
        return x
    a = np.asarray(x, dtype=float)
    bad = ~(np.isfinite(a) & (a > 0))
    if bad.any():
        raise ValueError(f"{name} must be finite and > 0, got {a[bad].flatten()[0]:.6g}")
    return x


def check_finite(x: Array, name: str) -> Array:
    """All entries finite (locations, means); returns x unchanged."""
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"{name} must be finite, got a NaN or infinite entry")
        return x
    if not np.all(np.isfinite(np.asarray(x, dtype=float))):
        raise ValueError(f"{name} must be finite, got a NaN or infinite entry")
    return x


def check_positive_definite(cov: Array, name: str) -> np.ndarray:
    """A symmetric positive-definite matrix (batch on leading axes); returns its Cholesky factor (numpy)."""
    c = np.asarray(cov, dtype=float)
    if c.ndim < 2 or c.shape[-1] != c.shape[-2]:
        raise ValueError(f"{name} must be a square matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be finite")
    if not np.allclose(c, np.swapaxes(c, -1, -2), rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite (Cholesky failed)") from None


def check_int(n: object, name: str, minimum: int = 1) -> int:
    """A Python/numpy integer ≥ minimum."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {n}")
    return int(n)
