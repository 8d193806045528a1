"""Unrolled GAN (Metz, Poole, Pfau, Sohl-Dickstein 2017, §2, eqs. 4-6).

The critic parameters after k gradient-ascent steps on its objective f,

    θ_D^0 = θ_D,   θ_D^{j+1} = θ_D^j + η·∂f(θ_G, θ_D^j)/∂θ_D^j,

define the surrogate generator loss L_K(θ_G) = L_G(θ_G, θ_D^K(θ_G, θ_D)). Its gradient differentiates
through the k steps (the second-order term ∂L_G/∂θ_D^K · dθ_D^K/dθ_G is what lets the generator anticipate the
critic's reaction). Implemented with ``torch.func.functional_call`` on copies of the critic's parameters:
the live critic is not changed, its buffers are passed as copies (BatchNorm statistics are not touched), and
spectral-norm power iterations are suspended during the look-ahead (its weights are functional tensors).
The look-ahead steps use the same real and fake batch (``x_fake_eval`` may give a fresh fake batch for the final
loss) and one of two update rules:

- plain gradient ascent (eq. 4 above; ``optimizer=None``);
- Adam, as in the paper's experiments (its reference code unrolls the critic's own Adam update): given the
  critic's ``torch.optim.Adam``, each look-ahead step continues that optimiser's moments, differentiably,
  with g = −∂f/∂θ_D (the gradient of the critic's loss), t = t₀ + j + 1,

      m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²,   θ_D ← θ_D − η·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε),

  with √· taken of max(v̂, ε²) so that its derivative stays finite where g = v = 0 (a change below ε in the
  denominator). The optimiser itself is not modified.

Cost: k + 1 critic forward/backward passes with a graph kept for double backprop (memory ∝ k).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..layers.spectral_norm import frozen_power_iteration

__all__ = ["unrolled_critic_params", "unrolled_generator_loss"]


def _adam_state(critic: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, tuple, float]:
    """The critic's Adam moments by parameter name: name -> (m, v, t₀) (zeros and 0 before its first step)."""
    if not isinstance(optimizer, torch.optim.Adam) or isinstance(optimizer, torch.optim.AdamW):
        raise TypeError(f"optimizer must be the critic's torch.optim.Adam (or None: gradient ascent); "
                        f"got {type(optimizer).__name__}")
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    state, hyper = {}, set()
    for n, p in critic.named_parameters():
        if id(p) not in groups:
            raise ValueError(f"optimizer does not hold the critic parameter {n!r}")
        g = groups[id(p)]
        if g.get("amsgrad") or g.get("weight_decay") or g.get("maximize"):
            raise ValueError("the Adam look-ahead supports plain Adam only (no amsgrad, weight_decay, maximize)")
        hyper.add((tuple(g["betas"]), float(g["eps"])))
        st = optimizer.state.get(p, {})
        if "exp_avg" in st:
            state[n] = (st["exp_avg"].detach().clone(), st["exp_avg_sq"].detach().clone(), float(st["step"]))
        else:
            state[n] = (torch.zeros_like(p), torch.zeros_like(p), 0.0)
    if len(hyper) > 1:
        raise ValueError(f"the critic's parameter groups use different Adam betas/eps: {sorted(hyper)}")
    (betas, eps), = hyper
    return state, betas, eps


def unrolled_critic_params(critic: nn.Module, critic_objective: Callable, x_real: torch.Tensor,
                           x_fake: torch.Tensor, steps: int, lr: float, params: dict | None = None,
                           optimizer: torch.optim.Optimizer | None = None,
                           grad_reduce: Callable | None = None) -> dict:
    """θ_D^k as a dict name -> tensor, differentiable in ``x_fake`` (and in ``params`` if they require grad).

    Args:
        critic: the critic module (not modified).
        critic_objective: (v_real, v_fake) -> scalar the critic *maximises* (e.g. the f-GAN objective
            mean(p_term(v_real)) − mean(q_term(v_fake))).
        x_real, x_fake: batches; x_fake carries the generator's graph.
        steps: k ≥ 0; lr: η > 0.
        grad_reduce: optional map applied to every look-ahead gradient (see `unrolled_generator_loss`).
        optimizer: None for gradient ascent, or the critic's torch.optim.Adam to unroll Adam from its moments
            (module docstring; not modified).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int ≥ 0; got {steps!r}")
    if not float(lr) > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    if params is None:
        params = {n: p.detach().requires_grad_(True) for n, p in critic.named_parameters()}
    adam = optimizer is not None
    if adam:
        state, (b1, b2), eps = _adam_state(critic, optimizer)
    buffers = {n: b.detach().clone() for n, b in critic.named_buffers()}
    x_real = x_real.detach()
    with frozen_power_iteration(critic):
        for j in range(steps):
            v_real = functional_call(critic, (params, buffers), (x_real,))
            v_fake = functional_call(critic, (params, buffers), (x_fake,))
            obj = critic_objective(v_real, v_fake)
            names = [n for n, p in params.items() if p.requires_grad]
            grads = torch.autograd.grad(obj, [params[n] for n in names], create_graph=True, allow_unused=True)
            if grad_reduce is not None:  # data parallel: the look-ahead follows the global batch's gradient
                grads = [None if g is None else grad_reduce(g) for g in grads]
            params = dict(params)
            for n, g in zip(names, grads):
                if g is None:
                    continue
                if not adam:
                    params[n] = params[n] + lr * g
                    continue
                m, v, t0 = state[n]
                g = -g  # the gradient of the critic's loss, the quantity Adam's moments average
                m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t0 + j + 1
                v_hat = (v / (1 - b2 ** t)).clamp_min(eps * eps)
                params[n] = params[n] - lr * (m / (1 - b1 ** t)) / (v_hat.sqrt() + eps)
                state[n] = (m, v, t0)
    return params


def unrolled_generator_loss(critic: nn.Module, critic_objective: Callable, generator_loss: Callable,
                            x_real: torch.Tensor, x_fake: torch.Tensor, steps: int, lr: float,
                            x_fake_eval: torch.Tensor | None = None,
                            optimizer: torch.optim.Optimizer | None = None,
                            grad_reduce: Callable | None = None) -> torch.Tensor:
    """L_G(θ_G, θ_D^k): ``generator_loss(v_fake)`` (a scalar to minimise) under the critic unrolled k steps.

    ``loss.backward()`` then gives the unrolled generator gradient (it also deposits gradients on nothing of the
    critic: the look-ahead works on detached copies). With steps = 0 this is the ordinary generator loss.
    ``optimizer``: None (gradient ascent) or the critic's Adam (unroll Adam from its moments).
    ``grad_reduce``: applied to each look-ahead gradient (data parallel: a differentiable mean over ranks,
    `gan.grad_sync.mean_over_ranks`, so every rank unrolls the critic on the global batch's gradient).
    """
    params = unrolled_critic_params(critic, critic_objective, x_real, x_fake, steps, lr, optimizer=optimizer,
                                    grad_reduce=grad_reduce)
    buffers = {n: b.detach().clone() for n, b in critic.named_buffers()}
    x_eval = x_fake if x_fake_eval is None else x_fake_eval
    with frozen_power_iteration(critic):
        v = functional_call(critic, (params, buffers), (x_eval,))
    return generator_loss(v)
