"""Derive an `FDivergence` from a sympy generator: `from_generator(expr, name)`, and the docs table.

Given a generator f(u) (u = p/q ≥ 0, f convex, D_f(P‖Q) = ∫ q f(p/q)), sympy derives

- f'(u) and f''(u); convexity is checked (f'' ≥ 0 symbolically, else on a dense log-spaced grid) and
  f(1) is reported (`f_at_one`; 0 for a proper f-divergence, −log 4 for the GAN generator);
- the Fenchel conjugate over u ≥ 0, f*(t) = sup_{u ≥ 0} (u t − f(u)), piecewise in t:
    * t < f'(0+):            the sup is at u = 0, f*(t) = −f(0)            (only when f'(0+) > −∞);
    * f'(0+) < t < f'(∞):    u*(t) solves t = f'(u) (sympy.solve; a Lambert-W solution is accepted and
                             evaluated as the Wright omega ω(s) = W(e^s)), f*(t) = t u*(t) − f(u*(t));
    * t = f'(∞) (finite):    f*(t) = lim_{u→∞} (u t − f(u)) if that limit is finite (closed end of dom f*);
    * t > f'(∞):             +∞.
  When sympy finds no closed-form inverse of f' on a piece, f* there is evaluated numerically (bisection on
  log u for f'(u) = t, float64; torch gradient d f*/dt = u*(t)) and a warning says so.
  Generators with kinks (Abs, Max/Min, sign, Piecewise; e.g. TV ½|u − 1|) are split at the kinks b into
  smooth pieces; on [f'(b−), f'(b+)] the sup is at u = b, f*(t) = t b − f(b).
- dom f* = (−∞, f'(∞)) or (−∞, f'(∞)]; the critic range is the range of f' on u > 0;
- threshold f'(1) (the mid-point of the subdifferential at a kink, 0 for TV);
- the activation g_f(v) = f'(e^v), with fused f-GAN terms (REFERENCE.md §1, "Any f")
      p_term(v) = f'(e^v),        q_term(v) = f*(f'(e^v)) = e^v f'(e^v) − f(e^v),
  whose optimum is at v = log p/q. The identity avoids composing the conjugate with the activation.

Expressions are compiled by a small printer (`compile_expr`) into functions over the `divkit._array` namespace,
so one formula serves numpy and torch (differentiable). The printer rewrites log(1 + x) as log1p(x),
log(c + k e^s) as log c + softplus(s + log(k/c)) (k > 0) or
log c + log1mexp(s + log(−k/c)) (k < 0), c(e^s − 1) as c·expm1(s), and LambertW(e^s) as ω(s).

Warning: the fused terms use `safe_exp` (exact exp up to ≈ 4.5 nats below overflow, a finite continuation beyond), so
they stay finite for |v| ≤ 1e4 (float64/float32/bfloat16) when f'(e^v) grows at most like a power of e^v
(all the catalog's generators; not e.g. f = e^u, whose f'(e^v) = exp(e^v) overflows at v ≈ 6.6). Differences
of large terms that sympy could not cancel (e.g. v − softplus(v) for the GAN generator at v ≫ 1) are
computed as written and lose relative accuracy (not absolute accuracy).
At a kink the activation f'(e^v) is piecewise constant (TV: ½ sign v), so its gradient vanishes there: a valid
bound, but a poor one to train through; the catalog's TV uses ½ tanh v.
The hand-written objects in `divkit.catalog` use the REFERENCE activations (e.g. ½ tanh v for TV, v for
Pearson) and remain the recommended choice for the registered divergences; `from_generator` is for new
generators and doubles as the test oracle for the catalog (tests/divkit/test_symbolic.py).

Example:
    >>> import divkit as dk
    >>> d = dk.from_generator("(u - 1) * log(u)", "my_jeffreys")
    >>> float(d.conjugate(0.0))    # doctest: +ELLIPSIS
    0.0...

References: Nguyen, Wainwright & Jordan (2010), IEEE Trans. Inf. Theory 56(11); Nowozin, Cseke & Tomioka (2016),
"f-GAN", NeurIPS, Table 2; Corless et al. (1996) for Lambert W; scipy.special.wrightomega.

`python -m divkit.symbolic --table > docs/divergences.md` regenerates the documentation table.
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp
import torch

from ._array import TORCH, ops
from .fdiv import FDivergence, Interval

U = sp.Symbol("u", positive=True)
T = sp.Symbol("t", real=True)
V = sp.Symbol("v", real=True)
_S = sp.Symbol("s", positive=True)
_W = sp.Symbol("w", positive=True)

# ------------------------------------------------------------------------------------------------ generators
#: The generators of the registered divergences (sympy strings in u), as in divkit.catalog.
GENERATORS: dict[str, str] = {
    "kl": "u*log(u)",
    "reverse_kl": "-log(u)",
    "pearson": "(u - 1)**2",
    "neyman": "(1 - u)**2/u",
    "squared_hellinger": "(sqrt(u) - 1)**2",
    "js": "(u*log(u) - (u + 1)*log((u + 1)/2))/2",
    "gan": "u*log(u) - (u + 1)*log(u + 1)",
    "tv": "Abs(u - 1)/2",
    "jeffreys": "(u - 1)*log(u)",
}

#: The activation g_f(v) each registered object in divkit.catalog uses (REFERENCE.md §1), as sympy strings in v.
#: Cross-checked numerically against the catalog's `activation` in tests/divkit/test_symbolic.py.
REGISTERED_ACTIVATIONS: dict[str, str] = {
    "kl": "v",
    "reverse_kl": "-exp(-v)",
    "pearson": "v",
    "neyman": "1 - exp(-v)",
    "squared_hellinger": "1 - exp(-v)",
    "js": "log(2)/2 - log(1 + exp(-v))/2",
    "gan": "-log(1 + exp(-v))",
    "tv": "tanh(v)/2",
    "jeffreys": "v",
}


def _exact(a) -> sp.Expr:
    """A float parameter as an exact rational (0.5 -> 1/2) so sympy solves exactly."""
    return sp.nsimplify(sp.Float(str(float(a))), rational=True)


def alpha_generator(a: float) -> sp.Expr:
    """f(u) = (u^a − 1 − a(u − 1)) / (a(a − 1)), the α-divergence generator (a ∉ {0, 1}), exact in a."""
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise TypeError(f"alpha_generator: a must be a real number, got {type(a).__name__}")
    if not math.isfinite(a) or float(a) in (0.0, 1.0):
        raise ValueError(f"alpha_generator: a must be finite and not 0 or 1, got {a}")
    ae = _exact(a)
    return (U ** ae - 1 - ae * (U - 1)) / (ae * (ae - 1))


def registered_activation(name: str) -> str:
    """The activation string of a registered divergence or of 'alpha(a)' (a > 1: v; a < 1: 1/(1−a) − sp(−v))."""
    if name in REGISTERED_ACTIVATIONS:
        return REGISTERED_ACTIVATIONS[name]
    if name.startswith("alpha(") and name.endswith(")"):
        a = float(name[6:-1])
        if a > 1:
            return "v"
        return f"{sp.sstr(1 / (1 - _exact(a)))} - log(1 + exp(-v))"
    raise ValueError(f"registered_activation: unknown name {name!r}; known: {', '.join(REGISTERED_ACTIVATIONS)}, alpha(a)")


def generator_of(name: str) -> sp.Expr:
    """The sympy generator of a registered divergence name or 'alpha(a)'."""
    if name in GENERATORS:
        return parse_generator(GENERATORS[name])
    if name.startswith("alpha(") and name.endswith(")"):
        return alpha_generator(float(name[6:-1]))
    from .catalog import _REGISTRY

    if name in _REGISTRY and isinstance(_REGISTRY[name].expr, sp.Expr):  # e.g. registered from_generator objects
        return _REGISTRY[name].expr
    raise ValueError(f"generator_of: unknown name {name!r}; known: {', '.join(GENERATORS)}, alpha(a), or a "
                     "registered divergence with a sympy `expr`")


# ------------------------------------------------------------------------------------------------ parsing
def parse_generator(expr) -> sp.Expr:
    """A sympy expression (or string) in the single symbol `u`, with u declared positive; floats made rational."""
    if isinstance(expr, str):
        if not expr.strip():
            raise ValueError("from_generator: expr must be a non-empty expression in u, e.g. 'u*log(u)'")
        try:
            expr = sp.sympify(expr, locals={"u": U})
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(f"from_generator: could not parse expr {expr!r} as a sympy expression in u: {exc}") from None
    elif not isinstance(expr, sp.Basic):
        raise TypeError(f"from_generator: expr must be a sympy expression or a string in u, got {type(expr).__name__}")
    if not isinstance(expr, sp.Expr):
        raise TypeError(f"from_generator: expr must be a sympy expression (sympy.Expr), got {type(expr).__name__}")
    syms = expr.free_symbols
    us = [s for s in syms if s.name == "u"]
    others = sorted(s.name for s in syms if s.name != "u")
    if others:
        raise ValueError(f"from_generator: expr may only contain the symbol u, found also {others}; "
                         "substitute numbers for parameters first (e.g. expr.subs(a, 2))")
    if not us:
        raise ValueError(f"from_generator: expr {expr} does not contain the symbol u (f must depend on u = p/q)")
    expr = expr.subs({s: U for s in us})
    if expr.has(sp.Float):  # 0.5 -> 1/2 so that sympy solves t = f'(u) exactly
        expr = sp.nsimplify(expr, rational=True)
    return expr


# ------------------------------------------------------------------------------------------------ printer
_KINKY = (sp.Abs, sp.sign, sp.Max, sp.Min, sp.Piecewise, sp.Heaviside)


def _is_const(e, var) -> bool:
    return not e.has(var)


def _num(e) -> str:
    val = complex(sp.N(e, 17))
    if abs(val.imag) > 1e-300:
        raise ValueError(f"compile_expr: constant {e} is not real")
    x = val.real
    if math.isnan(x):
        raise ValueError(f"compile_expr: constant {e} is undefined")
    if math.isinf(x):
        return "math.inf" if x > 0 else "(-math.inf)"
    return repr(float(x))


class _Printer:
    """Prints a sympy expression in one variable as Python code over the `divkit._array` namespace `o`."""

    def __init__(self, var: sp.Symbol, fused: bool):
        self.var = var
        self.exp = "_sexp" if fused else "o.exp"
        self.expm1 = "_sexpm1" if fused else "o.expm1"

    def __call__(self, e) -> str:
        var = self.var
        if _is_const(e, var):
            return _num(e)
        if e == var:
            return "x"
        if isinstance(e, sp.Add):
            return self._add(e)
        if isinstance(e, sp.Mul):
            num, den = [], []
            for a in e.args:
                if isinstance(a, sp.Pow) and a.exp.is_number and a.exp < 0:
                    den.append(a.base ** (-a.exp))
                else:
                    num.append(a)
            s = " * ".join(self(a) for a in num) if num else "1.0"
            if den:
                s = f"({s}) / ({' * '.join(self(d) for d in den)})"
            return f"({s})"
        if isinstance(e, sp.Pow):
            b, x = e.args
            if b == sp.E:
                return f"{self.exp}({self(x)})"
            if _is_const(x, var):
                if x == sp.Rational(1, 2):
                    return f"o.sqrt({self(b)})"
                if x == -sp.Rational(1, 2):
                    return f"(1.0 / o.sqrt({self(b)}))"
                if x.is_Integer:
                    n = int(x)
                    return f"(({self(b)}) ** {n})" if n > 0 else f"(1.0 / ({self(b)}) ** {-n})"
                return f"(({self(b)}) ** {_num(x)})"
            return f"{self.exp}({self(x)} * o.log({self(b)}))"
        if isinstance(e, sp.exp):
            return f"{self.exp}({self(e.args[0])})"
        if isinstance(e, sp.log):
            return self._log(e.args[0])
        if isinstance(e, sp.LambertW):
            if len(e.args) > 1 and e.args[1] != 0:
                raise NotImplementedError("compile_expr: only the principal branch of LambertW is supported")
            a = e.args[0]
            if isinstance(a, sp.exp):
                return f"o.wrightomega({self(a.args[0])})"  # W(e^s) = ω(s), no overflow of e^s
            if a.is_positive:  # W(k e^s) = ω(log k + s)
                return f"o.wrightomega({self(sp.expand_log(sp.log(a), force=True))})"
            return f"o.wrightomega({self._log(a)})"
        simple = {sp.Abs: "o.abs", sp.sign: "o.sign", sp.tanh: "o.tanh"}
        for cls, fn in simple.items():
            if isinstance(e, cls):
                return f"{fn}({self(e.args[0])})"
        if isinstance(e, (sp.Max, sp.Min)):
            fn = "o.maximum" if isinstance(e, sp.Max) else "o.minimum"
            out = self(e.args[0])
            for a in e.args[1:]:
                out = f"{fn}({out}, {self(a)} + 0.0 * x)"
            return out
        raise NotImplementedError(f"compile_expr: no numpy/torch translation for {type(e).__name__} in {e}")

    def _exp_term(self, term):
        """term = k·exp(s) with constant k -> (k, s), else None."""
        k, rest = term.as_independent(self.var, as_Add=False)
        if isinstance(rest, sp.exp):
            return k, rest.args[0]
        if isinstance(rest, sp.Pow) and rest.base == sp.E:
            return k, rest.exp
        return None

    def _add(self, e) -> str:
        c, rest = e.as_independent(self.var, as_Add=True)
        terms = list(sp.Add.make_args(rest))
        if c != 0:
            for i, term in enumerate(terms):  # c + k e^s with k = −c: k·expm1(s), exact near s = 0
                ks = self._exp_term(term)
                if ks is not None and sp.simplify(ks[0] + c) == 0:
                    others = terms[:i] + terms[i + 1:]
                    head = f"({_num(ks[0])} * {self.expm1}({self(ks[1])}))"
                    return "(" + " + ".join([head] + [self(a) for a in others]) + ")"
        parts = [self(a) for a in terms] + ([_num(c)] if c != 0 else [])
        return "(" + " + ".join(parts) + ")"

    def _log(self, a) -> str:
        var = self.var
        if isinstance(a, sp.Add):
            c, rest = a.as_independent(var, as_Add=True)
            if c != 0 and c.is_positive:
                ks = self._exp_term(rest)
                if ks is not None and ks[0].is_positive:  # log(c + k e^s) = log c + softplus(s + log(k/c))
                    k, s = ks
                    return f"({_num(sp.log(c))} + o.softplus({self(s + sp.log(k / c))}))"
                if ks is not None and ks[0].is_negative:  # log(c − |k| e^s) = log c + log1mexp(s + log(|k|/c))
                    k, s = ks
                    return f"({_num(sp.log(c))} + _log1mexp({self(s + sp.log(-k / c))}))"
                if c == 1:
                    return f"o.log1p({self(rest)})"
                return f"({_num(sp.log(c))} + o.log1p({self(rest / c)}))"
        if isinstance(a, sp.exp):
            return self(a.args[0])
        return f"o.log({self(a)})"


def _sexpm1_factory(o):
    def _sexpm1(s):
        small = s < 1.0
        ss = o.where(small, s, o.full_like(s, 0.0))
        return o.where(small, o.expm1(ss), o.safe_exp(s) - 1.0)

    return _sexpm1


def _log1mexp_factory(o):
    def _log1mexp(s):
        """log(1 − e^s) for s < 0 (Mächler 2012): log(−expm1(s)) near 0, log1p(−e^s) below −log 2."""
        near = s > -math.log(2.0)
        a = o.where(near, s, o.full_like(s, -1.0))
        b = o.where(near, o.full_like(s, -1.0), s)
        return o.where(near, o.log(-o.expm1(a)), o.log1p(-o.exp(b)))

    return _log1mexp


def compile_expr(expr: sp.Expr, var: sp.Symbol, *, fused: bool = False):
    """Compile a sympy expression in `var` to an elementwise function x -> expr(x), numpy or torch.

    `fused=True` prints exp as `safe_exp` (finite far past overflow, for the f-GAN loss terms only).
    The returned function has the generated source in `.source`.
    """
    if expr.has(sp.cosh, sp.sinh, sp.tanh, sp.coth):  # sympy's simplify may produce them; print via exp
        expr = expr.rewrite(sp.exp)
    body = _Printer(var, fused)(expr)
    if _is_const(expr, var):
        body = f"o.full_like(x, {body})"
    src = "\n    ".join(["def _fn(x):", "o = ops(x)", "x = o.asarray(x)", "_sexp = o.safe_exp",
                          "_sexpm1 = _sexpm1_factory(o)", "_log1mexp = _log1mexp_factory(o)", f"return {body}\n"])
    ns = {"__name__": __name__, "ops": ops, "math": math, "_sexpm1_factory": _sexpm1_factory,
          "_log1mexp_factory": _log1mexp_factory}
    exec(compile(src, f"<divkit.symbolic:{expr}>", "exec"), ns)
    fn = ns["_fn"]
    fn.source = src
    return fn


# ------------------------------------------------------------------------------------------------ kinks
def _real_roots(g) -> list:
    """Positive real roots of g(u) = 0."""
    try:
        sols = sp.solve(sp.Eq(g, 0), U)
    except NotImplementedError:
        raise ValueError(f"from_generator: cannot locate the kinks of the generator (zeros of {g})") from None
    return [s for s in sols if s.is_number and s.is_real and s.is_positive]


def _breakpoints(f) -> list:
    """Points u > 0 where a non-smooth node of f (Abs, sign, Max, Min, Piecewise, Heaviside) switches."""
    pts = set()
    for node in f.atoms(*_KINKY):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
            pts.update(_real_roots(node.args[0]))
        elif isinstance(node, (sp.Max, sp.Min)):
            args = node.args
            for i in range(len(args)):
                for j in range(i + 1, len(args)):
                    pts.update(_real_roots(args[i] - args[j]))
        else:
            for _, cond in node.args:
                for rel in cond.atoms(sp.core.relational.Relational):
                    pts.update(_real_roots(rel.lhs - rel.rhs))
    return sorted(pts, key=lambda x: float(x))


def _restrict(e, point):
    """The smooth expression equal to e on a neighbourhood of u = point (point not a kink)."""
    if not e.has(*_KINKY):
        return e
    args = [_restrict(a, point) if isinstance(a, sp.Basic) else a for a in e.args]
    if isinstance(e, sp.Abs):
        a = args[0]
        return a if float(a.subs(U, point)) >= 0 else -a
    if isinstance(e, sp.sign):
        return sp.Integer(1 if float(args[0].subs(U, point)) > 0 else -1)
    if isinstance(e, sp.Heaviside):
        return sp.Integer(1 if float(args[0].subs(U, point)) > 0 else 0)
    if isinstance(e, (sp.Max, sp.Min)):
        vals = [float(a.subs(U, point)) for a in args]
        i = int(np.argmax(vals) if isinstance(e, sp.Max) else np.argmin(vals))
        return args[i]
    if isinstance(e, sp.Piecewise):
        for ex, cond in e.args:
            if bool(cond.subs(U, point)):
                return _restrict(ex, point)
        raise ValueError(f"from_generator: the Piecewise {e} is undefined at u = {point}")
    return e.func(*args)


def _interior_point(lo, hi):
    """A rational point strictly inside (lo, hi), hi may be oo."""
    if hi == sp.oo:
        return lo + 1 if lo > 0 else sp.Integer(1)
    return (lo + hi) / 2


# ------------------------------------------------------------------------------------------------ derivation
@dataclass(frozen=True)
class Branch:
    """f*(t) = expr on the t-interval (lo, hi) (ends closed as flagged); expr may be a constant."""

    lo: sp.Expr
    hi: sp.Expr
    lo_closed: bool
    hi_closed: bool
    expr: sp.Expr | None  # None: no closed-form inverse of f', evaluated numerically on `piece`
    piece: Piece | None = None

    def condition(self) -> str:
        lo, hi = self.lo, self.hi
        if lo == -sp.oo and hi == sp.oo:
            return "t ∈ ℝ"
        if lo == hi:
            return f"t = {_txt(lo)}"
        le = lambda c: "≤" if c else "<"  # noqa: E731
        if lo == -sp.oo:
            return f"t {le(self.hi_closed)} {_txt(hi)}"
        if hi == sp.oo:
            return f"t {'≥' if self.lo_closed else '>'} {_txt(lo)}"
        return f"{_txt(lo)} {le(self.lo_closed)} t {le(self.hi_closed)} {_txt(hi)}"


@dataclass(frozen=True)
class Piece:
    """f = expr (smooth) on the u-interval (lo, hi); fp = f', fpp = f''."""

    lo: sp.Expr
    hi: sp.Expr
    expr: sp.Expr
    fp: sp.Expr
    fpp: sp.Expr


