"""The registered f-divergences, a few lines each; `get(name)`, `names()`, `alpha(a)`.

Generators (u = p/q ≥ 0; D_f = ∫ q f(p/q), nats) and the derived pieces, see docs/divergences.md (generated
from this code) and ../shared/REFERENCE.md §1. Conjugates are taken over u ≥ 0, which is what the divergence
uses: e.g. TV's f*(t) = max(t, −½) for t ≤ ½ (the f-GAN table's "|t| ≤ ½" treats f as defined on ℝ), and
Pearson's f*(t) = −1 for t < −2 (the f-GAN paper's ¼t² + t on ℝ is a valid but looser bound).

The `js` entry is the true Jensen-Shannon divergence (≤ log 2); the f-GAN paper's "Jensen-Shannon" row is
2·JS (use `dk.from_generator` or scale). `gan` is 2·JS − log 4 (Goodfellow et al. 2014), f(1) = −log 4.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._array import finfo, ops
from ._stable import em1mx, g1p, symlog
from .fdiv import FDivergence, Interval

LOG2 = math.log(2.0)
REAL = Interval()


def _log1mexp(o, x):
    """log(1 − e^x) for x < 0 at full relative accuracy (Mächler 2012): log(−expm1 x) near 0, log1p(−e^x) below."""
    near = x > -LOG2
    xn = o.where(near, x, o.full_like(x, -1.0))
    xf = o.where(near, o.full_like(x, -1.0), x)
    return o.where(near, o.log(-o.expm1(xn)), o.log1p(-o.exp(xf)))


def _a(x):
    o = ops(x)
    return o, o.asarray(x)


def _guard(o, ok, t, fill):
    """Replace t outside `ok` by a harmless `fill` before an unsafe op (finite torch gradients)."""
    return o.where(ok, t, o.full_like(t, fill))


def _inf_outside(o, ok, value):
    return o.where(ok, value, o.full_like(value, math.inf))


# ---------------------------------------------------------------- generators in three regimes
# Every catalogue generator is written as three cancellation-free pieces (see FDivergence.integrand):
#   near(x)            = f(1 + x) for −½ ≤ x ≤ 1, x given exactly (expm1/log1p/series forms);
#   low(u, lu, w, lw)  = w·f(u) for 0 ≤ u ≤ ½ with lu = log u and lw = log w supplied exactly;
#   dual(s, ls, w, lw) = w·f⋄(s), f⋄(s) = s·f(1/s), for 0 ≤ s ≤ ½ (the integrand p·f⋄(q/p) where p > 2q).
# The public f(u) uses near on [½, 2], low below and u·f⋄(1/u) (or a direct `big` form) above.
def _lw(o, w, lw):
    return o.log(w) if lw is None else lw


def _xl(o, u, lu):
    """u·log u with 0·log 0 = 0 (gradient-safe at u = 0)."""
    pos = u > 0
    return o.where(pos, u * o.where(pos, lu, o.full_like(lu, 0.0)), o.full_like(u, 0.0))


def _w_over(o, w, lw, s, ls, tiny):
    """w/s, in log space (e^{log w − log s}) where s is subnormal (its relative precision is lost)."""
    ok = s >= tiny
    sg = o.where(ok, s, o.full_like(s, 1.0))
    return o.where(ok, w / sg, o.exp(_lw(o, w, lw) - ls))


def _tiny(x) -> float:
    return float(finfo(x.dtype).tiny)


def _huge(x) -> float:
    return float(finfo(x.dtype).max)


def _generator(near, low, dual, big=None):
    """(f, f_near, f_log, f_dual) from the three pieces; f(u) is accurate on [0, ∞) including u ≈ 1."""
    def f(u):
        with np.errstate(all="ignore"):  # the unused branches see guarded values only; log(0) = −inf is meant
            return _f(u)

    def _f(u):
        o, u = _a(u)
        nr = (u >= 0.5) & (u <= 2.0)
        lo = (u >= 0) & (u < 0.5)
        hi = u > 2.0
        vn = near(o.where(nr, u - 1.0, o.full_like(u, 0.0)))
        ul = o.where(lo, u, o.full_like(u, 0.25))
        one = o.full_like(u, 1.0)
        vl = low(ul, o.log(ul), one, o.full_like(u, 0.0))
        ub = o.where(hi, u, o.full_like(u, 4.0))
        if big is not None:
            vb = big(ub)
        else:
            lub = o.log(ub)
            vb = dual(1.0 / ub, -lub, ub, lub)
        out = o.where(hi, vb, o.full_like(u, math.nan) + u)
        return o.where(nr, vn, o.where(lo, vl, out))

    def f_near(x):
        o, x = _a(x)
        return near(x)

    def f_log(u, lu=None, w=None, lw=None):
        o, u = _a(u)
        lu = o.log(u) if lu is None else lu
        w = o.full_like(u, 1.0) if w is None else w
        return low(u, lu, w, lw)

    def f_dual(s, ls=None, w=None, lw=None):
        o, s = _a(s)
        ls = o.log(s) if ls is None else ls
        w = o.full_like(s, 1.0) if w is None else w
        return dual(s, ls, w, lw)

    return f, f_near, f_log, f_dual


def _pieces(fns):
    f, fn, fl, fd = fns
    return {"f_near": fn, "f_log": fl, "f_dual": fd}


# ---------------------------------------------------------------- KL: f(u) = u log u
def _kl_pieces():
    def near(x):
        return (1.0 + x) * ops(x).log1p(x)

    def low(u, lu, w, lw):
        return w * _xl(ops(u), u, lu)

    def dual(s, ls, w, lw):  # f⋄(s) = −log s
        return -w * ls

    return _generator(near, low, dual, big=lambda u: ops(u).xlogy(u, u))


def _kl():
    fns = _kl_pieces()
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return o.log(u) + 1.0

    def conj(t):
        o, t = _a(t)
        return o.exp(t - 1.0)

    def act(v):
        o, v = _a(v)
        return v * 1.0

    def qt(v):
        o, v = _a(v)
        return o.safe_exp(v - 1.0)

    return FDivergence("kl", f, fp, conj, REAL, REAL, act, act, qt, threshold=1.0, f_at_zero=0.0,
                       description="Kullback-Leibler KL(P||Q) = ∫ p log(p/q)", family="kl",
                       source="u*log(u)", activation_source="v", kl_parts=(False,), **_pieces(fns))


# ---------------------------------------------------------------- reverse KL: f(u) = −log u
def _reverse_kl():
    def near(x):
        return -ops(x).log1p(x)

    def low(u, lu, w, lw):
        return -w * lu

    def dual(s, ls, w, lw):  # f⋄(s) = s log s
        return w * _xl(ops(s), s, ls)

    fns = _generator(near, low, dual, big=lambda u: -ops(u).log(u))
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return -1.0 / u

    def conj(t):
        o, t = _a(t)
        ok = t < 0
        return _inf_outside(o, ok, -1.0 - o.log(-_guard(o, ok, t, -1.0)))

    def act(v):
        o, v = _a(v)
        return -o.safe_exp(-v)

    def qt(v):
        o, v = _a(v)
        return v - 1.0

    return FDivergence("reverse_kl", f, fp, conj, Interval(hi=0.0), Interval(hi=0.0), act, act, qt,
                       threshold=-1.0, f_over_u_at_inf=0.0,
                       description="reverse KL(Q||P) = ∫ q log(q/p)", family="reverse_kl",
                       source="-log(u)", activation_source="-exp(-v)", kl_parts=(True,), **_pieces(fns))


# ---------------------------------------------------------------- Pearson chi^2: f(u) = (u − 1)^2
def _pearson():
    def near(x):
        return x * x

    def low(u, lu, w, lw):
        return w * (u - 1.0) ** 2

    def dual(s, ls, w, lw):  # f⋄(s) = (1 − s)²/s
        o = ops(s)
        return _w_over(o, w, lw, s, ls, _tiny(s)) * (1.0 - s) ** 2

    fns = _generator(near, low, dual, big=lambda u: (u - 1.0) ** 2)
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return 2.0 * (u - 1.0)

    def conj(t):
        o, t = _a(t)
        return o.where(t >= -2.0, 0.25 * t * t + t, o.full_like(t, -1.0))

    def act(v):
        o, v = _a(v)
        return v * 1.0

    return FDivergence("pearson", f, fp, conj, REAL, Interval(lo=-2.0), act, act, conj,
                       threshold=0.0, f_at_zero=1.0, description="Pearson χ²(P||Q) = ∫ (p − q)²/q", family="pearson",
                       source="(u - 1)**2", activation_source="v",
                       **_pieces(fns))


def _one_minus_exp_neg(o, v):
    """1 − e^{−v}, exact (expm1 near 0, safe_exp beyond: exact up to overflow, finfo.max/16 past it)."""
    small = -v < 1.0
    vv = o.where(small, v, o.full_like(v, 0.0))
    return o.where(small, -o.expm1(-vv), 1.0 - o.safe_exp(-v))


# ---------------------------------------------------------------- Neyman chi^2: f(u) = (1 − u)^2 / u
def _neyman():
    def near(x):
        return x * x / (1.0 + x)

    def low(u, lu, w, lw):
        o = ops(u)
        return _w_over(o, w, lw, u, lu, _tiny(u)) * (1.0 - u) ** 2

    def dual(s, ls, w, lw):  # f⋄(s) = (1 − s)²
        return w * (1.0 - s) ** 2

    fns = _generator(near, low, dual)
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return 1.0 - 1.0 / (u * u)

    def conj(t):
        o, t = _a(t)
        ok = t <= 1.0
        return _inf_outside(o, ok, 2.0 - 2.0 * o.sqrt(1.0 - _guard(o, ok, t, 0.0)))

    def act(v):
        o, v = _a(v)
        return _one_minus_exp_neg(o, v)

    def qt(v):
        o, v = _a(v)
        return 2.0 - o.safe_exp(LOG2 - 0.5 * v)  # the factor 2 inside: finite up to the cut

    return FDivergence("neyman", f, fp, conj, Interval(hi=1.0, hi_closed=True), Interval(hi=1.0),
                       act, act, qt, threshold=0.0, f_over_u_at_inf=1.0,
                       description="Neyman χ²(P||Q) = ∫ (p − q)²/p", family="neyman",
                       source="(1 - u)**2/u", activation_source="1 - exp(-v)", **_pieces(fns))


# ---------------------------------------------------------------- squared Hellinger: f(u) = (√u − 1)^2
def _squared_hellinger():
    def near(x):
        y = x / (ops(x).sqrt(1.0 + x) + 1.0)  # √(1+x) − 1 without cancellation
        return y * y

    def low(u, lu, w, lw):
        return w * (ops(u).sqrt(u) - 1.0) ** 2

    fns = _generator(near, low, low)  # self-dual: s·f(1/s) = (1 − √s)²
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return 1.0 - 1.0 / o.sqrt(u)

    def conj(t):
        o, t = _a(t)
        ok = t < 1.0
        tt = _guard(o, ok, t, 0.0)
        return _inf_outside(o, ok, tt / (1.0 - tt))

    def act(v):
        o, v = _a(v)
        return _one_minus_exp_neg(o, v)

    def qt(v):
        o, v = _a(v)
        # f*(1 − e^{−v}) = e^{v} − 1
        big = v > 1.0
        vv = o.where(big, o.full_like(v, 0.0), v)
        return o.where(big, o.safe_exp(v) - 1.0, o.expm1(vv))

    return FDivergence("squared_hellinger", f, fp, conj, Interval(hi=1.0), Interval(hi=1.0), act, act, qt,
                       threshold=0.0, f_at_zero=1.0, f_over_u_at_inf=1.0,
                       description="squared Hellinger ∫ (√p − √q)² = 2(1 − BC), in [0, 2]",
                       family="squared_hellinger",
                       source="(sqrt(u) - 1)**2", activation_source="1 - exp(-v)", **_pieces(fns))


# ---------------------------------------------------------------- Jensen-Shannon (true, ≤ log 2)
def _js_near(x):
    # f(1 + x) = ½ symlog(w)/(1 − w), w = x/(2 + x): the two ~x terms of the definition cancel analytically
    w = x / (2.0 + x)
    return 0.5 * symlog(w) / (1.0 - w)


def _js_low(u, lu, w, lw):
    o = ops(u)
    return w * (0.5 * (_xl(o, u, lu) - (u + 1.0) * (o.log1p(u) - LOG2)))


def _js():
    fns = _generator(_js_near, _js_low, _js_low)  # self-dual
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return 0.5 * (LOG2 + o.log(u) - o.log1p(u))

    def conj(t):
        o, t = _a(t)
        ok = t < 0.5 * LOG2
        tt = _guard(o, ok, t, 0.0)
        # −½ log(2 − e^{2t}) = −½ [log 2 + log(1 − e^{2t − log 2})]
        return _inf_outside(o, ok, -0.5 * (LOG2 + _log1mexp(o, 2.0 * tt - LOG2)))

    def act(v):
        o, v = _a(v)
        return 0.5 * LOG2 - 0.5 * o.softplus(-v)

    def qt(v):
        o, v = _a(v)
        return 0.5 * o.softplus(v) - 0.5 * LOG2

    return FDivergence("js", f, fp, conj, Interval(hi=0.5 * LOG2), Interval(hi=0.5 * LOG2), act, act, qt,
                       threshold=0.0, f_at_zero=0.5 * LOG2, f_over_u_at_inf=0.5 * LOG2,
                       description="Jensen-Shannon ½KL(P||M) + ½KL(Q||M), M = (P+Q)/2, ≤ log 2", family="js",
                       source="(u*log(u) - (u + 1)*log((u + 1)/2))/2",
                       activation_source="log(2)/2 - log(1 + exp(-v))/2",
                       **_pieces(fns))


# ---------------------------------------------------------------- GAN: 2·JS − log 4
def _gan():
    def near(x):  # f = 2·f_JS − (u + 1) log 2
        return 2.0 * _js_near(x) - (2.0 + x) * LOG2

    def low(u, lu, w, lw):
        o = ops(u)
        return w * (_xl(o, u, lu) - (u + 1.0) * o.log1p(u))

    fns = _generator(near, low, low)  # self-dual; f(u) = u·f(1/u) for u > 2 (no u log u − u log u)
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return o.log(u) - o.log1p(u)

    def conj(t):
        o, t = _a(t)
        ok = t < 0.0
        tt = _guard(o, ok, t, -1.0)
        return _inf_outside(o, ok, -_log1mexp(o, tt))

    def act(v):
        o, v = _a(v)
        return -o.softplus(-v)

    def qt(v):
        o, v = _a(v)
        return o.softplus(v)

    return FDivergence("gan", f, fp, conj, Interval(hi=0.0), Interval(hi=0.0), act, act, qt,
                       threshold=-LOG2, f_at_one=-2.0 * LOG2, f_at_zero=0.0, f_over_u_at_inf=0.0,
                       description="GAN value at the optimal discriminator, 2·JS − log 4", family="gan",
                       source="u*log(u) - (u + 1)*log(u + 1)", activation_source="-log(1 + exp(-v))",
                       **_pieces(fns))


# ---------------------------------------------------------------- total variation: f(u) = ½|u − 1|
def _tv():
    def low(u, lu, w, lw):
        return w * (0.5 * (1.0 - u))

    fns = _generator(lambda x: 0.5 * ops(x).abs(x), low, low, big=lambda u: 0.5 * (u - 1.0))
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return 0.5 * o.sign(u - 1.0)

    def conj(t):
        o, t = _a(t)
        ok = t <= 0.5
        return _inf_outside(o, ok, o.maximum(t, o.full_like(t, -0.5)))

    def act(v):
        o, v = _a(v)
        return 0.5 * o.tanh(v)

    return FDivergence("tv", f, fp, conj, Interval(hi=0.5, hi_closed=True),
                       Interval(-0.5, 0.5, True, True), act, act, act, threshold=0.0, f_at_zero=0.5,
                       f_over_u_at_inf=0.5, description="total variation ½∫|p − q|", family="tv",
                       source="Abs(u - 1)/2", activation_source="tanh(v)/2", **_pieces(fns))


# ---------------------------------------------------------------- Jeffreys: f(u) = (u − 1) log u
def _jeffreys():
    def low(u, lu, w, lw):
        return w * ((u - 1.0) * lu)

    fns = _generator(lambda x: x * ops(x).log1p(x), low, low,  # self-dual
                     big=lambda u: (u - 1.0) * ops(u).log(u))
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return o.log(u) + 1.0 - 1.0 / u

    def conj(t):
        # u* = 1/w with w = W(e^{1−t}) = ω(1 − t);  f* = 1/w + w + t − 2. Since w + log w = 1 − t, this is
        # 1/w − log w − 1 without the cancellation of w + t (|t|·eps absolute error for t → −∞), and
        # 1/w = e^{w + t − 1} stays finite-safe when w underflows.
        o, t = _a(t)
        w = o.wrightomega(1.0 - t)
        pos = w > 1.0  # log w directly where large; 1 − t − w (no cancellation, no 1/w in the gradient) below
        log_w = o.where(pos, o.log(_guard(o, pos, w, 1.0)), (1.0 - t) - w)
        return o.exp(w + t - 1.0) - log_w - 1.0

    def act(v):
        o, v = _a(v)
        return v * 1.0

    def qt(v):
        # same as conj (1/w − log w − 1, no w + v cancellation), 1/w continued by safe_exp for v → +∞
        o, v = _a(v)
        w = o.wrightomega(1.0 - v)
        pos = w > 1.0  # log w directly where large; 1 − v − w (no cancellation, no 1/w in the gradient) below
        log_w = o.where(pos, o.log(_guard(o, pos, w, 1.0)), (1.0 - v) - w)
        return o.safe_exp(w + v - 1.0) - log_w - 1.0

    return FDivergence("jeffreys", f, fp, conj, REAL, REAL, act, act, qt, threshold=0.0,
                       description="Jeffreys KL(P||Q) + KL(Q||P)", family="jeffreys",
                       source="(u - 1)*log(u)", activation_source="v", kl_parts=(False, True), **_pieces(fns))


# ---------------------------------------------------------------- alpha family
def _log_softplus(o, x):
    """log(softplus(x)) without underflow: softplus(x) ≈ e^x for x → −∞."""
    lo = x < -30.0
    xs = o.where(lo, o.full_like(x, 0.0), x)
    return o.where(lo, x, o.log(o.softplus(xs)))


def _paren(x: Fraction) -> str:
    """A rational in sympy syntax, parenthesised unless a non-negative integer."""
    return f"({x})" if (x < 0 or x.denominator != 1) else str(x)


def alpha(a: float) -> FDivergence:
    """The α-divergence, f(u) = (u^a − 1 − a(u − 1)) / (a(a − 1)), a ∉ {0, 1}.

    a → 1 gives KL, a → 0 reverse KL, a = 2 is ½·Pearson, a = −1 is ½·Neyman, a = ½ is 2·squared Hellinger.
    f*(t) = (1/a)(1 + (a−1)t)^{a/(a−1)} − 1/a. For a < 1 the domain is t < 1/(1−a) (closed for a < 0) and
    g_f(v) = 1/(1−a) − softplus(−v); for a > 1 the base is clamped at 0 (f* = −1/a for t < −1/(a−1), the true
    value since u ≥ 0), dom f* = ℝ and g_f(v) = v.
    """
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise TypeError(f"alpha: a must be a real number, got {type(a).__name__}")
    a = float(a)
    if not math.isfinite(a) or a in (0.0, 1.0):
        raise ValueError(f"alpha: a must be finite and not 0 or 1 (a → 1 is 'kl', a → 0 is 'reverse_kl'), got {a}")
    k = a / (a - 1.0)
    denom = a * (a - 1.0)

    def near(x):
        # (1+x)^a − 1 − a x = [expm1(y) − y] − a[x − log1p(x)], y = a log1p(x): both brackets ~x², no 1 − 1
        o = ops(x)
        return (em1mx(a * o.log1p(x)) - a * g1p(x)) / denom

    log_den, sgn = math.log(abs(denom)), math.copysign(1.0, denom)

    def low_of(b):  # w·(u^b − (1 − b) − b u)/denom
        def low(u, lu, w, lw):
            # w u^b/|denom|: (w/|denom|)·u^b while u^b is finite (pow: ~1 ulp; an exp of b log u would pass on
            # eps·|b log u|, 88 ulps near float32 overflow); beyond, (u·(w/|denom|)^{1/b})^b (≈ (2|b| + 1) ulps,
            # finite wherever the product is); where that factor over/underflows, e^{b log u + log w − log|denom|}.
            o = ops(u)
            big = _huge(u)
            t = b * lu
            wd = w / abs(denom)
            normal = u >= _tiny(u)  # a subnormal u = p/q has lost its digits: only log u (exact) is usable
            fits = (t <= math.log(big) - 1.0) & normal
            one = o.full_like(u, 1.0)
            direct = wd * o.where(fits, u, one) ** b
            k = o.where(fits, one, o.where(wd > 0, wd, one)) ** (1.0 / b)
            split_ok = o.isfinite(k) & (k > 0) & normal
            split = (o.where(fits, one, u) * o.where(split_ok, k, one)) ** b
            logf = o.exp(o.where(fits | split_ok, o.full_like(t, 0.0), t + _lw(o, w, lw) - log_den))
            e = o.where(fits, direct, o.where(split_ok, split, logf))
            return sgn * e - w * ((1.0 - b) + b * u) / denom
        return low

    fns = _generator(near, low_of(a), low_of(1.0 - a))  # f⋄ of α(a) is α(1 − a)'s generator
    f = fns[0]

    def fp(u):
        o, u = _a(u)
        return o.expm1((a - 1.0) * o.log(u)) / (a - 1.0)

    def conj(t):
        o, t = _a(t)
        base = 1.0 + (a - 1.0) * t
        if a > 1:
            pos = base > 0
            bb = _guard(o, pos, base, 1.0)
            return o.where(pos, o.exp(k * o.log(bb)) / a, o.full_like(t, 0.0)) - 1.0 / a
        ok = base > 0
        bb = _guard(o, ok, base, 1.0)
        val = o.exp(k * o.log(bb)) / a - 1.0 / a
        if a < 0:  # boundary t = 1/(1−a) is in the domain, value −1/a
            val = o.where(base == 0, o.full_like(t, -1.0 / a), val)
            ok = base >= 0
        return _inf_outside(o, ok, val)

    if a > 1:
        def act(v):
            o, v = _a(v)
            return v * 1.0

        def qt(v):
            o, v = _a(v)
            base = 1.0 + (a - 1.0) * v
            pos = base > 0
            bb = _guard(o, pos, base, 1.0)
            return o.where(pos, o.safe_exp(k * o.log(bb)) / a, o.full_like(v, 0.0)) - 1.0 / a

        dom, crit = REAL, Interval(lo=-1.0 / (a - 1.0))
        f0, fuinf = 1.0 / a, math.inf
    else:
        def act(v):
            o, v = _a(v)
            return 1.0 / (1.0 - a) - o.softplus(-v)

        def qt(v):
            # base 1 + (a−1) g = (1 − a)·softplus(−v)
            o, v = _a(v)
            # 1/a folded into the exponent so that |1/a| > 1 cannot overflow the continued exp
            e = o.safe_exp(k * (math.log(1.0 - a) + _log_softplus(o, -v)) - math.log(abs(a)))
            return (e if a > 0 else -e) - 1.0 / a

        dom = Interval(hi=1.0 / (1.0 - a), hi_closed=a < 0)
        crit = Interval(hi=1.0 / (1.0 - a))
        f0 = 1.0 / a if a > 0 else math.inf
        fuinf = 1.0 / (1.0 - a) if a < 1 else math.inf
    ra = Fraction(repr(a))  # the decimal a as an exact rational (0.3 -> 3/10), as divkit.symbolic reads it
    act_src = "v" if a > 1 else f"{_paren(1 / (1 - ra))} - log(1 + exp(-v))"
    return FDivergence(f"alpha({a:g})", f, fp, conj, dom, crit, act, act, qt, threshold=0.0,
                       f_at_zero=f0, f_over_u_at_inf=fuinf, params={"a": a},
                       source=f"(u**{_paren(ra)} - 1 - {_paren(ra)}*(u - 1))/{_paren(ra * (ra - 1))}",
                       activation_source=act_src,
                       description=f"α-divergence with a = {a:g}", family="alpha", **_pieces(fns))


_FACTORIES = {
    "kl": _kl,
    "reverse_kl": _reverse_kl,
    "pearson": _pearson,
    "neyman": _neyman,
    "squared_hellinger": _squared_hellinger,
    "js": _js,
    "gan": _gan,
    "tv": _tv,
    "jeffreys": _jeffreys,
}
_REGISTRY: dict[str, FDivergence] = {}


def register(div: FDivergence, *, overwrite: bool = False) -> FDivergence:
    """Add a divergence to the registry (e.g. one made by `from_generator`)."""
    if not isinstance(div, FDivergence):
        raise TypeError(f"register: expected an FDivergence, got {type(div).__name__}")
    if div.name in _REGISTRY and not overwrite:
        raise ValueError(f"register: {div.name!r} is already registered (pass overwrite=True)")
    _REGISTRY[div.name] = div
    return div


for _n, _fac in _FACTORIES.items():
    register(_fac())


def names() -> list[str]:
    """Registered divergence names (the alpha family is `alpha(a)`, also reachable as get('alpha(0.5)'))."""
    return list(_REGISTRY)


def get(name: str | FDivergence) -> FDivergence:
    """Look up a divergence by name; an FDivergence is returned unchanged. 'alpha(a)' builds the α member."""
    if isinstance(name, FDivergence):
        return name
    if not isinstance(name, str):
        raise TypeError(f"divergence must be a name (str) or an FDivergence, got {type(name).__name__}")
    key = name.strip().lower()
    if not key.startswith("alpha("):
        key = key.replace("-", "_")
    if key in _REGISTRY:
        return _REGISTRY[key]
    if key.startswith("alpha(") and key.endswith(")"):
        try:
            a = float(key[6:-1])
        except ValueError:
            raise ValueError(f"divergence {name!r}: could not read a in 'alpha(a)'") from None
        return alpha(a)
    raise ValueError(f"unknown divergence {name!r}; known: {', '.join(names())}, and alpha(a) for real a ∉ {{0, 1}}")
