"""`from_generator`: compile a `Derivation` into an `FDivergence` (piecewise callables, numeric conjugate, dual)."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import sympy as sp
import torch

from .._array import TORCH, ops
from ..fdiv import FDivergence, Interval
from .derivation import Derivation, Piece, _bounded, _tidy_logs, derive
from .parse import T, U, V, parse_generator
from .printer import _txt, compile_expr


# ------------------------------------------------------------------------------------------------ callables
def _f(x) -> float:
    return float(sp.N(x, 17)) if x not in (sp.oo, -sp.oo) else (math.inf if x == sp.oo else -math.inf)


def _guard_point(lo: float, hi: float) -> float:
    if math.isinf(lo) and math.isinf(hi):
        return 0.0
    if math.isinf(lo):
        return hi - 1.0
    if math.isinf(hi):
        return lo + 1.0
    return 0.5 * (lo + hi)


def _piecewise_fn(branches, fill, *, fused=False, var=T, at_zero=None):
    """Compile [(lo, hi, lo_closed, hi_closed, expr)] into x -> expr_k(x) on branch k, `fill` elsewhere.

    Inputs outside a branch are replaced by a point inside it before evaluation (finite torch gradients).
    `at_zero`: value at x == 0 (used for f(0) = lim f(0+)); negative x gives nan when at_zero is set.
    """
    compiled = []
    for lo, hi, lc, hc, e in branches:
        flo, fhi = _f(lo), _f(hi)
        g = e if callable(e) and not isinstance(e, sp.Basic) else compile_expr(e, var, fused=fused)
        compiled.append((flo, fhi, lc, hc, g, _guard_point(flo, fhi)))

    def fn(x):
        o = ops(x)
        x = o.asarray(x)
        out = o.full_like(x, fill)
        for flo, fhi, lc, hc, g, gp in compiled:
            m = ((x >= flo) if lc else (x > flo)) & ((x <= fhi) if hc else (x < fhi))
            if flo == fhi:  # a single point: evaluate the (constant in effect) expression there
                xs = o.full_like(x, flo)
            else:
                xs = o.where(m, x, o.full_like(x, gp))
            out = o.where(m, g(xs), out)
        if at_zero is not None:
            out = o.where(x == 0, o.full_like(x, at_zero), out)
            out = o.where(x < 0, o.full_like(x, math.nan), out)
        if o is TORCH and x.requires_grad:  # keep the graph connected where every branch is constant (TV)
            out = out + 0.0 * o.where(o.isfinite(x), x, o.full_like(x, 0.0))
        return out

    return fn


def _pieces_in_u(der: Derivation, which: str):
    """Branches in u for f or f': open pieces plus the kink points (f' at a kink = mid-subgradient)."""
    out = []
    for p in der.pieces:
        out.append((p.lo, p.hi, False, False, p.expr if which == "f" else p.fp))
    for i, b in enumerate(der.kinks):
        if which == "f":
            val = der.pieces[i].expr.subs(U, b)
        else:
            val = (der.pieces[i].fp.subs(U, b) + der.pieces[i + 1].fp.subs(U, b)) / 2
        out.append((b, b, True, True, sp.simplify(val)))
    return out


class _NumericConjugate(torch.autograd.Function):
    """f*(t) = t u*(t) − f(u*(t)) with u* from bisection; d f*/dt = u*(t) (envelope theorem)."""

    @staticmethod
    def forward(ctx, t, solver):
        val, ustar = solver(t.detach().cpu().double().numpy())
        ctx.save_for_backward(torch.as_tensor(ustar, dtype=t.dtype, device=t.device))
        return torch.as_tensor(val, dtype=t.dtype, device=t.device)

    @staticmethod
    def backward(ctx, grad):
        (ustar,) = ctx.saved_tensors
        return grad * ustar, None


def _numeric_conjugate(piece: Piece, iters: int = 200):
    """f* on one smooth piece without a closed-form inverse of f': bisection on s = log u for f'(e^s) = t.

    f' is increasing (f convex), so bisection on [log lo, log hi] ∩ [−745, 709] converges; 200 halvings of a
    width ≤ 1454 reach the float64 spacing of s. Accuracy: f*(t) is stationary in u at u*, so the error in the
    value is second order in the error of u* (≈ 1e-16 relative for well-scaled t). Evaluated in float64 numpy;
    torch inputs go through a custom autograd function (not for use inside compiled graphs).
    """
    f_np = compile_expr(piece.expr, U)
    fp_np = compile_expr(piece.fp, U)
    s_lo = max(-745.0, math.log(_f(piece.lo))) if piece.lo != 0 else -745.0
    s_hi = min(709.0, math.log(_f(piece.hi))) if piece.hi != sp.oo else 709.0

    def solver(t):
        t = np.asarray(t, dtype=np.float64)
        a, b = np.full_like(t, s_lo), np.full_like(t, s_hi)
        with np.errstate(all="ignore"):
            for _ in range(iters):
                m = 0.5 * (a + b)
                below = fp_np(np.exp(m)) < t
                a, b = np.where(below, m, a), np.where(below, b, m)
            ustar = np.exp(0.5 * (a + b))
            val = t * ustar - f_np(ustar)
        return val, ustar

    def conj(t):
        o = ops(t)
        if o is TORCH:
            return _NumericConjugate.apply(t, solver)
        val, _ = solver(t)
        return val.astype(t.dtype) if isinstance(t, np.ndarray) else val

    return conj


def _dual_fn(der: Derivation, started: float):
    """w·f⋄(s) with the dual generator f⋄(s) = s·f(1/s), derived piece by piece (u ∈ (lo, hi) ↔ s ∈ (1/hi, 1/lo))
    and simplified by sympy within the budget, so that FDivergence.integrand evaluates p·f⋄(q/p) where p ≫ q
    instead of q·f(p/q) with an overflowing ratio."""
    def inv(x):
        return sp.Integer(0) if x == sp.oo else (sp.oo if x == 0 else 1 / x)

    branches = []
    for lo, hi, lc, hc, e in _pieces_in_u(der, "f"):
        if lo == hi:  # a kink at u = b: f⋄(1/b) = f(b)/b
            branches.append((inv(lo), inv(lo), True, True, sp.simplify(e / lo)))
            continue
        raw = U * e.subs(U, 1 / U)
        branches.append((inv(hi), inv(lo), hc, lc, _bounded(lambda raw=raw: _tidy_logs(sp.simplify(raw)), raw, started)))
    fd = _piecewise_fn(branches, math.nan, var=U, at_zero=_f(der.f_over_u_at_inf))

    def f_dual(s, ls=None, w=None, lw=None):
        o = ops(s)
        v = fd(o.asarray(s))
        return v if w is None else w * v

    return f_dual


def _fused_fn(terms):
    branches = [(lo, hi, lo == hi, lo == hi, e) for lo, hi, e in terms]
    return _piecewise_fn(branches, math.nan, fused=True, var=V)


def _interval(lo, hi, lc, hc) -> Interval:
    lo, hi = _f(lo), _f(hi)
    return Interval(lo, hi, lc and math.isfinite(lo), hc and math.isfinite(hi))


def from_generator(expr: str | sp.Expr, name: str, *, description: str = "", params: dict | None = None) -> FDivergence:
    """An `FDivergence` derived symbolically from its generator f(u) (see the module docstring for the math).

    Args:
      expr: sympy expression or string in the symbol u (u = p/q ≥ 0), e.g. "(u - 1)*log(u)". f must be convex
        on u > 0; f(1) ≠ 0 is allowed (D(P‖P) = f(1), reported in `f_at_one` with a warning).
      name: non-empty name for the divergence (not registered; pass the result to `divkit.register`).
      description: one line for docs (default: "generator f(u) = ...").
      params: optional dict stored on the object.

    Returns:
      FDivergence with f, f_prime, conjugate (exact, +inf outside dom f*), activation g_f(v) = f'(e^v), fused
      p_term(v) = f'(e^v) and q_term(v) = e^v f'(e^v) − f(e^v), conjugate_domain, critic_range,
      threshold = f'(1), f_at_one, f_at_zero, f_over_u_at_inf, and expr = the sympy generator.

    Raises:
      TypeError: expr is not a sympy expression or string, or name is not a str.
      ValueError: name empty; expr has no u or other symbols; f is not real/convex on u > 0.
      NotImplementedError: sympy cannot invert t = f'(u) in closed form.

    Example:
      >>> d = from_generator("(u - 1)**2", "pearson2")
      >>> float(d.conjugate(-3.0)), float(d.conjugate(2.0))
      (-1.0, 3.0)
    """
    if not isinstance(name, str):
        raise TypeError(f"from_generator: name must be a str, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("from_generator: name must be a non-empty string, e.g. 'my_divergence'")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"from_generator: params must be a dict or None, got {type(params).__name__}")
    der = derive(parse_generator(expr))
    f1 = _f(der.f_at_one)
    if abs(f1) > 0:
        warnings.warn(f"from_generator({name!r}): f(1) = {der.f_at_one} ≠ 0, so D(P‖P) = {der.f_at_one} "
                      "(reported as f_at_one)", stacklevel=2)
    f0 = _f(der.f_at_zero)
    f_fn = _piecewise_fn(_pieces_in_u(der, "f"), math.nan, var=U, at_zero=f0)
    fp_fn = _piecewise_fn(_pieces_in_u(der, "fp"), math.nan, var=U, at_zero=_f(der.fp_at_zero))
    conj_fn = _piecewise_fn([(b.lo, b.hi, b.lo_closed, b.hi_closed,
                              b.expr if b.expr is not None else _numeric_conjugate(b.piece))
                             for b in der.conjugate], math.inf)
    for note in der.notes:
        warnings.warn(f"from_generator({name!r}): {note}", stacklevel=2)
    p_fn = _fused_fn(der.p_term)
    q_fn = _fused_fn(der.q_term)
    dom = _interval(-sp.oo, der.dom_hi, False, der.dom_hi_closed)
    crit = _interval(der.fp_at_zero, der.fp_at_inf, der.crit_lo_closed, der.crit_hi_closed)
    return FDivergence(name=name, f=f_fn, f_prime=fp_fn, conjugate=conj_fn, conjugate_domain=dom,
                       critic_range=crit, activation=p_fn, p_term=p_fn, q_term=q_fn, threshold=_f(der.threshold),
                       f_at_one=f1, f_at_zero=f0, f_over_u_at_inf=_f(der.f_over_u_at_inf), expr=der.f,
                       description=description or f"generator f(u) = {_txt(der.f)}", params=dict(params or {}),
                       f_dual=_dual_fn(der, time.process_time()), source=sp.sstr(der.f),
                       activation_source=_activation_source(der.p_term))


def _activation_source(terms) -> str:
    """g_f(v) = f'(e^v) in sympy syntax: one piece as is, several as a Piecewise over their v-intervals."""
    if len(terms) == 1:
        return sp.sstr(terms[0][2])
    return sp.sstr(sp.Piecewise(*[(e, (V >= lo) & (V <= hi)) for lo, hi, e in terms]))
