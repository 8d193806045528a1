"""torch interop: KL-type divergences from torch.distributions.kl_divergence for pairs torch registers."""
from __future__ import annotations

import torch.distributions as td


def _torch_kl_form(p, q, div):
    """Divergences that are sums of KL terms (`FDivergence.kl_parts`: kl, reverse_kl, jeffreys) between
    torch.distributions pairs that torch registers and divkit does not (Independent, LowRankMultivariateNormal,
    Dirichlet, Poisson, Geometric, Binomial, OneHotCategorical, ...): torch.distributions.kl_divergence, exact,
    before any numeric fallback; a part False is KL(p‖q), True is KL(q‖p). None when torch has no rule for a
    pair (or the divergence is not such a sum)."""
    if not div.kl_parts or not (isinstance(p, td.Distribution) and isinstance(q, td.Distribution)):
        return None
    pairs = tuple((q, p) if rev else (p, q) for rev in div.kl_parts)
    if any(td.kl._dispatch_kl(type(a), type(b)) is NotImplemented for a, b in pairs):
        return None

    def torch_kl(p_, q_, div_):
        return sum(td.kl_divergence(q_, p_) if rev else td.kl_divergence(p_, q_) for rev in div_.kl_parts)
    return torch_kl