@dataclass(frozen=True)
class Derivation:
    """Everything sympy derives from a generator (exact expressions; see the module docstring)."""

    f: sp.Expr
    pieces: tuple
    kinks: tuple
    f_at_one: sp.Expr
    f_at_zero: sp.Expr
    f_over_u_at_inf: sp.Expr
    fp_at_zero: sp.Expr
    fp_at_inf: sp.Expr
    threshold: sp.Expr
    conjugate: tuple  # of Branch, ordered in t
    dom_hi: sp.Expr
    dom_hi_closed: bool
    crit_lo_closed: bool
    crit_hi_closed: bool
    p_term: tuple  # of (v_lo, v_hi, expr): f'(e^v) on each piece (kinks use the mid-subgradient)
    q_term: tuple
    convexity: str = "symbolic"
    notes: list = field(default_factory=list)


def _simp(e):
    return sp.simplify(sp.expand_log(sp.simplify(e), force=True))


def _simplify_on(e, lo, hi):
    """Simplify an expression in t knowing t ∈ (lo, hi): t = hi − s or lo + s with s > 0 (removes Abs)."""
    if hi != sp.oo and hi.is_finite:
        sub, back = hi - _S, hi - T
    elif lo != -sp.oo and lo.is_finite:
        sub, back = lo + _S, T - lo
    else:
        return sp.simplify(e)
    out = sp.simplify(sp.simplify(e.subs(T, sub)).subs(_S, back))
    return out if sp.count_ops(out) <= sp.count_ops(e) else sp.simplify(e)


