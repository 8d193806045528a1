"""divkit: f-divergences as exact objects, closed-form and numeric divergences, variational bounds and
mutual-information estimators, numpy or torch.

    import divkit as dk
    dk.get("kl").conjugate(0.5)
    dk.divergence(p, q, "squared_hellinger")

Submodules and heavier functions load on first use (`import divkit` imports neither matplotlib nor
hypothesis).
"""
from __future__ import annotations

import importlib

from ._version import __version__ as __version__
from .catalog import alpha, get, names, register
from .fdiv import FDivergence, Interval

# public name -> (submodule, attribute or None for the module itself)
_LAZY = {
    "divergence": ("closed_form", "divergence"),
    "register_closed_form": ("closed_form", "register_closed_form"),
    "from_generator": ("symbolic", "from_generator"),
    "legendre_transform": ("legendre", "legendre_transform"),
    "estimate_divergence": ("mi.estimate", "estimate_divergence"),
    "bounds": ("bounds", None),
    "mi": ("mi", None),
    "numeric": ("numeric", None),
    "closed_form": ("closed_form", None),
    "symbolic": ("symbolic", None),
    "legendre": ("legendre", None),
    "testing": ("testing", None),
    "plotting": ("plotting", None),
    "validation": ("validation", None),
    "MonteCarloResult": ("numeric", "MonteCarloResult"),
    "envelope_figure": ("plotting", "envelope_figure"),
}

__all__ = ["FDivergence", "Interval", "alpha", "get", "names", "register", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        m = importlib.import_module(f".{mod}", __name__)
        value = m if attr is None else getattr(m, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'divkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
