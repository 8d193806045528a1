"""High-precision references (mpmath, 50 digits by default) for the contract tests of divkit's numerics.

They share no code with divkit's float paths: each generator is the divergence's own textbook formula
(`FDivergence.source`, a sympy string) parsed by sympy and evaluated in mpmath, inputs are converted exactly
(a float is a dyadic rational), and the result is rounded once. `normal_quad` integrates q·f(p/q) for any
divergence; `normal` and `mvn_kl` are hand-written closed forms kept as independent extra checks.

    from divkit.testing import mp as ref
    ref.discrete(p, q, dk.get("kl"))          # Σ q f(p/q) at 50 digits -> mpmath.mpf
    ref.normal_quad(dk.get("kl"), m1, s1, m2, s2)  # ∫ q f(p/q) by mpmath quadrature, for any divergence
    ref.normal(m1, s1, m2, s2, "kl")           # hand-written closed forms of N(m1, s1²) ‖ N(m2, s2²)
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import mpmath as mp

if TYPE_CHECKING:
    from ..fdiv import FDivergence

DPS = 50


@functools.lru_cache(maxsize=512)
def _lambdified(source: str) -> Callable[[mp.mpf], mp.mpf]:
    """The generator source (sympy syntax in u) parsed by sympy as written (evaluate=False: no reordering, so
    (u^a − 1 − a(u − 1)) stays exactly 0 at u = 1) and lambdified for mpmath with every integer an mpf (so
    3/10 is divided at the working precision, never as Python floats)."""
    import sympy as sp
    from sympy.printing.pycode import MpmathPrinter

    class _Printer(MpmathPrinter):
        def _print_Integer(self, e):
            return f"mpmath.mpf({e.p})"

    u = sp.Symbol("u", positive=True)
    expr = sp.parse_expr(source, local_dict={"u": u}, evaluate=False)
    if expr.free_symbols - {u}:
        raise ValueError(f"generator source {source!r} has symbols other than u")
    return sp.lambdify(u, expr, modules=[{"mpmath": mp}, "mpmath"], printer=_Printer)


def _generator(div: FDivergence) -> Callable[[mp.mpf], mp.mpf]:
    """mpmath f(u) from the divergence's own textbook formula (`FDivergence.source`, or its sympy `expr`):
    no name table, so a new divergence has its reference the moment it exists."""
    src = div.source
    if not src and div.expr is not None:
        import sympy as sp

        src = sp.sstr(div.expr)
    if not src:
        raise TypeError(f"no generator source for {div!r} (FDivergence.source is empty and expr is None)")
    return _lambdified(src)


def _extra(*xs) -> int:
    """Digits to add so that the textbook forms (u log u − (u+1) log(u+1) at u = 1e40 cancels 40 digits) keep
    `dps` after cancellation: the decimal exponent range of the inputs."""
    e = [abs(mp.log10(abs(mp.mpf(float(x))))) for x in xs if x != 0 and mp.isfinite(mp.mpf(float(x)))]
    return int(max(e, default=0)) * 2 + 10


def f(div: FDivergence, u: float, dps: int = DPS) -> mp.mpf:
    """f(u) at `dps` digits (u a float, converted exactly)."""
    with mp.workdps(dps + _extra(u)):
        return _generator(div)(mp.mpf(float(u)))


def term(div: FDivergence, p: float, q: float, dps: int = DPS) -> mp.mpf:
    """q·f(p/q) with the limits of FDivergence.integrand (p or q = 0)."""
    with mp.workdps(dps + _extra(p, q)):
        p, q = mp.mpf(float(p)), mp.mpf(float(q))
        if p == 0 and q == 0:
            return mp.mpf(0)
        if q == 0:
            return p * mp.mpf(div.f_over_u_at_inf)
        if p == 0:
            return q * mp.mpf(div.f_at_zero)
        return q * _generator(div)(p / q)


def discrete(p: Iterable[float], q: Iterable[float], div: FDivergence, dps: int = DPS) -> mp.mpf:
    """Σ_i q_i f(p_i/q_i) over the last axis of two 1-D float arrays."""
    with mp.workdps(dps + 20):
        return mp.fsum(term(div, float(a), float(b), dps) for a, b in zip(p, q))


def _normal_breaks(m1, s1, m2, s2) -> list:
    """Break points for the quadrature of a Normal pair: both means ± k σ, the crossings of the densities
    (kinks of TV-like generators) and the centres of the tilted densities p^b q^{1−b}."""
    pts = [m + k * s for m, s in ((m1, s1), (m2, s2)) for k in (-30, -8, -3, -1, 0, 1, 3, 8, 30)]
    for b in (2, -1, mp.mpf(1) / 2):
        prec = b / s1 ** 2 + (1 - b) / s2 ** 2
        if prec > 0:
            c = (b * m1 / s1 ** 2 + (1 - b) * m2 / s2 ** 2) / prec
            pts += [c + k / mp.sqrt(prec) for k in (-8, -3, 0, 3, 8)]
    if s1 != s2:  # log p = log q  <=>  a x² + b x + c = 0
        a = 1 / (2 * s2 ** 2) - 1 / (2 * s1 ** 2)
        b = m1 / s1 ** 2 - m2 / s2 ** 2
        c = m2 ** 2 / (2 * s2 ** 2) - m1 ** 2 / (2 * s1 ** 2) + mp.log(s2 / s1)
        disc = b * b - 4 * a * c
        if disc >= 0:
            pts += [(-b - mp.sqrt(disc)) / (2 * a), (-b + mp.sqrt(disc)) / (2 * a)]
    elif m1 != m2:
        pts.append((m1 + m2) / 2)
    return sorted(set(pts))


def normal_quad(div: FDivergence, m1: float, s1: float, m2: float, s2: float, dps: int = 30) -> mp.mpf:
    """D_f(N(m1, s1²) ‖ N(m2, s2²)) = ∫ q f(p/q) dx by mpmath tanh-sinh quadrature at `dps` digits, the
    generator from `FDivergence.source` (`_generator`): the reference for every registered Normal closed
    form, however it is computed. The density ratio is e^{log p − log q} at working precision (mpmath has no
    overflow), so the integrand is exact where q underflows in floats. For moderate parameters (scale ratios
    within ~1e-2..1e2, |Δ|/σ ≲ 30); returns mp.inf when the integral diverges (e.g. Pearson with
    σ1² ≥ 2σ2², detected as a non-convergent tail). Raises ValueError when quad's error estimate exceeds
    10^-(dps/2) relative."""
    with mp.workdps(dps + 10):
        m1, s1, m2, s2 = (mp.mpf(float(v)) for v in (m1, s1, m2, s2))
        f = _generator(div)
        c1, c2 = -mp.log(s1) - mp.log(2 * mp.pi) / 2, -mp.log(s2) - mp.log(2 * mp.pi) / 2

        def h(x):
            lp = c1 - ((x - m1) / s1) ** 2 / 2
            lq = c2 - ((x - m2) / s2) ** 2 / 2
            return mp.exp(lq) * f(mp.exp(lp - lq))

        # the tails' behaviour decides finiteness: p²/q (Pearson-like) grows when 1/s2² > 2/s1², etc.
        far = 60 * max(s1, s2) + abs(m1) + abs(m2)
        if not all(mp.isfinite(h(x)) and abs(h(x)) < mp.mpf(10) ** 10 for x in (-far, far)):
            return mp.inf
        val, err = mp.quad(h, [-mp.inf, *_normal_breaks(m1, s1, m2, s2), mp.inf], error=True, maxdegree=8)
        if not err <= mp.mpf(10) ** (-dps // 2) * (1 + abs(val)):
            raise ValueError(f"normal_quad: error estimate {mp.nstr(err, 3)} for value {mp.nstr(val, 10)}")
        return val


def normal(m1: float, s1: float, m2: float, s2: float, name: str, a: float | None = None, dps: int = DPS
           ) -> mp.mpf:
    """Closed forms for N(m1, s1²) ‖ N(m2, s2²): kl, reverse_kl, jeffreys, squared_hellinger, pearson, neyman,
    alpha (pass a). log I_a = (a−1) log(s2/s1) + ½ log(s2²/σ_a²) + ½a(a−1)Δ²/σ_a², σ_a² = a s2² + (1−a) s1²."""
    with mp.workdps(dps):
        m1, s1, m2, s2 = (mp.mpf(float(v)) for v in (m1, s1, m2, s2))

        def kl(m1, s1, m2, s2):  # the Δ² term apart: 1 + 1e-170 would round at any fixed precision
            return (mp.log(s2 / s1) + (s1 ** 2 - s2 ** 2) / (2 * s2 ** 2)) + (m1 - m2) ** 2 / (2 * s2 ** 2)

        def log_aff(a):
            a = mp.mpf(a)
            va = a * s2 ** 2 + (1 - a) * s1 ** 2
            if va <= 0:
                return mp.inf
            # log I_a: the σ part is exactly 0 at s1 = s2, the Δ² part is kept apart (see kl)
            return ((a - 1) * mp.log(s2 / s1) + mp.log(s2 ** 2 / va) / 2) + a * (a - 1) * (m1 - m2) ** 2 / (2 * va)

        if name == "kl":
            return kl(m1, s1, m2, s2)
        if name == "reverse_kl":
            return kl(m2, s2, m1, s1)
        if name == "jeffreys":
            return kl(m1, s1, m2, s2) + kl(m2, s2, m1, s1)
        if name == "squared_hellinger":
            return -2 * mp.expm1(log_aff(0.5))
        if name == "pearson":
            return mp.expm1(log_aff(2))
        if name == "neyman":
            return mp.expm1(log_aff(-1))
        if name == "alpha":
            la = log_aff(a)
            return mp.inf if la == mp.inf else mp.expm1(la) / (mp.mpf(a) * (mp.mpf(a) - 1))
        raise ValueError(f"normal: no closed form for {name!r}")


def mvn_kl(m0: Sequence[float], c0: Sequence[Sequence[float]], m1: Sequence[float], c1: Sequence[Sequence[float]],
           dps: int = DPS) -> mp.mpf:
    """KL(N(m0, C0) ‖ N(m1, C1)) = ½[tr(C1⁻¹C0) − k + Δᵀ C1⁻¹ Δ + log det C1 − log det C0]."""
    with mp.workdps(dps):
        a0 = mp.matrix([[mp.mpf(float(v)) for v in row] for row in c0])
        a1 = mp.matrix([[mp.mpf(float(v)) for v in row] for row in c1])
        d = mp.matrix([mp.mpf(float(a)) - mp.mpf(float(b)) for a, b in zip(m1, m0)])
        inv = a1 ** -1
        k = a0.rows
        tr = mp.fsum((inv * a0)[i, i] for i in range(k))
        maha = (d.T * inv * d)[0, 0]
        return (tr - k + mp.log(mp.det(a1)) - mp.log(mp.det(a0))) / 2 + maha / 2
