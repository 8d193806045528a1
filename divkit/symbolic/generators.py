"""The generators and activations of the registered divergences (sympy strings), and the α family."""
from __future__ import annotations

import math

import sympy as sp

from .. import catalog as _catalog
from .parse import U, _exact, parse_generator

# ------------------------------------------------------------------------------------------------ generators
# Each catalogue object holds its own generator and activation as sympy strings (FDivergence.source,
# .activation_source); these tables are read off the objects, so a new catalogue entry needs no line here.
#: The generators of the built-in catalogue divergences (sympy strings in u), read off divkit.catalog.
GENERATORS: dict[str, str] = {n: _catalog._REGISTRY[n].source for n in _catalog._FACTORIES}

#: The activation g_f(v) each built-in catalogue object uses (REFERENCE.md §1), sympy strings in v, read off
#: the objects. Cross-checked numerically against the catalog's `activation` in tests/divkit/test_symbolic.py.
REGISTERED_ACTIVATIONS: dict[str, str] = {n: _catalog._REGISTRY[n].activation_source for n in _catalog._FACTORIES}


def alpha_generator(a: float) -> sp.Expr:
    """f(u) = (u^a − 1 − a(u − 1)) / (a(a − 1)), the α-divergence generator (a ∉ {0, 1}), exact in a."""
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        raise TypeError(f"alpha_generator: a must be a real number, got {type(a).__name__}")
    if not math.isfinite(a) or float(a) in (0.0, 1.0):
        raise ValueError(f"alpha_generator: a must be finite and not 0 or 1, got {a}")
    ae = _exact(a)
    return (U ** ae - 1 - ae * (U - 1)) / (ae * (ae - 1))


def registered_activation(name: str) -> str:
    """The activation string (`FDivergence.activation_source`) of a registered divergence or of 'alpha(a)'
    (a > 1: v; a < 1: 1/(1−a) − log(1 + e^{−v}))."""
    d = _lookup(name, "registered_activation")
    if not d.activation_source:
        raise ValueError(f"registered_activation: {name!r} has no activation source")
    return d.activation_source


def _lookup(name: str, fn: str):
    try:
        return _catalog.get(name)
    except ValueError:
        raise ValueError(f"{fn}: unknown name {name!r}; known: {', '.join(_catalog.names())}, alpha(a)") from None


def generator_of(name: str) -> sp.Expr:
    """The sympy generator of a registered divergence name or 'alpha(a)' (parsed from `FDivergence.source`;
    the α family exactly in a; a registered `from_generator` object's sympy `expr`)."""
    d = _lookup(name, "generator_of")
    if d.family == "alpha" and "a" in d.params:
        return alpha_generator(float(d.params["a"]))
    if d.source:
        return parse_generator(d.source)
    if isinstance(d.expr, sp.Expr):
        return d.expr
    raise ValueError(f"generator_of: {name!r} has neither a generator source nor a sympy `expr`")


def generator_source(name: str) -> str:
    """The generator as written (sympy syntax): the object's `source` (the α formula with a filled in)."""
    d = _lookup(name, "generator_source")
    return d.source or sp.sstr(generator_of(name))
