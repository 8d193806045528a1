"""High-precision references (mpmath, 50 digits by default) for the contract tests of divkit's numerics.

They share no code with divkit's float paths: each generator is written from its textbook definition in
mpmath, inputs are converted exactly (a float is a dyadic rational), and the result is rounded once.

    from divkit.testing import mp as ref
    ref.discrete(p, q, dk.get("kl"))          # Σ q f(p/q) at 50 digits -> mpmath.mpf
    ref.normal(m1, s1, m2, s2, "kl")           # closed forms of N(m1, s1²) ‖ N(m2, s2²)
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import mpmath as mp

if TYPE_CHECKING:
    from ..fdiv import FDivergence

DPS = 50


def _generator(div):
    """mpmath f(u) for a catalogue divergence (by its family tag) or a sympy-generated one (by expr)."""
    fam = getattr(div, "family", "") or ""
    if fam == "alpha":
        a = mp.mpf(div.params["a"])
        return lambda u: (u ** a - 1 - a * (u - 1)) / (a * (a - 1))
    table = {
        "kl": lambda u: u * mp.log(u),
        "reverse_kl": lambda u: -mp.log(u),
        "pearson": lambda u: (u - 1) ** 2,
        "neyman": lambda u: (1 - u) ** 2 / u,
        "squared_hellinger": lambda u: (mp.sqrt(u) - 1) ** 2,
        "js": lambda u: (u * mp.log(u) - (u + 1) * mp.log((u + 1) / 2)) / 2,
        "gan": lambda u: u * mp.log(u) - (u + 1) * mp.log(u + 1),
        "tv": lambda u: abs(u - 1) / 2,
        "jeffreys": lambda u: (u - 1) * mp.log(u),
    }
    if fam in table:
        return table[fam]
    if div.expr is not None:
        import sympy as sp

        fn = sp.lambdify(sp.Symbol("u", positive=True), div.expr, modules="mpmath")
        fn2 = sp.lambdify(sorted(div.expr.free_symbols, key=str)[0], div.expr, modules="mpmath")
        return lambda u: fn2(u) if div.expr.free_symbols else fn(u)
    raise TypeError(f"no mpmath generator for {div!r}")


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
