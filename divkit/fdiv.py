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

Warning: `p_term`/`q_term` follow the exact formula wherever its exp is representable (up to overflow) and
beyond take finfo.max/16, with a finite, positive gradient (see `divkit._array.safe_exp`), so f-GAN losses
stay finite with finite gradients for every finite critic output (sums of up to 16 saturated terms included;
`divkit.bounds.fdiv_lower_bound` averages any number without overflowing).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._array import is_torch, ops

if TYPE_CHECKING:
    from ._typing import Array


@dataclass(frozen=True)
class Interval:
    """A real interval with open/closed ends; infinite ends are always open."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_closed: bool = False
    hi_closed: bool = False

    def contains(self, t: Array) -> Array:
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
      params: the family parameters (e.g. {"a": 0.3} for `alpha(0.3)`).
      f_near: x ↦ f(1 + x), accurate for |x| ≤ 1 when x is given exactly (no cancellation near u = 1);
        None: f(1 + x).
      f_dual: (s, log_s=None, w=None) ↦ w·f⋄(s), the dual generator f⋄(s) = s·f(1/s) on 0 ≤ s ≤ 1 (the
        integrand where p > q is p·f⋄(q/p), so no ratio overflows); None: s·f(1/s) (overflows as s → 0).
      f_log: (u, log_u=None, w=None) ↦ w·f(u) on 0 ≤ u ≤ 1 with log u supplied exactly (it stays accurate
        where u = p/q is subnormal); None: w·f(u).
      family: the family tag ("alpha" for the α members, else the name of a catalogue entry, "" for others).
      source: the generator f(u) as written in sympy syntax (a string: no sympy at import), e.g. "u*log(u)";
        the test oracles (divkit.testing.mp) parse it with sympy and evaluate it in mpmath, sharing no code
        with the float paths. "" when unknown.
      activation_source: the activation g_f(v) in sympy syntax (a string in v), e.g. "v"; "" when unknown.
      kl_parts: D_f as a sum of KL terms, one entry per term, False for KL(P‖Q) and True for KL(Q‖P)
        (kl: (False,), reverse_kl: (True,), jeffreys: (False, True)); () when D_f is not such a sum. The torch
        interop (torch.distributions.kl_divergence) and the Monte Carlo log-ratio estimator read it.
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
    f_near: ArrayFn | None = None
    f_dual: Callable[..., Any] | None = None
    f_log: Callable[..., Any] | None = None
    family: str = ""
    source: str = ""
    activation_source: str = ""
    kl_parts: tuple[bool, ...] = ()

    def __repr__(self) -> str:
        return f"FDivergence({self.name!r})"

    # ---------------------------------------------------------------- the pieces of q·f(p/q)
    def _near(self, x):
        return self.f_near(x) if self.f_near is not None else self.f(1.0 + x)

    def _low(self, u, lu, w, lw=None):
        if self.f_log is not None:
            return self.f_log(u, lu, w, lw)
        return w * self.f(u)

    def _high(self, s, ls, w, lw=None):
        if self.f_dual is not None:
            return self.f_dual(s, ls, w, lw)
        o = ops(s)
        pos = s > 0
        sg = o.where(pos, s, o.full_like(s, 1.0))
        lim = o.full_like(s, self.f_over_u_at_inf)
        return w * o.where(pos, sg * self.f(1.0 / sg), lim)

    def integrand(self, p: Array, q: Array, x: Array | None = None) -> Array:
        """q·f(p/q) pointwise with the limits 0·f(0/0) = 0, q→0: p·f(u)/u|_{u→∞}, p→0: q·f(0).

        The pointwise summand of the discrete divergence (p, q ≥ 0 arrays of one world, broadcast). Three
        regimes, so that no ratio overflows and nothing cancels near p = q:
          ½ ≤ p/q ≤ 2:  q·f_near(x), x = (p − q)/q (exact to 2 ulps; scipy `rel_entr`'s log1p rule);
          p/q < ½:      q·f(u) with log u = log(p/q) (log p − log q where p/q is subnormal);
          p/q > 2:      p·f⋄(q/p), the dual generator f⋄(s) = s·f(1/s).
        Accuracy: a few ulps of each term for the catalogue divergences (see tests/divkit/test_exact.py).
        `x`, optional: (p − q)/q supplied exactly by the caller (e.g. Bernoulli's 0-side, (q₁ − p₁)/q₀, where
        p₀ = 1 − p₁ has lost the digits of p₁).
        """
        with np.errstate(all="ignore"):
            return self._integrand(p, q, x)

    def _integrand(self, p, q, xin):
        o = ops(p, q)
        p, q = o.asarray(p), o.asarray(q)
        p, q = _broadcast(p, q)
        both = (p > 0) & (q > 0)
        one = o.full_like(p, 1.0)
        pg, qg = o.where(both, p, one), o.where(both, q, one)
        with _no_grad(pg):
            r = pg / qg
        near = (r >= 0.5) & (r <= 2.0)
        low, high = r < 0.5, r > 2.0

        def guard(m, t):  # each branch sees only its own entries (others: 1), so no inf·0 in a gradient
            return o.where(m, t, one)

        pn, qn = guard(near, pg), guard(near, qg)
        xx = (pn - qn) / qn if xin is None else o.where(near, _broadcast(o.asarray(xin), p)[0], one - 1.0)
        v = qn * self._near(xx)
        if bool(low.any()):
            pl, ql = guard(low, pg), o.where(low, qg, one * 4.0)  # the guard pair has u = ¼
            ul = pl / ql
            v = o.where(low, self._low(ul, _ratio_log(pl, ql, ul), ql), v)
        if bool(high.any()):
            ph, qh = o.where(high, pg, one * 4.0), guard(high, qg)
            s = qh / ph
            v = o.where(high, self._high(s, _ratio_log(qh, ph, s), ph), v)
        zero = o.full_like(v, 0.0)
        p_only = (p > 0) & (q <= 0)
        q_only = (p <= 0) & (q > 0)
        lim_inf = p * self.f_over_u_at_inf if self.f_over_u_at_inf != math.inf else o.where(p_only, o.full_like(p, math.inf), zero)
        lim_zero = q * self.f_at_zero if self.f_at_zero != math.inf else o.where(q_only, o.full_like(q, math.inf), zero)
        out = o.where(both, v, zero)
        out = o.where(p_only, lim_inf, out)
        out = o.where(q_only, lim_zero, out)
        return out

    def log_integrand(self, log_p: Array, log_q: Array) -> Array:
        """q·f(p/q) from log-densities (−inf allowed), overflow-free: e^{log q}·f_near(expm1(r)) for
        |r| ≤ log 2, e^{log q}·f(e^r) below, e^{log p}·f⋄(e^{−r}) above (r = log p − log q).

        Used for logits (`Categorical(logits=...)`, `Bernoulli(logits=...)`) where p or q underflow although
        their logarithms are exact. Accuracy: absolute error of r ≈ eps·(|log p| + |log q|), then a few ulps.
        """
        with np.errstate(all="ignore"):
            return self._log_integrand(log_p, log_q)

    def _log_integrand(self, log_p, log_q):
        o = ops(log_p, log_q)
        lp, lq = _broadcast(o.asarray(log_p), o.asarray(log_q))
        fin = o.isfinite(lp) & o.isfinite(lq)
        zero = o.full_like(lp, 0.0)
        lpg, lqg = o.where(fin, lp, zero), o.where(fin, lq, zero)
        r = lpg - lqg
        l2 = math.log(2.0)
        near = o.abs(r) <= l2
        low, high = r < -l2, r > l2
        v = o.exp(lqg) * self._near(o.expm1(o.where(near, r, zero)))
        rl = o.where(low, r, o.full_like(r, -2.0 * l2))
        v = o.where(low, self._low(o.exp(rl), rl, o.exp(lqg), lqg), v)
        rh = o.where(high, -r, o.full_like(r, -2.0 * l2))
        v = o.where(high, self._high(o.exp(rh), rh, o.exp(lpg), lpg), v)
        pin, qin = lp > -math.inf, lq > -math.inf
        p_only, q_only = pin & ~qin, ~pin & qin
        ep = o.exp(o.where(p_only, lp, zero))
        eq = o.exp(o.where(q_only, lq, zero))
        lim_inf = ep * self.f_over_u_at_inf if self.f_over_u_at_inf != math.inf else o.full_like(lp, math.inf)
        lim_zero = eq * self.f_at_zero if self.f_at_zero != math.inf else o.full_like(lq, math.inf)
        out = o.where(fin, v, zero)
        out = o.where(p_only, lim_inf, out)
        return o.where(q_only, lim_zero, out)


def _no_grad(x):
    if is_torch(x):
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _broadcast(a, b):
    if a.shape == b.shape:
        return a, b
    if is_torch(a, b):
        import torch

        return torch.broadcast_tensors(a, b)
    return np.broadcast_arrays(a, b)


def _ratio_log(p, q, r):
    from ._stable import ratio_log

    return ratio_log(p, q, r)
