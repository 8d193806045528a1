"""Exponential moving average (EMA) of the generator for evaluation (Yazıcı et al. 2019; Karras et al. 2018).

After each generator update, for every *parameter* θ of the live generator,

    θ_ema ← β·θ_ema + (1 − β)·θ        (β = ``decay``; with ``warmup`` the effective β_t = min(β, (1+t)/(10+t)))

and every *buffer* is **copied**, never averaged:

- spectral-norm power-iteration vectors ``*_u`` / ``*_v`` (`gan.layers.spectral_norm`): an average of unit
  vectors is not a unit vector and not a singular vector of any weight; the live model's u, v are the current
  power-iteration state (the EMA weights are close to the live ones, so they are a good estimate for them too);
- BatchNorm ``running_mean`` / ``running_var`` / ``num_batches_tracked``: running statistics are already
  averages the live model maintains; averaging them again would lag them twice. (For exact statistics of the
  EMA weights, re-estimate them with a few forward passes in train mode — ``recompute_batchnorm``.)
- any other buffer (integers included).

The EMA copy is kept in eval mode and never receives gradients.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["GeneratorEMA"]


class GeneratorEMA(nn.Module):
    """Holds ``ema`` (a deep copy of the generator) and updates it from the live generator.

    Args:
        model: the live generator.
        decay: β ∈ [0, 1).
        warmup: use β_t = min(β, (1 + t)/(10 + t)) at update t (t counts updates), so early EMA weights are not
            dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False):
        super().__init__()
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay must lie in [0, 1); got {decay}")
        self.decay, self.warmup = float(decay), bool(warmup)
        self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        t = int(self.updates)
        return min(self.decay, (1.0 + t) / (10.0 + t)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """θ_ema ← β θ_ema + (1 − β) θ for parameters; buffers copied."""
        beta = self.current_decay()
        ema_p, live_p = dict(self.ema.named_parameters()), dict(model.named_parameters())
        if ema_p.keys() != live_p.keys():
            raise ValueError("model's parameters do not match the EMA copy's (a different architecture?)")
        for name, p in live_p.items():
            ema_p[name].lerp_(p.detach().to(ema_p[name].dtype), 1.0 - beta)
        ema_b, live_b = dict(self.ema.named_buffers()), dict(model.named_buffers())
        if ema_b.keys() != live_b.keys():
            raise ValueError("model's buffers do not match the EMA copy's (a different architecture?)")
        for name, b in live_b.items():
            ema_b[name].copy_(b)
        self.updates += 1

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.ema(*args, **kwargs)

    @torch.no_grad()
    def recompute_batchnorm(self, batches: Iterable[torch.Tensor]) -> None:
        """Re-estimate BatchNorm statistics of the EMA weights from an iterable of generator inputs."""
        bns = [m for m in self.ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches
            m.train()
        try:
            for z in batches:
                self.ema(z)
        finally:
            for m, mom in zip(bns, momenta):
                m.momentum = mom
            self.ema.eval()
