"""divkit: f-divergences as exact objects, closed-form and numeric divergences, variational bounds and
mutual-information estimators, numpy or torch.

    import divkit as dk
    dk.get("kl").conjugate(0.5)
    dk.divergence(p, q, "squared_hellinger")
"""
from .fdiv import FDivergence, Interval
from .catalog import alpha, get, names, register

__all__ = ["FDivergence", "Interval", "alpha", "get", "names", "register"]
