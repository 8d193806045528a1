"""Numeric paths of `divergence`: quadrature (1-D continuous pairs) and seeded Monte Carlo."""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.distributions as td

from .. import numeric
from .inputs import _is_scipy_frozen, _scipy_kind, _to_output


def _quadrature(p, q, div, numpy_out: bool):
    if isinstance(p, td.Distribution):
        for d in (p, q):
            if any(isinstance(v, torch.Tensor) and v.requires_grad for v in vars(d).values()):
                warnings.warn("quadrature returns a detached value: no gradient flows to the distribution "
                              "parameters (use a closed form or method='monte_carlo')", UserWarning, stacklevel=3)
                break
        batch = torch.broadcast_shapes(p.batch_shape, q.batch_shape)
        pe, qe = p.expand(batch), q.expand(batch)
        ref = pe.mean if isinstance(pe, td.Distribution) else None
        vals = []
        for idx in np.ndindex(*batch):
            vals.append(_quad_pair(_index_dist(pe, idx), _index_dist(qe, idx), div))
        out = torch.tensor(vals, dtype=ref.dtype if ref is not None else torch.float64,
                           device=ref.device if ref is not None else None).reshape(batch)
        return _to_output(out, numpy_out)
    return _to_output(np.asarray(_quad_pair(p, q, div)), True)


def _index_dist(d, idx):
    """The batch element idx of d, rebuilt from detached parameters (quadrature works on floats)."""
    try:
        params = {k: getattr(d, k).detach()[idx] for k in d.arg_constraints}
        return type(d)(**params, validate_args=False)
    except (TypeError, ValueError, AttributeError, NotImplementedError, IndexError):
        if idx == ():
            return d
        raise TypeError(f"quadrature cannot split the batch of {type(d).__name__}; pass unbatched "
                        f"distributions or use method='monte_carlo'") from None


def _quad_pair(p, q, div) -> float:
    lp, (alo, ahi), pts_p = numeric.univariate_log_density(p)
    lq, (blo, bhi), pts_q = numeric.univariate_log_density(q)
    pts = pts_p + pts_q
    if isinstance(p, td.Normal) and isinstance(q, td.Normal):
        pts += _normal_pair_points(float(p.loc), float(p.scale), float(q.loc), float(q.scale), div)
    elif _is_scipy_frozen(p) and _is_scipy_frozen(q) and _scipy_kind(p) == _scipy_kind(q) == "norm":
        pts += _normal_pair_points(float(p.mean()), float(p.std()), float(q.mean()), float(q.std()), div)
    return numeric.quadrature_divergence(lp, lq, div, min(alo, blo), max(ahi, bhi), pts)


def _normal_pair_points(m1, s1, m2, s2, div) -> list[float]:
    """Density crossings and the centres ± scales of the tilted Gaussians p^a q^{1−a} (where Pearson-,
    Neyman- and α-type integrands put their mass, possibly far from both means)."""
    pts = numeric.normal_crossings(m1, s1, m2, s2)
    alphas = {2.0, -1.0, 0.5}
    if "a" in div.params:
        alphas.add(float(div.params["a"]))
    for a in alphas:
        prec = a / s1 ** 2 + (1.0 - a) / s2 ** 2
        if prec > 0:
            c = (a * m1 / s1 ** 2 + (1.0 - a) * m2 / s2 ** 2) / prec
            s = 1.0 / math.sqrt(prec)
            pts += [c + k * s for k in (-10, -3, -1, 0, 1, 3, 10)]
    return pts


def _monte_carlo(p, q, div, n, seed, numpy_out):
    res = numeric.monte_carlo_divergence(p, q, div, n=n, seed=seed)
    if numpy_out and isinstance(res.value, torch.Tensor):
        return numeric.MonteCarloResult(_to_output(res.value, True), _to_output(res.stderr, True), res.n)
    return res
