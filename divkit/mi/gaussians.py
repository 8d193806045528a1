"""Correlated Gaussians with exactly known mutual information (the Poole et al. 2019 benchmark).

Model (per coordinate k = 1..d, independent):  x ~ N(0, I_d),  y = ρ x + sqrt(1 − ρ²) ε,  ε ~ N(0, I_d),
    I(X; Y) = −(d/2) · log(1 − ρ²)   nats,   hence   ρ = sqrt(1 − exp(−2 I / d)).

The optimal critic is the pointwise log density ratio (Poole et al. 2019 §4; any bound is tight there up to
its own shift: NWJ at 1 + log r, DV/InfoNCE/SMILE at log r + c):
    log r(x, y) = log p(x, y) / (p(x) p(y)) = −(d/2) log(1 − ρ²) − |y − ρx|² / (2(1 − ρ²)) + |y|² / 2.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, overload

import numpy as np
import torch

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["mi_to_rho", "rho_to_mi", "correlated_gaussians", "optimal_scores", "OptimalCritic",
           "staircase", "STAIRCASE_MIS"]

#: the true MI (nats) of the five stages of Poole et al.'s staircase
STAIRCASE_MIS = (2.0, 4.0, 6.0, 8.0, 10.0)


def _check_dim(dim):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer; got {dim!r}")
    return int(dim)


@overload
def mi_to_rho(mi: float, dim: int) -> float: ...
@overload
def mi_to_rho(mi: ArrayLike, dim: int) -> float | np.ndarray: ...
def mi_to_rho(mi: ArrayLike, dim: int) -> float | np.ndarray:
    """ρ = sqrt(1 − exp(−2·mi/dim)), computed as sqrt(−expm1(−2·mi/dim)) (exact for tiny mi). mi ≥ 0 in nats."""
    dim = _check_dim(dim)
    m = np.asarray(mi, dtype=np.float64)
    if np.any(m < 0) or not np.all(np.isfinite(m)):
        raise ValueError(f"mi must be finite and >= 0 (nats); got {mi!r}")
    r = np.sqrt(-np.expm1(-2.0 * m / dim))
    return float(r) if r.ndim == 0 else r


def rho_to_mi(rho: ArrayLike, dim: int) -> float | np.ndarray:
    """I = −(dim/2)·log(1 − ρ²) = −(dim/2)·log1p(−ρ²) nats, for |ρ| < 1."""
    dim = _check_dim(dim)
    r = np.asarray(rho, dtype=np.float64)
    if np.any(np.abs(r) >= 1) or not np.all(np.isfinite(r)):
        raise ValueError(f"rho must satisfy |rho| < 1; got {rho!r}")
    m = -0.5 * dim * np.log1p(-r * r)
    return float(m) if m.ndim == 0 else m


def correlated_gaussians(dim: int, mi: float, n: int, seed: int | torch.Generator | None = None, *,
                         dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """n pairs (x, y) with I(X; Y) = mi nats exactly; x, y torch tensors of shape (n, dim).

    Args:
      dim: dimension d of x and of y. mi: target MI in nats (≥ 0). n: number of pairs.
      seed: int or torch.Generator (reproducible); None draws from torch's global generator.
    """
    dim = _check_dim(dim)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    rho = mi_to_rho(mi, dim)
    gen = seed if isinstance(seed, torch.Generator) else (torch.Generator().manual_seed(int(seed)) if seed is not None else None)
    x = torch.randn(int(n), dim, generator=gen, dtype=torch.float64)
    eps = torch.randn(int(n), dim, generator=gen, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho * rho) * eps
    return x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


def optimal_scores(x: torch.Tensor, y: torch.Tensor, mi: float) -> torch.Tensor:
    """Score matrix S[..., i, j] = log r(x_i, y_j) of the exact optimal critic; x, y of shape (K, d) -> (K, K).

    Uses |y − ρx|² = |y|² − 2ρ x·y + ρ²|x|² so all K² pairs come from one matrix product.
    """
    d = x.shape[-1]
    rho = mi_to_rho(mi, d)
    s2 = math.exp(-2.0 * float(mi) / d)                           # 1 − ρ² = exp(−2I/d), exactly
    xx = (x * x).sum(-1, keepdim=True)                            # (K, 1)
    yy = (y * y).sum(-1).unsqueeze(-2)                            # (1, K)
    xy = x @ y.transpose(-2, -1)                                  # (K, K)
    sq = yy - 2.0 * rho * xy + rho * rho * xx
    return float(mi) - sq / (2.0 * s2) + 0.5 * yy                 # −(d/2) log(1 − ρ²) = I


class OptimalCritic(torch.nn.Module):
    """The closed-form optimal critic as a module with the critic interface: forward(x, y) -> (K, K) scores.

    `mi` can be changed between calls (e.g. along the staircase): critic.mi = 6.0.
    """

    def __init__(self, mi: float) -> None:
        super().__init__()
        self.mi = float(mi)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return optimal_scores(x, y, self.mi)


def staircase(step: ArrayLike, mis: Sequence[float] = STAIRCASE_MIS, steps_per_stage: int = 4000
              ) -> float | np.ndarray:
    """True MI (nats) at training step `step` (0-based) of the staircase: mis[step // steps_per_stage].

    The last stage extends past the end. Accepts an int or an integer array (vectorised).
    """
    if steps_per_stage < 1:
        raise ValueError(f"steps_per_stage must be >= 1; got {steps_per_stage}")
    s = np.asarray(step)
    if np.any(s < 0):
        raise ValueError(f"step must be >= 0; got {step!r}")
    idx = np.minimum(s // int(steps_per_stage), len(mis) - 1)
    out = np.asarray(mis, dtype=np.float64)[idx]
    return float(out) if out.ndim == 0 else out
