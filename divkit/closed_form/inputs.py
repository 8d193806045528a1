"""Input handling for `divergence`: the kind of p and q, scipy frozen → torch, output conversion, the numeric
fallback a pair gets, names for messages."""
from __future__ import annotations

import numpy as np
import torch
import torch.distributions as td

from ..validation import check_finite, check_positive


def _is_scipy_frozen(d) -> bool:
    return hasattr(d, "dist") and hasattr(d, "logpdf") or type(d).__name__.endswith("_frozen")


def _scipy_kind(d) -> str:
    name = getattr(getattr(d, "dist", None), "name", None)
    if name == "norm":
        return "norm"
    if type(d).__name__ == "multivariate_normal_frozen":
        return "multivariate_normal"
    return "other"


def _scipy_to_torch(d, nm: str):
    """scipy frozen norm / multivariate_normal -> float64 torch distribution (validated here)."""
    kind = _scipy_kind(d)
    if kind == "norm":
        try:  # the frozen parameters themselves: scipy's mean()/std() are NaN for any invalid parameter
            *_, loc, scale = d.dist._parse_args(*d.args, **d.kwds)
        except (TypeError, ValueError, AttributeError):
            loc, scale = d.mean(), d.std()
        loc, scale = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (loc, scale)))
        check_finite(loc, f"{nm}.loc")  # first: a NaN loc also makes scipy's std() NaN
        check_positive(scale, f"{nm}.scale")
        return td.Normal(torch.as_tensor(loc, dtype=torch.float64), torch.as_tensor(scale, dtype=torch.float64),
                         validate_args=False)
    if kind == "multivariate_normal":
        mean = np.asarray(d.mean, dtype=float)
        cov = np.asarray(d.cov, dtype=float)
        if cov.ndim != 2 or mean.ndim != 1:
            raise TypeError(f"{nm}: batched scipy multivariate_normal is not supported; use torch")
        check_finite(mean, f"{nm}.mean")
        try:
            tril = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(f"{nm}.cov must be positive definite (a degenerate multivariate_normal has no "
                             f"density)") from None
        return td.MultivariateNormal(torch.as_tensor(mean), scale_tril=torch.as_tensor(tril), validate_args=False)
    return None


def _to_output(x, numpy_out: bool):
    if not numpy_out:
        return x
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return float(a) if a.ndim == 0 else a


def _kind(x) -> str:
    if isinstance(x, td.Distribution):
        return "torch_dist"
    if _is_scipy_frozen(x):
        return "scipy"
    if isinstance(x, (np.ndarray, torch.Tensor, list, tuple)):
        return "array"
    raise TypeError(f"cannot compute a divergence for {type(x).__name__}: expected a torch.distributions "
                    f"object, a scipy.stats frozen distribution, or an array of probability vectors")


def _is_1d_continuous(d) -> bool:
    if isinstance(d, td.Distribution):
        return d.event_shape == torch.Size() and not d.support.is_discrete
    if _is_scipy_frozen(d):
        return hasattr(d.dist, "pdf") and _scipy_kind(d) != "multivariate_normal"
    return False


def _fallback_name(p, q) -> str:
    if isinstance(p, td.Distribution) and isinstance(q, td.Distribution):
        if p.event_shape != q.event_shape or p.support.is_discrete != q.support.is_discrete:
            return "none"
    if _is_1d_continuous(p) and _is_1d_continuous(q):
        return "quadrature"
    if isinstance(p, td.Distribution):
        return "monte_carlo"
    if _is_scipy_frozen(p) and _is_scipy_frozen(q) and all(hasattr(d, "logpdf") and hasattr(d, "rvs")
                                                          for d in (p, q)):
        cont = [_is_1d_continuous(d) or _scipy_kind(d) == "multivariate_normal" for d in (p, q)]
        return "monte_carlo" if all(cont) else "none"
    return "none"



def _scipy_name(d) -> str:
    return f"scipy.stats.{getattr(getattr(d, 'dist', None), 'name', type(d).__name__)}"


def _type_name(d) -> str:
    if isinstance(d, td.Distribution):
        return f"torch {type(d).__name__}"
    if _is_scipy_frozen(d):
        return _scipy_name(d)
    return type(d).__name__
