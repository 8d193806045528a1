"""Array-namespace helpers: one formula serves numpy and torch.

`ops(x)` returns the numpy or torch implementation of the few elementwise functions the divergences need.
numpy in -> numpy out; torch in -> torch out (device and dtype preserved). Python scalars are treated as
float64 numpy values.

Stability notes (see scipy.special, optax numerics):
- `softplus(x) = log1p(exp(-|x|)) + max(x, 0)` never overflows.
- `safe_exp(x)` is exp(x), exact, up to c = log(finfo.max) − δ and beyond it the C¹ continuation
  exp(c)·(1 + log1p(log1p(x − c))) (value and slope of exp at c, then growing like log log): value and
  gradient stay finite and positive for every finite input. δ = log(16·(1 + log1p(log1p(finfo.max)))):
  4.48 nats in float32/bfloat16, 4.80 in float64. The second factor is the least headroom that keeps the
  continued value ≤ finfo.max up to x = finfo.max; the 16 lets a loss sum up to 16 saturated terms
  without overflow (a batch mean of critic outputs, where a diverging critic saturates several at once).
  It replaces the old 20-nat margin with a tangent, which lost all digits of exp in the 20 nats below
  overflow (issue 11 item 10: `kl.q_term(80.0)` in float32 was 7.9e30 for e^79 = 2.04e34). Used only
  inside the fused f-GAN loss terms, never in an exact conjugate.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def is_torch(*xs) -> bool:
    return any(isinstance(x, torch.Tensor) for x in xs)


def _cut(dtype) -> float:
    """The old tangent cut log(finfo.max) − 20 (kept for divkit.bounds until its NWJ node uses `exp_cut`)."""
    if isinstance(dtype, torch.dtype):
        return math.log(torch.finfo(dtype).max) - 20.0
    return math.log(np.finfo(dtype).max) - 20.0


def exp_cut(dtype) -> float:
    """Where `safe_exp` leaves exp: log(max) − log(16·(1 + log1p(log1p(max)))) (see the module docstring)."""
    m = float(torch.finfo(dtype).max if isinstance(dtype, torch.dtype) else np.finfo(dtype).max)
    return math.log(m) - math.log(16.0) - math.log1p(math.log1p(math.log1p(m)))


class _NumpyOps:
    name = "numpy"

    @staticmethod
    def asarray(x, like=None):
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64)
        return a

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    tanh = staticmethod(np.tanh)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    isfinite = staticmethod(np.isfinite)

    @staticmethod
    def full_like(x, value):
        return np.full_like(x, value)

    @staticmethod
    def softplus(x):
        return np.logaddexp(0.0, x)

    @staticmethod
    def xlogy(x, y):
        from scipy.special import xlogy

        return xlogy(x, y)

    @staticmethod
    def clamp(x, lo=None, hi=None):
        return np.clip(x, lo, hi)

    @staticmethod
    def safe_exp(x):
        c = exp_cut(x.dtype)
        return np.exp(np.minimum(x, c)) * (1.0 + np.log1p(np.log1p(np.maximum(x - c, 0.0))))

    @staticmethod
    def wrightomega(x):
        from scipy.special import wrightomega

        return np.real(wrightomega(np.asarray(x, dtype=np.float64))).astype(x.dtype)


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
        c = exp_cut(x.dtype)
        return torch.exp(torch.clamp_max(x, c)) * (1.0 + torch.log1p(torch.log1p(torch.clamp_min(x - c, 0.0))))

    @staticmethod
    def wrightomega(x):
        return _WrightOmega.apply(x)


NUMPY = _NumpyOps()
TORCH = _TorchOps()


def ops(*xs):
    """The namespace for the given arrays: torch if any is a tensor, else numpy."""
    return TORCH if is_torch(*xs) else NUMPY


def as_float(x):
    """Coerce to a floating array of the same world (numpy float64 for scalars/ints, torch unchanged)."""
    o = ops(x)
    return o, o.asarray(x)
