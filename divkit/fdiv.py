"""FDivergence: one object per f-divergence, defined by its generator f.

D_f(P || Q) = ∫ q(x) f(p(x)/q(x)) dx  (nats), f convex on u ≥ 0.

Everything else derives from f (Nguyen, Wainwright & Jordan 2010; Nowozin, Cseke & Tomioka 2016, "f-GAN"):

- Fenchel conjugate  f*(t) = sup_{u ≥ 0} (u·t − f(u)); `conjugate_domain` is its effective domain
  {t : f*(t) < ∞} and `conjugate` returns +inf outside it.
- Variational bound  D_f(P||Q) ≥ sup_T E_P[T] − E_Q[f*(T)], tight at T* = f'(p/q) (`f_prime`); the values
  of f' on u > 0 form `critic_range` (where optimal critics live; it can be smaller than dom f*, e.g.
  Pearson: f*(t) = −1 for t < −2, so dom f* = ℝ but T* > −2).
- f-GAN output activation  g_f: ℝ → dom f*, applied to the raw critic output v (`activation`).
- Fused loss terms  `p_term(v) = g_f(v)` and `q_term(v) = f*(g_f(v))`, written in closed form with
  softplus/expm1/log1p. Never compute conjugate(activation(v)): 1 − (1 − e^{−v}) or log(1 − e^t) lose all
  digits. The f-GAN critic maximises mean(p_term(v_p)) − mean(q_term(v_q)).
- `threshold = f'(1)`: the critic value at P = Q.

All callables take numpy arrays (→ numpy) or torch tensors (→ torch, dtype/device kept, differentiable).

Warning: `p_term`/`q_term` follow the exact formula while the result is representable and continue along
the tangent of exp beyond ≈ log(finfo.max) − 20 (see `divkit._array.safe_exp`), so f-GAN losses stay finite
with finite gradients for critic outputs up to |v| = 1e4 in float32/bf16/float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ._array import ops


@dataclass(frozen=True)
class Interval:
    """A real interval with open/closed ends; infinite ends are always open."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False

    def contains(self, t):
        """Elementwise membership (numpy bool array or torch bool tensor)."""
        o = ops(t)
        t = o.asarray(t)
        lo_ok = (t >= self.lo) if self.lo_closed else (t > self.lo)
        hi_ok = (t <= self.hi) if self.hi_closed else (t < self.hi)
        return lo_ok & hi_ok

    def __str__(self) -> str:
        if self.lo == -math.inf and self.hi == math.inf:
            return "ℝ"
        lb = "[" if self.lo_closed else "("
        rb = "]" if self.hi_closed else ")"
        return f"{lb}{_fmt(self.lo)}, {_fmt(self.hi)}{rb}"


def _fmt(x: float) -> str:
    if x == math.inf:
        return "∞"
    if x == -math.inf:
        return "−∞"
    return f"{x:.6g}"


ArrayFn = Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class FDivergence:
    """One f-divergence. See the module docstring for the meaning of every field.

    Attributes:
      name: registry name (e.g. "kl").
      f, f_prime, conjugate, activation, p_term, q_term: elementwise callables, numpy or torch.
      conjugate_domain: effective domain of f* (where f* < ∞).
      critic_range: range of f' on u > 0 (where the optimal critic T* = f'(p/q) lies).
      threshold: f'(1).
      f_at_one: f(1) (0 for a proper f-divergence; −log 4 for the GAN divergence). D(P||P) = f(1).
      f_over_u_at_inf: lim_{u→∞} f(u)/u (the weight of mass of P where Q = 0; +inf for most).
      f_at_zero: f(0) = lim_{u→0} f(u) (the weight of mass of Q where P = 0).
      expr: the sympy generator when known (str form for display), or None.
      description: one line for docs.
    """

    name: str
    f: ArrayFn
    f_prime: ArrayFn
    conjugate: ArrayFn
    conjugate_domain: Interval
    critic_range: Interval
    activation: ArrayFn
    p_term: ArrayFn
    q_term: ArrayFn
    threshold: float
    f_at_one: float = 0.0
    f_at_zero: float = math.inf
    f_over_u_at_inf: float = math.inf
    expr: Any = None
    description: str = ""
    params: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"FDivergence({self.name!r})"

    def lower_bound(self, v_p, v_q):
        """E_P[g_f(V)] − E_Q[f*(g_f(V))] from raw critic outputs; same as `divkit.bounds.fdiv_lower_bound(self, ...)`."""
        from .bounds import fdiv_lower_bound

        return fdiv_lower_bound(self, v_p, v_q)

    def integrand(self, p, q):
        """q·f(p/q) pointwise with the limits 0·f(0/0) = 0, q→0: p·f(u)/u|_{u→∞}, p→0: q·f(0).

        This is the pointwise summand of the discrete divergence; p, q ≥ 0 arrays of one world.
        """
        o = ops(p, q)
        p, q = o.asarray(p), o.asarray(q)
        both = (p > 0) & (q > 0)
        safe_q = o.where(both, q, o.full_like(q, 1.0))
        safe_p = o.where(both, p, o.full_like(p, 1.0))
        inner = safe_q * self.f(safe_p / safe_q)
        zero = o.full_like(inner, 0.0)
        # p > 0, q = 0: p * lim f(u)/u ; p = 0, q > 0: q * f(0); both zero: 0
        p_only = (p > 0) & (q <= 0)
        q_only = (p <= 0) & (q > 0)
        lim_inf = p * self.f_over_u_at_inf if self.f_over_u_at_inf != math.inf else o.where(p_only, o.full_like(p, math.inf), zero)
        lim_zero = q * self.f_at_zero if self.f_at_zero != math.inf else o.where(q_only, o.full_like(q, math.inf), zero)
        out = o.where(both, inner, zero)
        out = o.where(p_only, lim_inf, out)
        out = o.where(q_only, lim_zero, out)
        return out
