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

Warning: the fused terms use `safe_exp` (exact exp up to overflow, finfo.max/16 with a finite gradient beyond), so
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

Modules, one job each (every public name is re-exported here, so `divkit.symbolic.<name>` is the API):
`parse` (the symbols u, t, v; `parse_generator`), `generators` (the registered generators and activations, the
α family), `printer` (`compile_expr`: sympy -> numpy/torch code; one-line text), `derivation` (`derive`, the
symbolic budget), `build` (`from_generator`: a `Derivation` -> an `FDivergence`), `table` (docs/divergences.md
and the command line).
"""
from __future__ import annotations

import sys
import types

import sympy as sp  # noqa: F401  (`divkit.symbolic.sp` is sympy, as before the split)

from . import derivation as _derivation
from .build import from_generator
from .derivation import SYMBOLIC_BUDGET_S, Branch, Derivation, Piece, SymbolicTimeout, derive
from .generators import (
    GENERATORS,
    REGISTERED_ACTIVATIONS,
    alpha_generator,
    generator_of,
    generator_source,
    registered_activation,
)
from .parse import T, U, V, parse_generator
from .printer import CompiledExpr, compile_expr
from .table import TABLE_ALPHAS, _main, conjugate_text, divergence_table, domain_text, table_names

__all__ = [
    "GENERATORS", "REGISTERED_ACTIVATIONS", "SYMBOLIC_BUDGET_S", "TABLE_ALPHAS", "Branch", "CompiledExpr", "Derivation", "Piece",
    "SymbolicTimeout", "T", "U", "V", "alpha_generator", "compile_expr", "conjugate_text", "derive",
    "divergence_table", "domain_text", "from_generator", "generator_of", "generator_source", "parse_generator",
    "registered_activation", "table_names", "_main",
]


class _Package(types.ModuleType):
    """`divkit.symbolic.SYMBOLIC_BUDGET_S = x` also sets it where `derive` reads it (the knob predates the split)."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "SYMBOLIC_BUDGET_S":
            setattr(_derivation, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
