"""Upper bounds on I(X; Y) with a variational conditional q(y | x): CLUB and the leave-one-out bound.

A conditional module maps (x (K, dx), y (K, dy)) to the log-conditional matrix ``log_q[i, j] = log q(y_j | x_i)``
(K, K), the input of `divkit.bounds.club` and `divkit.bounds.loo_upper`:
  * `GaussianConditional`: q(y | x) = N(μ(x), diag σ(x)²), one MLP to (μ, log σ) (Cheng et al. 2020's CLUB
    network), trained by maximum likelihood on joint pairs: maximise mean_i log q(y_i | x_i).
  * `KnownGaussianConditional(mi, dim)`: the exact p(y | x) = N(ρx, (1 − ρ²) I) of `correlated_gaussians`, for
    which both are upper bounds in expectation (tests; Poole et al.'s "known conditional" setting).
`estimate_upper(x, y, "club" | "loo")` trains the conditional with the same held-out model selection as
`estimate` (best validation log-likelihood; the value from the untouched test split, minibatches of K).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .. import bounds as B
from .critics import mlp
from .estimate import MIResult, _adam, _check_gap, _mean_se, _prepare_pairs, _seeded_init, _select
from .gaussians import mi_to_rho

if TYPE_CHECKING:
    from .._typing import Array

__all__ = ["GaussianConditional", "KnownGaussianConditional", "gaussian_log_q", "estimate_upper", "UPPER_BOUNDS"]

UPPER_BOUNDS = {"club": B.club, "loo": B.loo_upper}


def gaussian_log_q(mu: torch.Tensor, log_sigma: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log N(y_j; μ_i, diag e^{2 log σ_i}) for all pairs: mu, log_sigma (..., K, d), y (..., M, d) -> (..., K, M)."""
    z = (y.unsqueeze(-3) - mu.unsqueeze(-2)) * torch.exp(-log_sigma).unsqueeze(-2)      # (..., K, M, d)
    d = mu.shape[-1]
    return -0.5 * (z * z).sum(-1) - log_sigma.sum(-1, keepdim=True) - 0.5 * d * math.log(2 * math.pi)


class GaussianConditional(nn.Module):
    """q(y | x) = N(μ(x), diag σ(x)²); forward(x (K, dx), y (K, dy)) -> log_q (K, K), log_q[i, j] = log q(y_j | x_i).

    One MLP (`hidden`, `layers`) to 2·dy outputs: μ and log σ (log σ soft-clamped to [−7, 7] by 7·tanh(·/7), so
    the likelihood cannot run to infinity on a collapsing variance).
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        self.y_dim = y_dim
        self.net = mlp(x_dim, 2 * y_dim, hidden, layers)

    def params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        mu, raw = out[..., :self.y_dim], out[..., self.y_dim:]
        return mu, 7.0 * torch.tanh(raw / 7.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mu, ls = self.params(x)
        return gaussian_log_q(mu, ls, y)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log q(y_i | x_i) of the K joint pairs only, (K, dx), (K, dy) -> (K,) (the maximum-likelihood objective)."""
        mu, ls = self.params(x)
        z = (y - mu) * torch.exp(-ls)
        return -0.5 * (z * z).sum(-1) - ls.sum(-1) - 0.5 * self.y_dim * math.log(2 * math.pi)


class KnownGaussianConditional(nn.Module):
    """The exact conditional of `correlated_gaussians(dim, mi, ...)`: p(y | x) = N(ρ x, (1 − ρ²) I)."""

    def __init__(self, mi: float, dim: int):
        super().__init__()
        self.rho = mi_to_rho(mi, dim)
        self.log_sigma = -float(mi) / dim                     # log σ = ½ log(1 − ρ²) = −I/d exactly

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gaussian_log_q(self.rho * x, torch.full_like(x, self.log_sigma), y)