def _tidy_logs(e):
    """log(1/x) -> −log(x) (and log(−1/x) -> −log(−x)) wherever the reciprocal is simpler: shorter display
    and a log1p-friendly argument (e.g. GAN: log(1/(1 − e^t)) -> −log(1 − e^t) -> −log(−expm1(t)))."""
    reps = {}
    for node in e.atoms(sp.log):
        inv = sp.simplify(1 / node.args[0])
        if sp.count_ops(inv) < sp.count_ops(node.args[0]):
            reps[node] = -sp.log(inv)
    return e.xreplace(reps) if reps else e


def _lambert_simplify(e):
    """Use e^{W(x)} = x / W(x) to tidy Lambert-W conjugates (Jeffreys: f* = W + 1/W + t − 2)."""
    ws = list(e.atoms(sp.LambertW))
    if len(ws) != 1:
        return e
    wnode = ws[0]
    x = wnode.args[0]
    g = sp.expand(sp.powsimp(sp.expand(e.subs(wnode, _W), power_exp=True)), power_exp=True)
    g = g.subs(sp.exp(_W), x / _W)
    g = sp.simplify(sp.expand(g, power_exp=True))
    g = g.subs(sp.exp(_W), x / _W)
    out = sp.simplify(g).subs(_W, wnode)
    return out if sp.count_ops(out) <= sp.count_ops(e) else e


