"""Cancellation-free elementary pieces shared by the generators and the closed forms (numpy or torch).

All take an array of one world (see `divkit._array.ops`) and keep its dtype. Accuracy (float64, checked
against mpmath in tests/divkit/test_stable.py): a few ulps of the result on the whole stated domain.

- `g1p(x)    = x − log1p(x)`            x > −1      (≥ 0; ~x²/2 near 0: atanh series in z = x/(2+x))
- `em1mx(y)  = expm1(y) − y`            all y       (~y²/2 near 0: Taylor series for |y| ≤ 1)
- `symlog(w) = (1+w)log1p(w) + (1−w)log1p(−w)`  |w| < 1  (even, ~w²: series for |w| ≤ 0.1)
- `ratio_log(p, q) = log(p/q)` for p, q > 0 at full accuracy even where p/q is subnormal or overflows
  (log p − log q there), scipy `rel_entr`'s rule.
"""
from __future__ import annotations

import math

from ._array import finfo, ops

# S(w) = Σ_{k≥0} w^k/(2k+3): atanh(z) = z + z³ S(z²); |z| ≤ 1/3 ⇒ w ≤ 1/9, 16 terms < 1e-17 relative
_ATANH_TAIL = [1.0 / (2 * k + 3) for k in range(16)]
# E(y)/y² = Σ_{k≥0} y^k/(k+2)!; |y| ≤ 1: 17 terms < 1e-18 relative
_EXP_TAIL = [1.0 / math.factorial(k + 2) for k in range(17)]
# symlog(w)/w² = Σ_{k≥0} 2 w^{2k}/((2k+2)(2k+1)); |w| ≤ 0.1: 9 terms < 1e-18 relative
_SYM_TAIL = [2.0 / ((2 * k + 2) * (2 * k + 1)) for k in range(9)]


def _horner(coefs, w):
    acc = w * 0.0 + coefs[-1]
    for c in reversed(coefs[:-1]):
        acc = acc * w + c
    return acc


def g1p(x):
    """x − log1p(x) for x > −1, ≥ 0, relative error ≤ ~4 ulps (series branch for −½ ≤ x ≤ 1)."""
    o = ops(x)
    x = o.asarray(x)
    near = (x >= -0.5) & (x <= 1.0)
    xn = o.where(near, x, o.full_like(x, 0.0))
    z = xn / (2.0 + xn)
    # log1p(x) = 2 atanh(z) = 2z + 2z³S(z²) and x − 2z = x²/(2 + x) exactly
    series = xn * xn / (2.0 + xn) - 2.0 * z * z * z * _horner(_ATANH_TAIL, z * z)
    xf = o.where(near, o.full_like(x, 2.0), x)
    return o.where(near, series, xf - o.log1p(xf))


def em1mx(y):
    """expm1(y) − y, relative error ≤ ~4 ulps (Taylor series for |y| ≤ 1)."""
    o = ops(y)
    y = o.asarray(y)
    near = o.abs(y) <= 1.0
    yn = o.where(near, y, o.full_like(y, 0.0))
    yf = o.where(near, o.full_like(y, 2.0), y)
    return o.where(near, yn * yn * _horner(_EXP_TAIL, yn), o.expm1(yf) - yf)


def symlog(w):
    """(1+w)log1p(w) + (1−w)log1p(−w) for |w| < 1 (= 2Σ w^{2k}/(2k(2k−1)) ≥ 0), ≤ ~10 ulps."""
    o = ops(w)
    w = o.asarray(w)
    near = o.abs(w) <= 0.1
    wn = o.where(near, w, o.full_like(w, 0.0))
    wf = o.where(near, o.full_like(w, 0.5), w)
    direct = (1.0 + wf) * o.log1p(wf) + (1.0 - wf) * o.log1p(-wf)
    return o.where(near, wn * wn * _horner(_SYM_TAIL, wn * wn), direct)


def ratio_log(p, q, r=None):
    """log(p/q) for p, q > 0: log of the ratio where it is a normal number, log p − log q elsewhere."""
    o = ops(p, q)
    if r is None:
        r = p / q
    tiny, big = _tiny_big(r)
    ok = (r >= tiny) & (r <= big)
    rg = o.where(ok, r, o.full_like(r, 1.0))
    pg = o.where(ok, o.full_like(p, 1.0), p) if p.shape == r.shape else p
    qg = o.where(ok, o.full_like(q, 1.0), q) if q.shape == r.shape else q
    return o.where(ok, o.log(rg), o.log(pg) - o.log(qg))


def _tiny_big(x):
    fi = finfo(x.dtype)
    return float(fi.tiny), float(fi.max)