def estimate_upper(x: Array, y: Array, bound: str = "club", conditional: nn.Module | None = None, steps: int = 2000,
                   batch_size: int = 64, lr: float = 5e-4, seed: int = 0, device: str | torch.device = "cpu",
                   val_fraction: float = 0.2, test_fraction: float = 0.2, eval_every: int | None = None,
                   patience: int | None = None, max_val_batches: int = 32, progress: bool | None = None,
                   hidden: int = 256, layers: int = 2, dtype: torch.dtype = torch.float32) -> MIResult:
    """An upper bound on I(X; Y) in nats: CLUB or leave-one-out with a variational conditional q(y | x).

    Args:
      x, y: paired samples (n, dx), (n, dy), finite. bound: "club" or "loo" (`UPPER_BOUNDS`).
      conditional: None = a `GaussianConditional(hidden, layers)` trained by maximum likelihood with held-out
        selection (best validation log-likelihood); or a module returning log_q (K, K): trained likewise if it
        has parameters that require grad, else used as it is (e.g. `KnownGaussianConditional`, or a trained q
        with requires_grad_(False): the same seed gives the same test split).
      the rest as `divkit.mi.estimate`.
    Returns: MIResult (value ± stderr on the test split in minibatches of K; history = per-step training
    log-likelihood mean_i log q(y_i|x_i); validation = the validation log-likelihood curve).
    An upper bound in expectation when q = p(y | x); with a learned q it can fall below the truth where q
    underfits (CLUB: Cheng et al. 2020 Theorem 3.2; LOO: an estimate of the upper bound).
    """
    if bound not in UPPER_BOUNDS:
        raise ValueError(f"bound must be one of {sorted(UPPER_BOUNDS)}; got {bound!r}")
    fn = UPPER_BOUNDS[bound]
    (steps, batch_size, lr, eval_every, patience, max_val_batches, gen, dev, X, Y,
     (Xtr, Ytr, Xva, Yva, Xte, Yte)) = _prepare_pairs(x, y, steps, batch_size, lr, eval_every, patience, seed,
                                                      max_val_batches, val_fraction, test_fraction, device, dtype)
    with _seeded_init(seed):
        q = conditional if conditional is not None else GaussianConditional(X.shape[1], Y.shape[1], hidden, layers)
    q = q.to(device=dev, dtype=dtype)

    def log_q_batches(Xs, Ys, limit=None):
        n = Xs.shape[0] // batch_size
        with torch.no_grad():
            return [q(Xs[i * batch_size:(i + 1) * batch_size], Ys[i * batch_size:(i + 1) * batch_size])
                    for i in range(n if limit is None else min(n, limit))]

    params = [p for p in q.parameters() if p.requires_grad]      # frozen (or parameter-free) q: no training
    sel = dict(validation=np.zeros(0), validation_steps=np.zeros(0, dtype=int), best_step=0, stopped_step=0,
               diverged_step=None)
    hist = np.zeros(0)
    if params:
        opt = _adam(params, lr)
        ntr = Xtr.shape[0]

        def step_fn(step):
            idx = torch.randint(ntr, (batch_size,), generator=gen).to(dev)
            xb, yb = Xtr[idx], Ytr[idx]
            ll = (q.log_prob(xb, yb) if hasattr(q, "log_prob") else torch.diagonal(q(xb, yb))).mean()
            opt.zero_grad(set_to_none=True)
            (-ll).backward()
            opt.step()
            return ll.detach()

        def val_fn():
            return float(np.mean([float(torch.diagonal(m).mean()) for m in log_q_batches(Xva, Yva, max_val_batches)]))

        hist, sel = _select(step_fn, val_fn, [q], steps, eval_every, patience, progress, f"q(y|x)[{bound}]")
    test = log_q_batches(Xte, Yte)
    value, stderr = _mean_se([float(fn(m)) for m in test])
    if not (math.isfinite(value) and math.isfinite(stderr)):
        raise FloatingPointError(f"the {bound} bound is non-finite on the test split ({value} ± {stderr}): the "
                                 f"conditional diverged; lower lr")
    sel["train_value"], sel["train_stderr"] = _mean_se([float(fn(m)) for m in log_q_batches(Xtr, Ytr, len(test))])
    # an upper bound has no overfitting direction of its own here: only the divergence flag is checked
    sel = _check_gap(sel, value, math.inf, Xtr.shape[0], f"{bound} bound", convergence=False)  # the curve is q's
                                                                                                # likelihood
    return MIResult(value=value, stderr=stderr, history=hist, estimator=bound, n_eval_batches=len(test), critic=q,
                    **sel)