def _num_close(a, b, tol=1e-9) -> bool:
    try:
        a, b = complex(sp.N(a, 30)), complex(sp.N(b, 30))
    except (TypeError, ValueError):
        return False
    return abs(a.imag) < tol and abs(a - b) <= tol * (1 + abs(b))


# Symbolic work per generator is bounded: sympy.solve can run for minutes and then die with RecursionError
# (the arithmetic-geometric generator (1 + u) log((1 + u)/(2√u)) did after 25 s). Each conjugate piece gets
# what is left of SYMBOLIC_BUDGET_S; on a timeout or any sympy failure that piece falls back to the numeric
# conjugate (bisection), with a warning. The budget is CPU time of this process (ITIMER_VIRTUAL, SIGVTALRM), so
# a loaded machine does not change which pieces are symbolic; on an idle one CPU time ≈ wall time. It applies
# in the main thread of a POSIX process; elsewhere (worker threads, Windows) sympy runs unbounded.
SYMBOLIC_BUDGET_S = 4.0  # + ~0.5 s of the other derivation steps: ≤ 5 s per generator


class SymbolicTimeout(Exception):
    """sympy exceeded the symbolic budget (`SYMBOLIC_BUDGET_S`) for one piece of a generator."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    usable = (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_VIRTUAL)[0] == 0.0)  # never override a caller's timer
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise SymbolicTimeout(f"sympy took longer than {seconds:.2g} s of CPU time")

    old = signal.signal(signal.SIGVTALRM, _raise)
    signal.setitimer(signal.ITIMER_VIRTUAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0.0)
        signal.signal(signal.SIGVTALRM, old)


def _bounded(fn, fallback, started: float, share: float = 0.25):
    """fn() within `share` of the symbolic budget left since `started`; `fallback` on a timeout or failure."""
    left = SYMBOLIC_BUDGET_S - (time.process_time() - started)
    try:
        with _time_limit(max(share * left, 0.05)):
            return fn()
    except (SymbolicTimeout, RecursionError, Exception):
        return fallback


def _inverse_fp(piece: Piece, t_lo, t_hi):
    """u*(t) with f'(u*) = t on the piece, chosen among sympy's solutions by checking two interior points."""
    try:
        sols = sp.solve(sp.Eq(T, piece.fp), U)
    except NotImplementedError:
        sols = []
    probes = []
    for frac in (sp.Rational(1, 3), sp.Rational(2, 3)):
        if piece.hi == sp.oo:
            u0 = (piece.lo + 1) * (1 + 2 * frac) if piece.lo == 0 else piece.lo * (1 + 2 * frac)
        else:
            u0 = piece.lo + frac * (piece.hi - piece.lo)
        probes.append((u0, piece.fp.subs(U, u0)))
    for sol in sols:
        if all(_num_close(sol.subs(T, t0), u0) for u0, t0 in probes):
            return sol
    raise NotImplementedError(f"from_generator: sympy could not invert t = f'(u) = {piece.fp} on u ∈ ({piece.lo}, "
                              f"{piece.hi}) (solutions found: {sols}); supply a generator with an explicit inverse")


def _check_convex(pieces, kinks, f) -> str:
    """Raise ValueError unless f'' ≥ 0 on every piece and f' jumps upwards at the kinks; returns the method."""
    method = "symbolic"
    for p in pieces:
        if p.fpp.is_nonnegative:
            continue
        method = "numeric"
        grid = np.logspace(-6, 6, 4001)
        hi = math.inf if p.hi == sp.oo else float(p.hi)
        grid = grid[(grid > float(p.lo)) & (grid < hi)]
        with np.errstate(all="ignore"):
            g = compile_expr(p.fpp, U)(grid)
            scale = np.abs(compile_expr(p.fp, U)(grid)) / grid + 1.0
            bad = np.isfinite(g) & (g < -1e-9 * np.where(np.isfinite(scale), scale, 1.0))  # overflow: skip
        if bad.any():
            u_bad = float(grid[np.argmax(bad)])
            raise ValueError(f"from_generator: the generator {f} is not convex on u > 0: f''({u_bad:.4g}) = "
                             f"{float(g[np.argmax(bad)]):.4g} < 0 (f'' = {p.fpp})")
    for i, b in enumerate(kinks):
        left, right = pieces[i], pieces[i + 1]
        if not _num_close(left.expr.subs(U, b), right.expr.subs(U, b)):
            raise ValueError(f"from_generator: the generator {f} is discontinuous at u = {b}")
        dl, dr = left.fp.subs(U, b), right.fp.subs(U, b)
        if float(dl) > float(dr) + 1e-12:
            raise ValueError(f"from_generator: the generator {f} is not convex: f'({b}−) = {dl} > f'({b}+) = {dr}")
    return method


