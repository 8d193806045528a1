"""torch interop: KL-type divergences from torch.distributions.kl_divergence for pairs torch registers."""
from __future__ import annotations

import torch.distributions as td

from .registry import _registry_key


def _torch_kl_form(p, q, div):
    """KL-type divergences between torch.distributions pairs that torch registers and divkit does not
    (Independent, LowRankMultivariateNormal, Dirichlet, Poisson, Geometric, Binomial, OneHotCategorical, ...):
    torch.distributions.kl_divergence, exact, before any numeric fallback. kl: KL(p‖q); reverse_kl:
    KL(q‖p); jeffreys: both. None when torch has no rule for the pair (or the divergence is not KL-type)."""
    if not (isinstance(p, td.Distribution) and isinstance(q, td.Distribution)):
        return None
    key = _registry_key(div)
    if key not in ("kl", "reverse_kl", "jeffreys"):
        return None
    def pairs(p, q):
        return {"kl": ((p, q),), "reverse_kl": ((q, p),), "jeffreys": ((p, q), (q, p))}[key]

    if any(td.kl._dispatch_kl(type(a), type(b)) is NotImplemented for a, b in pairs(p, q)):
        return None

    def torch_kl(p, q, div):
        return sum(td.kl_divergence(a, b) for a, b in pairs(p, q))
    return torch_kl
