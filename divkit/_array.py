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
import sys

import numpy as np

# torch is imported only when a tensor is seen (a tensor cannot exist before torch is imported), so numpy and
# scipy users of the catalogue never load it; the torch namespace lives in divkit._torch_ops.


def is_torch(*xs) -> bool:
    t = sys.modules.get("torch")
    return t is not None and any(isinstance(x, t.Tensor) for x in xs)


def finfo(dtype):
    """np.finfo or torch.finfo, whichever the dtype belongs to (without importing torch)."""
    t = sys.modules.get("torch")
    if t is not None and isinstance(dtype, t.dtype):
        return t.finfo(dtype)
    return np.finfo(dtype)


def _cut(dtype) -> float:
    """The old tangent cut log(finfo.max) − 20 (kept for divkit.bounds until its NWJ node uses `exp_cut`)."""
    return math.log(float(finfo(dtype).max)) - 20.0


def exp_cut(dtype) -> float:
    """Where `safe_exp` leaves exp: log(max) − log(16·(1 + log1p(log1p(max)))) (see the module docstring)."""
    m = float(finfo(dtype).max)
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


NUMPY = _NumpyOps()


def ops(*xs):
    """The namespace for the given arrays: torch if any is a tensor, else numpy."""
    if is_torch(*xs):
        from ._torch_ops import TORCH

        return TORCH
    return NUMPY


def __getattr__(name):  # TORCH, _TorchOps, _WrightOmega: built on first use (they import torch)
    if name in ("TORCH", "_TorchOps", "_WrightOmega"):
        from . import _torch_ops

        return getattr(_torch_ops, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

