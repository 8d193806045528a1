"""Array-backend helpers for analysis: numpy/torch dispatch and autograd derivatives of elementwise maps."""
from __future__ import annotations

from typing import TypeAlias

import numpy as np
import sympy as sp
import torch

# A player's value, or a batch of them: numpy in -> numpy out, torch in -> torch out; sympy expressions where a
# game or rule is applied symbolically (spectral.symbolic_step_matrix).
Value: TypeAlias = np.ndarray | torch.Tensor | float | sp.Expr


def is_torch(*xs) -> bool:
    return any(isinstance(x, torch.Tensor) for x in xs)


def to_torch64(x):
    """numpy/scalar -> float64 torch tensor (torch tensors pass through unchanged)."""
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def back(x, like_torch: bool):
    """Return `x` as torch if `like_torch` else as a numpy float64 array."""
    if like_torch:
        return x
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def derivative(fn, t, order: int = 1):
    """Elementwise derivative d^order fn / dt^order of an elementwise torch-capable function, by autograd.

    numpy in -> numpy out (computed in float64 torch); torch in -> torch out (differentiable).
    """
    torch_in = is_torch(t)
    tt = to_torch64(t)
    with torch.enable_grad():
        v = tt if tt.requires_grad else tt.detach().requires_grad_(True)
        out = fn(v)
        for _ in range(order):
            if not out.requires_grad:  # the previous derivative is constant in t
                out = torch.zeros_like(v)
                break
            (out,) = torch.autograd.grad(out.sum(), v, create_graph=True, allow_unused=True,
                                         materialize_grads=True)
    return out if torch_in else out.detach().cpu().numpy()


def derivative_sym(fn, t, order: int = 1, delta: float = 1e-30):
    """Mean of the autograd derivatives at t + delta and t - delta.

    Identical to `derivative` except exactly at t = 0, where some stable piecewise implementations (softplus as
    max(x, 0) + log1p(exp(-|x|))) return a one-sided autograd value (1 instead of 1/2 for softplus'(0)). The
    two one-sided values are exact at +-1e-30 and their mean is the true derivative of a smooth function.
    """
    return 0.5 * (derivative(fn, t + delta, order) + derivative(fn, t - delta, order))