def _limit(e, point, direction="+"):
    try:
        return sp.limit(e, U, point, direction) if point != sp.oo else sp.limit(e, U, sp.oo)
    except (NotImplementedError, ValueError):
        return sp.nan


def _const(val, what, f):
    if val.has(sp.nan) or val == sp.zoo or not (val.is_extended_real or val.is_real):
        raise ValueError(f"from_generator: could not determine {what} for the generator {f} (sympy gave {val})")
    return val


@lru_cache(maxsize=128)
def derive(expr) -> Derivation:
    """Derive f', the convexity certificate, f*, dom f*, f'(1) and the fused terms of a generator (cached)."""
    started = time.process_time()
    f = parse_generator(expr)
    kinks = tuple(_breakpoints(f))
    edges = [sp.Integer(0), *kinks, sp.oo]
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        e = _restrict(f, _interior_point(lo, hi))
        fp = sp.simplify(sp.diff(e, U))
        pieces.append(Piece(lo, hi, e, fp, sp.simplify(sp.diff(fp, U))))
    # values must be real and finite on u > 0
    grid = np.logspace(-6, 6, 241)
    for p in pieces:
        hi = math.inf if p.hi == sp.oo else float(p.hi)
        g = grid[(grid > float(p.lo)) & (grid < hi)]
        with np.errstate(all="ignore"):
            vals = compile_expr(p.expr, U)(g)
        bad = np.isnan(vals) | np.isneginf(vals)  # +inf may be float overflow (e.g. e^u at u = 1e3)
        if bad.any():
            raise ValueError(f"from_generator: the generator {f} is not real and finite for all u > 0 "
                             f"(e.g. at u = {float(g[bad][0]):.4g}); f must map (0, ∞) to ℝ")
    convexity = _check_convex(pieces, kinks, f)

    first, last = pieces[0], pieces[-1]
    f1 = sp.simplify(f.subs(U, 1))
    f0 = _const(_limit(first.expr, 0), "f(0+)", f)
    fui = _const(_limit(last.expr / U, sp.oo), "lim f(u)/u", f)
    fp0 = _const(_limit(first.fp, 0), "f'(0+)", f)
    fpi = _const(_limit(last.fp, sp.oo), "f'(∞)", f)
    if 1 in kinks:
        i = kinks.index(1)
        thr = sp.simplify((pieces[i].fp.subs(U, 1) + pieces[i + 1].fp.subs(U, 1)) / 2)
    else:
        thr = sp.simplify(next(p for p in pieces if p.lo < 1 and (p.hi == sp.oo or p.hi > 1)).fp.subs(U, 1))

    # ---- fused terms on v = log u
    p_terms, q_terms = [], []
    for i, p in enumerate(pieces):
        vlo = -sp.oo if p.lo == 0 else sp.log(p.lo)
        vhi = sp.oo if p.hi == sp.oo else sp.log(p.hi)
        ev = sp.exp(V)
        p_terms.append((vlo, vhi, _bounded(lambda: _tidy_logs(_simp(p.fp.subs(U, ev))), p.fp.subs(U, ev), started)))
        q_terms.append((vlo, vhi, _bounded(lambda: _tidy_logs(_simp((ev * p.fp - p.expr).subs(U, ev))),
                                          (ev * p.fp - p.expr).subs(U, ev), started)))
    for i, b in enumerate(kinks):  # at u = b use the mid-subgradient g = (f'(b−) + f'(b+))/2
        g = (pieces[i].fp.subs(U, b) + pieces[i + 1].fp.subs(U, b)) / 2
        p_terms.append((sp.log(b), sp.log(b), sp.simplify(g)))
        q_terms.append((sp.log(b), sp.log(b), sp.simplify(b * g - pieces[i].expr.subs(U, b))))

    # ---- conjugate branches, increasing in t
    branches, notes = [], []
    if fp0 != -sp.oo:  # sup at u = 0 for t ≤ f'(0+)
        branches.append(Branch(-sp.oo, fp0, False, True, sp.simplify(-f0)))
    for i, p in enumerate(pieces):
        if i > 0:  # kink at b = p.lo: sup at u = b for t ∈ [f'(b−), f'(b+)]
            b = p.lo
            tl, tr = sp.simplify(pieces[i - 1].fp.subs(U, b)), sp.simplify(p.fp.subs(U, b))
            branches.append(Branch(tl, tr, True, True, sp.simplify(T * b - p.expr.subs(U, b))))
        if p.fpp == 0 or sp.simplify(p.fpp) == 0:
            continue  # linear piece: f' constant, covered by the neighbouring kink / boundary branches
        tl = fp0 if i == 0 else sp.simplify(p.fp.subs(U, p.lo))
        th = fpi if p.hi == sp.oo else sp.simplify(p.fp.subs(U, p.hi))
        try:
            with _time_limit(max(SYMBOLIC_BUDGET_S - (time.process_time() - started), 0.05)):
                ustar = _inverse_fp(p, tl, th)
                fs = sp.simplify(ustar * T - p.expr.subs(U, ustar))
                fs = _simplify_on(fs, tl, th)
                if fs.has(sp.LambertW):
                    fs = _lambert_simplify(fs)
                fs = _tidy_logs(fs)
        except NotImplementedError:
            notes.append(f"f*(t) on {tl} < t < {th}: no closed-form inverse of f'(u) = {p.fp}; numeric (bisection)")
            branches.append(Branch(tl, th, False, False, None, p))
            continue
        except (SymbolicTimeout, RecursionError, Exception) as e:  # any sympy failure: the documented fallback
            notes.append(f"f*(t) on {tl} < t < {th}: sympy failed to invert f'(u) = {p.fp} "
                         f"({type(e).__name__}: {str(e)[:80]}); numeric (bisection)")
            branches.append(Branch(tl, th, False, False, None, p))
            continue
        branches.append(Branch(tl, th, False, False, fs))
    dom_hi_closed = False
    if fpi != sp.oo:
        lim = _limit(U * fpi - last.expr, sp.oo)
        if lim.is_finite:
            dom_hi_closed = True
            branches.append(Branch(fpi, fpi, True, True, sp.simplify(lim)))
    # merge: later branches of zero width at a shared closed end are redundant only for display; keep them

    crit_lo_closed = bool(first.fpp == 0 and fp0.is_finite)
    crit_hi_closed = bool(last.fpp == 0 and fpi.is_finite)
    return Derivation(f=f, pieces=tuple(pieces), kinks=kinks, f_at_one=f1, f_at_zero=f0, f_over_u_at_inf=fui,
                      fp_at_zero=fp0, fp_at_inf=fpi, threshold=thr, conjugate=tuple(branches), dom_hi=fpi,
                      dom_hi_closed=dom_hi_closed, crit_lo_closed=crit_lo_closed, crit_hi_closed=crit_hi_closed,
                      p_term=tuple(p_terms), q_term=tuple(q_terms), convexity=convexity, notes=notes)


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


