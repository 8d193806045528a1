"""Array-namespace helpers: one formula serves numpy and torch.

`ops(x)` returns the numpy or torch implementation of the few elementwise functions the divergences need.
numpy in -> numpy out; torch in -> torch out (device and dtype preserved). Python scalars are treated as
float64 numpy values.

Stability notes (see scipy.special, optax numerics):
- `softplus(x) = log1p(exp(-|x|)) + max(x, 0)` never overflows.
- `safe_exp(x)` is exp(x), exact (the library exp, ~1 ulp) wherever e^x is representable, i.e. up to
  x = `exp_max_arg(dtype)` (the largest x of the dtype whose exp is finite: 88.72 in float32, 709.78 in
  float64). Beyond, where no finite value is right, the value is finfo.max/16 (`SATURATION_HEADROOM`), so a
  constant factor up to 16 in a fused term, or a sum of up to 16 saturated terms, stays finite (the value
  is not monotone at the overflow point: just below it e^x is up to 16 times larger); in torch the gradient
  there is the slope of exp at `exp_cut(dtype)` = log(max) − log(16·(1 + log1p(log1p(max)))) (4.48 nats
  below overflow in float32/bfloat16, 4.80 in float64): finite and positive for every finite input. x = +inf
  gives +inf. (Issue 11 item 10: the continuation used to start at log(max) − 20, then log(max) − 4.5 nats,
  losing the digits of exp in between: `kl.q_term(80.0)` in float32 was 7.9e30 for e^79 = 2.04e34.) Used
  only inside the fused f-GAN loss terms, never in an exact conjugate.
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
    """Where `safe_exp`'s gradient beyond overflow is taken: log(max) − log(16·(1 + log1p(log1p(max))))."""
    m = float(finfo(dtype).max)
    return math.log(m) - math.log(16.0) - math.log1p(math.log1p(math.log1p(m)))


#: beyond overflow safe_exp returns finfo.max / SATURATION_HEADROOM (see the module docstring)
SATURATION_HEADROOM = 16.0

_EXP_MAX_ARG: dict = {}


def exp_max_arg(dtype) -> float:
    """The largest x representable in `dtype` whose exp (numpy's or torch's, as the dtype belongs to) is finite,
    found once per dtype by stepping down from log(max) in the dtype's own arithmetic (both a scalar and a
    vectorised call must stay finite: SIMD and scalar exp may differ in the last ulp)."""
    key = str(dtype)
    if key not in _EXP_MAX_ARG:
        t = sys.modules.get("torch")
        is_t = t is not None and isinstance(dtype, t.dtype)
        m = math.log(float(finfo(dtype).max))

        def finite(c):
            if t is not None and is_t:
                v = t.full((1,), c, dtype=dtype)
                w = t.full((1031,), c, dtype=dtype)
                return bool(t.isfinite(t.exp(v)).all()) and bool(t.isfinite(t.exp(w)).all())
            with np.errstate(over="ignore"):
                return bool(np.isfinite(np.exp(np.full(1, c, dtype=dtype))).all()) and bool(
                    np.isfinite(np.exp(np.full(1031, c, dtype=dtype))).all())

        if t is not None and is_t:
            ct = t.tensor(m, dtype=dtype)
            while not finite(float(ct)):
                ct = t.nextafter(ct, t.tensor(-math.inf, dtype=dtype))
            c = float(ct)
        else:
            cn = np.asarray(m, dtype=dtype)
            while not finite(float(cn)):
                cn = np.nextafter(cn, np.asarray(-np.inf, dtype=dtype))
            c = float(cn)
        _EXP_MAX_ARG[key] = c
    return _EXP_MAX_ARG[key]


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
        c = exp_max_arg(x.dtype)
        y = np.exp(np.minimum(x, c))  # exact where representable (x ≤ c); then finfo.max, +inf only at x = +inf
        over = x > c
        if np.any(over):
            sat = np.asarray(float(finfo(x.dtype).max) / SATURATION_HEADROOM, dtype=y.dtype)
            y = np.where(over & (x < np.inf), sat, np.where(over, x, y))
        return y

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

