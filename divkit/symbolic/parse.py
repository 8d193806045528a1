"""The symbols u, t, v and `parse_generator`: a string or sympy expression in u -> an exact sympy expression."""
from __future__ import annotations

import sympy as sp

U = sp.Symbol("u", positive=True)
T = sp.Symbol("t", real=True)
V = sp.Symbol("v", real=True)
_S = sp.Symbol("s", positive=True)
_W = sp.Symbol("w", positive=True)


def _exact(a) -> sp.Expr:
    """A float parameter as an exact rational (0.5 -> 1/2) so sympy solves exactly."""
    return sp.nsimplify(sp.Float(str(float(a))), rational=True)


# ------------------------------------------------------------------------------------------------ parsing
def parse_generator(expr: str | sp.Expr) -> sp.Expr:
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