def from_generator(expr, name: str, *, description: str = "", params: dict | None = None) -> FDivergence:
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
                       f_dual=_dual_fn(der, time.process_time()))


# ------------------------------------------------------------------------------------------------ docs table
def _txt(e) -> str:
    """Readable one-line text of a sympy expression (markdown-table safe)."""
    s = sp.sstr(e) if isinstance(e, sp.Basic) else str(e)
    s = s.replace("**", "^").replace("*", "·").replace("LambertW", "W").replace("oo", "∞").replace("|", "\\|")
    return s.replace("-", "−")


def _flip_signs(e):
    """Display form: −t/(t − 1) -> t/(1 − t) (same value)."""
    n, d = sp.fraction(sp.together(e))
    if d != 1 and d.is_Add and sp.sstr(-d)[0] != "-" and n.could_extract_minus_sign():
        return sp.Mul(-n, sp.Pow(-d, -1))
    return e


def conjugate_text(der: Derivation) -> str:
    """f*(t) as text: 'expr' or 'expr₁ (cond₁); expr₂ (cond₂); ...', then '+∞ otherwise' if bounded."""
    shown = [b for b in der.conjugate if not (b.lo == b.hi and len(der.conjugate) > 1)]
    text = lambda b: _txt(_flip_signs(b.expr)) if b.expr is not None else "sup_u (u·t − f(u)) [numeric]"  # noqa: E731
    if len(shown) == 1 and shown[0].lo == -sp.oo:
        return text(shown[0])
    return "; ".join(f"{text(b)} ({b.condition()})" for b in shown)


