"""Unrolled GAN (Metz, Poole, Pfau, Sohl-Dickstein 2017, §2, eqs. 4-6).

The critic parameters after k gradient-ascent steps on its objective f,

    θ_D^0 = θ_D,   θ_D^{j+1} = θ_D^j + η·∂f(θ_G, θ_D^j)/∂θ_D^j,

define the surrogate generator loss L_K(θ_G) = L_G(θ_G, θ_D^K(θ_G, θ_D)). Its gradient differentiates
through the k steps (the second-order term ∂L_G/∂θ_D^K · dθ_D^K/dθ_G is what lets the generator anticipate the
critic's reaction). Implemented with ``torch.func.functional_call`` on copies of the critic's parameters:
the live critic is not changed, its buffers are passed as copies (BatchNorm statistics are not touched), and
spectral-norm power iterations are suspended during the look-ahead (its weights are functional tensors).
The critic steps use plain gradient ascent (the paper's eq. 4; its experiments unroll with Adam — not done here)
on the same real and fake batch; ``x_fake_eval`` may give a fresh fake batch for the final loss.

Cost: k + 1 critic forward/backward passes with a graph kept for double backprop (memory ∝ k).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..layers.spectral_norm import frozen_power_iteration

__all__ = ["unrolled_critic_params", "unrolled_generator_loss"]


def unrolled_critic_params(critic: nn.Module, critic_objective: Callable, x_real: torch.Tensor,
                           x_fake: torch.Tensor, steps: int, lr: float, params: dict | None = None) -> dict:
    """θ_D^k as a dict name -> tensor, differentiable in ``x_fake`` (and in ``params`` if they require grad).

    Args:
        critic: the critic module (not modified).
        critic_objective: (v_real, v_fake) -> scalar the critic *maximises* (e.g. the f-GAN objective
            mean(p_term(v_real)) − mean(q_term(v_fake))).
        x_real, x_fake: batches; x_fake carries the generator's graph.
        steps: k ≥ 0; lr: η > 0.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int ≥ 0; got {steps!r}")
    if not float(lr) > 0:
        raise ValueError(f"lr must be > 0; got {lr}")
    if params is None:
        params = {n: p.detach().requires_grad_(True) for n, p in critic.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in critic.named_buffers()}
    x_real = x_real.detach()
    with frozen_power_iteration(critic):
        for _ in range(steps):
            v_real = functional_call(critic, (params, buffers), (x_real,))
            v_fake = functional_call(critic, (params, buffers), (x_fake,))
            obj = critic_objective(v_real, v_fake)
            names = [n for n, p in params.items() if p.requires_grad]
            grads = torch.autograd.grad(obj, [params[n] for n in names], create_graph=True, allow_unused=True)
            params = dict(params)
            for n, g in zip(names, grads):
                if g is not None:
                    params[n] = params[n] + lr * g
    return params


def unrolled_generator_loss(critic: nn.Module, critic_objective: Callable, generator_loss: Callable,
                            x_real: torch.Tensor, x_fake: torch.Tensor, steps: int, lr: float,
                            x_fake_eval: torch.Tensor | None = None) -> torch.Tensor:
    """L_G(θ_G, θ_D^k): ``generator_loss(v_fake)`` (a scalar to minimise) under the critic unrolled k steps.

    ``loss.backward()`` then gives the unrolled generator gradient (it also deposits gradients on nothing of the
    critic: the look-ahead works on detached copies). With steps = 0 this is the ordinary generator loss.
    """
    params = unrolled_critic_params(critic, critic_objective, x_real, x_fake, steps, lr)
    buffers = {n: b.detach().clone() for n, b in critic.named_buffers()}
    x_eval = x_fake if x_fake_eval is None else x_fake_eval
    with frozen_power_iteration(critic):
        v = functional_call(critic, (params, buffers), (x_eval,))
    return generator_loss(v)
