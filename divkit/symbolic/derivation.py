"""`derive`: what sympy derives from a generator (kinks, f', convexity, f*, dom f*, fused terms), with the
symbolic work bounded by `SYMBOLIC_BUDGET_S`."""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp

from .parse import _S, _W, T, U, V, parse_generator
from .printer import _txt, compile_expr

# ------------------------------------------------------------------------------------------------ kinks
_KINKY = (sp.Abs, sp.sign, sp.Max, sp.Min, sp.Piecewise, sp.Heaviside)


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
def derive(expr: str | sp.Expr) -> Derivation:
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
