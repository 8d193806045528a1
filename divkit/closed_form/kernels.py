"""Numerically stable kernels shared by the Normal and MultivariateNormal closed forms: g(x) = x − log1p(x)
and the α-divergence from a log affinity log I_a."""
from __future__ import annotations

import math

import torch

# x − log1p(x) = Σ_{k≥2} (−1)^k x^k / k; 15 terms give < 1e-17 relative error for |x| ≤ 0.05
_G_COEF = [(-1.0) ** k / k for k in range(2, 17)]
_G_SMALL = 0.05


def _g_series(x):
    acc = torch.full_like(x, _G_COEF[-1])
    for c in reversed(_G_COEF[:-1]):
        acc = acc * x + c
    return acc * x * x


def _g(x):
    """x − log1p(x) ≥ 0 for x > −1, accurate to a few ulp (series near 0). Differentiable."""
    small = x.abs() <= _G_SMALL
    xs = torch.where(small, x, torch.zeros_like(x))
    xb = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, _g_series(xs), xb - torch.log1p(xb))


def _needs_grad(*ts) -> bool:
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in ts)


def _log_affinity_from_eps(a: float, maha_a, eps):
    """log I_a = a(a−1)/2 · maha_a + ½[g((1−a)ε) − (1−a) g(ε)] with the validity mask 1 + (1−a)ε > 0."""
    k = 1.0 + (1.0 - a) * eps
    ok = k > 0
    e = torch.where(ok, eps, torch.zeros_like(eps))
    val = 0.5 * a * (a - 1.0) * maha_a + 0.5 * (_g((1.0 - a) * e) - (1.0 - a) * _g(e))
    return val, ok


def _alpha_from_log_affinity(a: float, log_i, ok):
    """(I_a − 1)/(a(a−1)) = expm1(log I_a)/(a(a−1)); +inf where the affinity integral diverges.

    For log I_a > 1 the 1/(a(a−1)) goes inside the exp (I_a itself may overflow where the result does not).
    """
    c = a * (a - 1.0)
    big = log_i > 1.0
    small = torch.expm1(torch.where(big, torch.zeros_like(log_i), log_i)) / c
    large = math.copysign(1.0, c) * torch.exp(torch.where(big, log_i, torch.zeros_like(log_i)) - math.log(abs(c))) - 1.0 / c
    val = torch.where(big, large, small)
    return torch.where(ok, val, torch.full_like(val, math.inf))
