"""MINE regulariser against mode collapse (Belghazi et al. 2018, "MINE", §6.1, eq. 20).

The generator takes [ε, c] (noise ε and a code c) and maximises its usual objective plus β·I(G([ε, c]); c), so
that different codes must produce distinguishable samples:

    generator loss  ←  generator loss − β·Î(G([ε, c]); c).

Î is divkit's MINE estimator (`divkit.mi.MINE`: Donsker-Varadhan bound with the moving-average bias
correction) on a statistics network T(x, c) returning the K×K score matrix S_ij = T(x_i, c_j) (diagonal =
joint pairs, off-diagonal = product of marginals; `divkit.mi` critics):

- ``statistics_loss(x.detach(), c)``: −surrogate of MINE; minimise it with T's own optimiser (updates the moving
  average m of mean_{i≠j} e^{S_ij}).
- ``generator_term(x, c)``: −β·[mean_i S_ii − mean_{i≠j} e^{S_ij − log m}] with m the stored moving average
  (detached, not updated): its gradient in x is MINE's bias-corrected DV gradient; before the first statistics
  step (m not initialised) the plain DV bound is used. Add it to the generator's loss.
- ``estimate(x, c)``: the DV value Î (nats, no gradient) for logging.

The code distribution: c ∼ N(0, I) (``code="normal"``), U[−1, 1]^d (``"uniform"``) or a uniformly drawn one-hot
vector of d classes (``"categorical"``) — a choice of this implementation; the paper's text does not fix it for
the toy experiments. With a continuous code the maximised I(G([ε, c]); c) is unbounded (a deterministic G can
make c recoverable from x to any precision), so the term can grow until training diverges; a categorical code
bounds it by H(c) = log d.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from divkit import bounds as dk_bounds
from divkit.mi import MINE, make_critic

__all__ = ["MINERegulariser"]


class MINERegulariser(nn.Module):
    """β·I(G([ε, c]); c) by MINE. Args: x_dim (sample dim), code_dim, beta ≥ 0, critic ("concat", "separable"
    or a module giving (K, K) scores), rate (MINE moving-average rate), code ("normal" | "uniform" |
    "categorical": one-hot of code_dim classes),
    critic kwargs (hidden, layers, ...)."""

    def __init__(self, x_dim: int, code_dim: int, beta: float = 1.0, critic: str = "concat", rate: float = 0.01,
                 code: str = "normal", **critic_kwargs: Any) -> None:
        super().__init__()
        for name, val in (("x_dim", x_dim), ("code_dim", code_dim)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive int; got {val!r}")
        if not float(beta) >= 0:
            raise ValueError(f"beta must be ≥ 0; got {beta}")
        if code not in ("normal", "uniform", "categorical"):
            raise ValueError(f"code must be 'normal', 'uniform' or 'categorical'; got {code!r}")
        if code == "categorical" and code_dim < 2:
            raise ValueError(f"a categorical code needs code_dim ≥ 2 classes; got {code_dim}")
        self.x_dim, self.code_dim, self.beta, self.code = x_dim, code_dim, float(beta), code
        self.critic = make_critic(critic, x_dim, code_dim, **critic_kwargs)
        self.mine = MINE(rate=rate, variant="dv")

    def sample_code(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                    device: str | torch.device = "cpu") -> torch.Tensor:
        """c of shape (n, code_dim)."""
        if self.code == "normal":
            c = torch.randn(n, self.code_dim, generator=generator, dtype=dtype)
        elif self.code == "categorical":
            k = torch.randint(self.code_dim, (n,), generator=generator)
            c = nn.functional.one_hot(k, self.code_dim).to(dtype)
        else:
            c = 2 * torch.rand(n, self.code_dim, generator=generator, dtype=dtype) - 1
        return c.to(device)

    @staticmethod
    def generator_input(eps: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """[ε, c]: (n, d_ε), (n, d_c) -> (n, d_ε + d_c)."""
        if eps.shape[0] != c.shape[0]:
            raise ValueError(f"eps and c need the same batch size; got {eps.shape[0]} and {c.shape[0]}")
        return torch.cat([eps, c], dim=1)

    def scores(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != c.shape[0] or x.shape[0] < 2:
            raise ValueError(f"x and c need the same batch size ≥ 2; got {x.shape[0]} and {c.shape[0]}")
        return self.critic(x.flatten(1), c)

    def statistics_loss(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Loss of the statistics network T (x is detached here): −MINE surrogate."""
        return -self.mine(self.scores(x.detach(), c)).surrogate

    def generator_term(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """−β·Î with MINE's bias-corrected gradient in x (moving average not updated); add to G's loss."""
        s = self.scores(x, c)
        if torch.isnan(self.mine.log_ma):
            return -self.beta * dk_bounds.dv(s)
        k = s.shape[-1]
        off = ~torch.eye(k, dtype=torch.bool, device=s.device)
        joint = torch.diagonal(s).mean()
        masked = (s - self.mine.log_ma.to(s.dtype)).masked_fill(~off, -math.inf)
        return -self.beta * (joint - torch.exp(masked).sum() / (k * (k - 1)))

    @torch.no_grad()
    def estimate(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """DV estimate Î(x; c) in nats (no gradient, no state change)."""
        return dk_bounds.dv(self.scores(x, c))
