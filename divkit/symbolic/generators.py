"""The generators and activations of the registered divergences (sympy strings), and the α family."""
from __future__ import annotations

import math

import sympy as sp

from .parse import U, _exact, parse_generator

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
    from ..catalog import _REGISTRY

    if name in _REGISTRY and isinstance(_REGISTRY[name].expr, sp.Expr):  # e.g. registered from_generator objects
        return _REGISTRY[name].expr
    raise ValueError(f"generator_of: unknown name {name!r}; known: {', '.join(GENERATORS)}, alpha(a), or a "
                     "registered divergence with a sympy `expr`")


def generator_source(name: str) -> str:
    """The generator as written (sympy syntax): GENERATORS[name], or the α formula with a filled in."""
    if name in GENERATORS:
        return GENERATORS[name]
    if name.startswith("alpha(") and name.endswith(")"):
        a = _exact(float(name[6:-1]))
        p = lambda x: f"({sp.sstr(x)})" if (x < 0 or not x.is_Integer) else sp.sstr(x)  # noqa: E731
        return f"(u**{p(a)} - 1 - {p(a)}*(u - 1))/{p(a * (a - 1))}"
    return sp.sstr(generator_of(name))
