"""Print sympy expressions: `compile_expr` (code over the `divkit._array` namespace, numpy or torch) and `_txt`
(one-line text for docs and messages)."""
from __future__ import annotations

import math
from typing import Any, Protocol, cast

import sympy as sp

from .._array import ops


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


class CompiledExpr(Protocol):
    """What `compile_expr` returns: x -> expr(x) elementwise (numpy in -> numpy out, torch in -> torch out), with
    the generated Python source in `.source`."""

    source: str

    def __call__(self, x: Any) -> Any: ...


def compile_expr(expr: sp.Expr, var: sp.Symbol, *, fused: bool = False) -> CompiledExpr:
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
    fn = cast(CompiledExpr, ns["_fn"])
    fn.source = src
    return fn


# ------------------------------------------------------------------------------------------------ text
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
