"""The torch namespace of `divkit._array.ops` (imported on the first tensor; see divkit._array)."""
from __future__ import annotations

import math

import torch

from ._array import SATURATION_HEADROOM, exp_cut, exp_max_arg


class _WrightOmega(torch.autograd.Function):
    """omega(s) = W(e^s), the solution of w + log w = s; d omega / ds = omega / (1 + omega)."""

    @staticmethod
    def forward(ctx, s):
        s64 = s.detach().double()
        # initial guess: e^s for s << 0, s - log s for s >> 1, a smooth blend in between
        w = torch.where(s64 < -2.0, torch.exp(s64), torch.where(s64 > 2.0, s64 - torch.log(s64.clamp_min(2.0)), 0.5 + 0.3 * (s64 + 2.0)))
        w = w.clamp_min(torch.finfo(torch.float64).tiny)
        for _ in range(8):  # Halley's method on r(w) = w + log w - s; converges to machine precision
            r = w + torch.log(w) - s64
            d1 = 1.0 + 1.0 / w
            d2 = -1.0 / (w * w)
            w = (w - r / (d1 - r * d2 / (2.0 * d1))).clamp_min(torch.finfo(torch.float64).tiny)
        w = w.to(s.dtype)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * w / (1.0 + w)


class _TorchOps:
    name = "torch"

    @staticmethod
    def asarray(x, like=None):
        if isinstance(x, torch.Tensor):
            return x if x.is_floating_point() else x.to(torch.get_default_dtype())
        if like is not None:
            return torch.as_tensor(x, dtype=like.dtype, device=like.device)
        return torch.as_tensor(x, dtype=torch.get_default_dtype())

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    log1p = staticmethod(torch.log1p)
    expm1 = staticmethod(torch.expm1)
    sqrt = staticmethod(torch.sqrt)
    abs = staticmethod(torch.abs)
    tanh = staticmethod(torch.tanh)
    sign = staticmethod(torch.sign)
    maximum = staticmethod(torch.maximum)
    minimum = staticmethod(torch.minimum)
    isfinite = staticmethod(torch.isfinite)

    @staticmethod
    def where(c, a, b):
        if not isinstance(a, torch.Tensor):
            a = torch.as_tensor(a, dtype=b.dtype if isinstance(b, torch.Tensor) else None,
                                device=b.device if isinstance(b, torch.Tensor) else None)
        if not isinstance(b, torch.Tensor):
            b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
        return torch.where(c, a, b)

    @staticmethod
    def full_like(x, value):
        return torch.full_like(x, value)

    @staticmethod
    def softplus(x):
        # logaddexp(x, 0): exact, overflow-free, and its gradient at x = 0 is σ(0) = ½ (a hand-written
        # max(x, 0) + log1p(e^{−|x|}) gets 1 there: clamp passes gradient 1 at the boundary, |x| gives 0)
        return torch.logaddexp(x, torch.zeros_like(x))

    @staticmethod
    def xlogy(x, y):
        return torch.xlogy(x, y)

    @staticmethod
    def clamp(x, lo=None, hi=None):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def safe_exp(x):
        """exp(x) exact up to exp_max_arg; beyond, value finfo.max/16 with the gradient exp(exp_cut) (plain
        differentiable ops, so double backward is exact below overflow and 0 beyond); +inf at x = +inf."""
        c = exp_max_arg(x.dtype)
        y = torch.exp(torch.clamp_max(x, c))
        over = x > c
        xo = torch.where(over & torch.isfinite(x), x, torch.zeros_like(x))
        sat = (xo - xo.detach()) * math.exp(exp_cut(x.dtype)) + torch.finfo(x.dtype).max / SATURATION_HEADROOM
        return torch.where(over, torch.where(torch.isposinf(x), x.detach(), sat), y)

    @staticmethod
    def wrightomega(x):
        return _WrightOmega.apply(x)


TORCH = _TorchOps()