def domain_text(der: Derivation) -> str:
    if der.dom_hi == sp.oo:
        return "ℝ"
    return f"t {'≤' if der.dom_hi_closed else '<'} {_txt(der.dom_hi)}"


TABLE_ALPHAS = (-1.0, 0.5, 2.0, 3.0)


def generator_source(name: str) -> str:
    """The generator as written (sympy syntax): GENERATORS[name], or the α formula with a filled in."""
    if name in GENERATORS:
        return GENERATORS[name]
    if name.startswith("alpha(") and name.endswith(")"):
        a = _exact(float(name[6:-1]))
        p = lambda x: f"({sp.sstr(x)})" if (x < 0 or not x.is_Integer) else sp.sstr(x)  # noqa: E731
        return f"(u**{p(a)} - 1 - {p(a)}*(u - 1))/{p(a * (a - 1))}"
    return sp.sstr(generator_of(name))


def table_names() -> list[str]:
    """The built-in catalog entries (in registry order) and a few α members; runtime registrations are left out
    so that the generated page does not depend on what a session registered."""
    from .catalog import names

    return [*(n for n in names() if n in GENERATORS), *(f"alpha({a:g})" for a in TABLE_ALPHAS)]


def divergence_table() -> str:
    """The markdown page docs/divergences.md, generated from the generators and the catalog."""
    from .catalog import get

    rows = ["| name | f(u) | f*(t) | dom f* | g_f(v) | f'(1) |", "|---|---|---|---|---|---|"]
    for nm in table_names():
        der = derive(generator_of(nm))
        d = get(nm)
        act = sp.sympify(registered_activation(nm), locals={"v": V})
        thr = _txt(der.threshold) + (" (mid-subgradient)" if 1 in der.kinks else "")
        extra = f"; f(1) = {_txt(der.f_at_one)}" if der.f_at_one != 0 else ""
        rows.append(f"| `{d.name}` | {_txt(generator_source(nm))} | {conjugate_text(der)} | {domain_text(der)} | {_txt(act)} "
                    f"| {thr}{extra} |")
    head = [
        "# Divergence table",
        "",
        "<!-- generated by `python -m divkit.symbolic --table > docs/divergences.md`; do not edit by hand -->",
        "",
        "Generated from code: f(u) is the generator (u = p/q, D_f(P‖Q) = ∫ q f(p/q), nats); f*(t), dom f* and",
        "f'(1) are derived by sympy (`divkit.symbolic.derive`), the conjugate taken over u ≥ 0; g_f(v) is the",
        "activation the registered object (`divkit.get(name)`) applies to the raw critic output v.",
        "",
    ]
    notes = [
        "",
        "Notes",
        "",
        "- `js` is the true Jensen-Shannon divergence (≤ log 2). The f-GAN paper's \"Jensen-Shannon\" row",
        "  (Nowozin et al. 2016, Table 2) is 2·JS: f(u) = u log u − (u+1) log((u+1)/2), f*(t) = −log(2 − e^t).",
        "- `gan` is 2·JS − log 4 (Goodfellow et al. 2014), so f(1) = −log 4 and D(P‖P) = −log 4.",
        "- Conjugates are over u ≥ 0 (the divergence only evaluates f there). So TV's f* is max(t, −½) for",
        "  t ≤ ½ (the f-GAN table's \"t on |t| ≤ ½\" treats f as defined on ℝ) and Pearson's f* is −1 for t < −2",
        "  (the f-GAN paper's ¼t² + t on ℝ is a valid but looser bound); see the `divkit/catalog.py` docstring.",
        "- W is the principal Lambert W; the code evaluates W(e^s) as the Wright omega ω(s) (no overflow).",
        "- `dk.from_generator(expr, name)` derives the same objects from any convex generator; its activation is",
        "  f'(e^v) (optimum at v = log p/q), with q_term(v) = e^v f'(e^v) − f(e^v).",
        "",
        "```python",
        "import divkit as dk",
        "d = dk.from_generator(\"(u - 1)*log(u)\", \"my_jeffreys\")",
        "ref = dk.get(\"jeffreys\")",
        "assert abs(float(d.conjugate(0.3)) - float(ref.conjugate(0.3))) < 1e-12",
        "```",
    ]
    return "\n".join(head + rows + notes) + "\n"


def _main(argv=None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m divkit.symbolic", description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true", help="print the markdown divergence table (docs/divergences.md)")
    ap.add_argument("--generator", help="derive and print f', f*, dom f*, f'(1) for a generator in u")
    args = ap.parse_args(argv)
    if args.table:
        sys.stdout.write(divergence_table())
        return 0
    if args.generator:
        der = derive(parse_generator(args.generator))
        print(f"f(u)   = {_txt(der.f)}")
        print("f'(u)  = " + "; ".join(_txt(p.fp) for p in der.pieces))
        print(f"f*(t)  = {conjugate_text(der)}")
        print(f"dom f* = {domain_text(der)}")
        print(f"f'(1)  = {_txt(der.threshold)},  f(1) = {_txt(der.f_at_one)}")
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(_main())
