"""Critic regularisers: zero-centred gradient penalties (R1, R2), the WGAN-GP penalty, instance noise and
one-sided label smoothing. Each penalty returns a scalar to **add to the critic's loss** (the critic minimises
loss = −objective + penalty).

- R1 (Mescheder, Geiger, Nowozin 2018, eq. 9):  (γ/2)·E_{x∼P}‖∇_x V(x)‖²   on real data;
  R2 (same paper, eq. 10): (γ/2)·E_{x∼Q}‖∇_x V(x)‖² on generated data.
- WGAN-GP (Gulrajani et al. 2017, Algorithm 1): λ·E_x̂(‖∇_x̂ V(x̂)‖₂ − 1)², x̂ = εx + (1 − ε)x̃, ε ∼ U[0, 1] per
  sample (λ = 10 in the paper).
- Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): real and fake inputs of the critic get
  independent N(0, σ²) noise; σ is usually annealed to 0 (`linear_anneal`).
- One-sided label smoothing (Salimans et al. 2016, §3.4), for the ``gan`` and ``js`` divergences only: see
  `smoothed_p_term`.

The gradient norms are taken per sample over all non-batch axes; ``create_graph=True`` so the penalty is
differentiable in the critic's parameters.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from divkit.fdiv import FDivergence

__all__ = ["gradient_squared_norm", "r1_penalty", "r2_penalty", "wgan_gp_penalty", "add_instance_noise",
           "linear_anneal", "smoothed_p_term", "SMOOTHABLE"]


def _grad_wrt_input(critic, x):
    x = x.detach().requires_grad_(True)
    v = critic(x)
    (g,) = torch.autograd.grad(v.sum(), x, create_graph=True)  # per-sample gradients: V(x_i) depends on x_i only
    return g


def gradient_squared_norm(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """‖∇_x V(x_i)‖² per sample, shape (N,). Assumes V(x_i) depends on x_i only (no BatchNorm in the critic)."""
    g = _grad_wrt_input(critic, x)
    return g.flatten(1).pow(2).sum(1)


def _check_weight(w, name):
    if not float(w) >= 0.0:
        raise ValueError(f"{name} must be ≥ 0; got {w}")


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_real: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 = (γ/2)·mean_i ‖∇_x V(x_i)‖² over real samples (Mescheder et al. 2018, eq. 9)."""
    _check_weight(gamma, "gamma")
    return 0.5 * gamma * gradient_squared_norm(critic, x_real).mean()


def r2_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_fake: torch.Tensor, gamma: float) -> torch.Tensor:
    """R2 = (γ/2)·mean_i ‖∇_x V(x̃_i)‖² over generated samples (Mescheder et al. 2018, eq. 10)."""
    _check_weight(gamma, "gamma")
    return 0.5 * gamma * gradient_squared_norm(critic, x_fake.detach()).mean()


def wgan_gp_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_real: torch.Tensor, x_fake: torch.Tensor,
                    weight: float = 10.0, generator: torch.Generator | None = None,
                    eps: torch.Tensor | None = None) -> torch.Tensor:
    """λ·mean_i (‖∇V(x̂_i)‖₂ − 1)², x̂_i = ε_i x_i + (1 − ε_i) x̃_i, ε_i ∼ U[0,1] (Gulrajani et al. 2017, Alg. 1).

    eps: the weights ε (B, 1, ..., 1) when given (a data-parallel rank passes its slice of the global draw);
    otherwise drawn from `generator` (torch's global RNG if None).
    The norm uses ``torch.linalg.vector_norm``, whose gradient at a zero vector is 0 (finite), not NaN.
    """
    _check_weight(weight, "weight")
    if x_real.shape != x_fake.shape:
        raise ValueError(f"x_real and x_fake must have the same shape; got {tuple(x_real.shape)} and {tuple(x_fake.shape)}")
    if eps is None:
        eps = torch.rand((x_real.shape[0],) + (1,) * (x_real.dim() - 1), generator=generator, dtype=x_real.dtype,
                         device="cpu" if generator is None else generator.device).to(x_real.device)
    x_hat = eps * x_real.detach() + (1 - eps) * x_fake.detach()
    g = _grad_wrt_input(critic, x_hat)
    norm = torch.linalg.vector_norm(g.flatten(1), dim=1)
    return weight * (norm - 1).pow(2).mean()


def add_instance_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + σ·ε, ε ∼ N(0, I) (same shape, dtype, device); σ = 0 returns x unchanged."""
    _check_weight(std, "std")
    if std == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                        device="cpu" if generator is None else generator.device).to(x.device)
    return x + std * noise


def linear_anneal(step: int, start: float, end_step: int, end: float = 0.0) -> float:
    """Linear schedule from ``start`` at step 0 to ``end`` at ``end_step`` (constant afterwards)."""
    if end_step <= 0:
        raise ValueError(f"end_step must be > 0; got {end_step}")
    t = min(max(step, 0), end_step) / end_step
    return start + (end - start) * t


SMOOTHABLE = ("gan", "js")


def smoothed_p_term(div: FDivergence, v: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """One-sided label smoothing of the critic's real term for the ``gan``/``js`` divergences.

    The f-GAN critic maximises E_P[p(V)] − E_Q[q(V)], p = g_f, q = f*∘g_f (divkit's ``p_term``, ``q_term``).
    Smoothing with rate α treats each real sample as real with weight 1 − α and as fake with weight α:

        real term  p_α(v) = (1 − α)·p(v) − α·q(v),      fake term unchanged.

    - ``gan`` (p = log σ(v), q = −log(1 − σ(v))): p_α(v) = 0.9·log σ(v) + 0.1·log(1 − σ(v)) for α = 0.1, i.e.
      minus the binary cross-entropy with target 0.9 — Salimans et al.'s "real label 0.9".
    - ``js`` (p = ½(log 2 + log σ(v)), q = ½(−log(1 − σ(v)) − log 2)): p_α(v) = ½[0.9·log σ(v) +
      0.1·log(1 − σ(v))] + ½·log 2, the same scaled by ½ (JS = ½(GAN divergence + log 4)).

    Either way the pointwise optimal critic satisfies σ(v*) = (1 − α)·p/(p + q) (Salimans et al. 2016 §3.4:
    D* = (1 − α)p_data/(p_data + p_model)); fake samples keep target 0 ("one-sided"). With α > 0 the critic's
    objective is no longer a lower bound on the divergence. Computed from divkit's fused stable terms, so it is
    finite for |v| ≤ 1e4.
    """
    name = getattr(div, "name", None)
    if name not in SMOOTHABLE:
        raise ValueError(f"one-sided label smoothing is defined for the divergences {list(SMOOTHABLE)}; got {name!r}")
    if not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"alpha must lie in [0, 1) (0.1 gives the real target 0.9); got {alpha}")
    if alpha == 0:
        return div.p_term(v)
    return (1.0 - alpha) * div.p_term(v) - alpha * div.q_term(v)
