"""Closed forms between multivariate normals (torch.distributions.MultivariateNormal): KL, reverse KL, Jeffreys,
squared Hellinger, Pearson, Neyman, α, from the eigenvalues of L1⁻¹(Σ0 − Σ1)L1⁻ᵀ."""
from __future__ import annotations

import torch
import torch.distributions as td

from .._stable import g1p
from .kernels import _alpha_from_log_affinity
from .registry import register_closed_form


def _mvn_parts(p: td.MultivariateNormal, q: td.MultivariateNormal):
    if p.event_shape != q.event_shape:
        raise ValueError(f"p and q must have the same dimension, got event shapes {tuple(p.event_shape)} and "
                         f"{tuple(q.event_shape)}")
    batch = torch.broadcast_shapes(p.batch_shape, q.batch_shape)
    k = p.event_shape[0]
    m0 = p.loc.expand(batch + (k,))
    m1 = q.loc.expand(batch + (k,))
    c0 = p.covariance_matrix.expand(batch + (k, k))
    c1 = q.covariance_matrix.expand(batch + (k, k))
    l1 = q.scale_tril.expand(batch + (k, k))
    # A = L1⁻¹ (Σ0 − Σ1) L1⁻ᵀ: its eigenvalues μ_i are those of Σ1⁻¹Σ0 minus 1, computed without cancellation
    y = torch.linalg.solve_triangular(l1, c0 - c1, upper=False)
    amat = torch.linalg.solve_triangular(l1, y.transpose(-1, -2), upper=False)
    amat = 0.5 * (amat + amat.transpose(-1, -2))
    mu = torch.linalg.eigvalsh(amat)
    return m0 - m1, c0, c1, l1, mu


def _maha(chol, d):
    z = torch.linalg.solve_triangular(chol, d.unsqueeze(-1), upper=False).squeeze(-1)
    return (z * z).sum(-1)


def _logdet_ratio(p, q, batch):
    """log det(Σ0 Σ1⁻¹) from the Cholesky diagonals (exact where the eigenvalues 1 + μ_i lose digits)."""
    k = p.event_shape[0]
    l0 = p.scale_tril.expand(batch + (k, k))
    l1 = q.scale_tril.expand(batch + (k, k))
    return 2.0 * (torch.log(l0.diagonal(dim1=-2, dim2=-1)).sum(-1) - torch.log(l1.diagonal(dim1=-2, dim2=-1)).sum(-1))


def _sum_g_eigen(mu, logdet):
    """Σ_i g(μ_i) = Σ μ_i − log det: series form for |μ_i| ≤ ½; the other eigenvalues' log(1 + μ_i) come
    from the Cholesky log det (1 + μ_i = 1e-8 is not representable as float32 μ_i + 1)."""
    small = mu.abs() <= 0.5
    z = torch.zeros_like(mu)
    ms = torch.where(small, mu, z)
    gs = g1p(ms).sum(-1)
    any_big = (~small).any(-1)
    far = gs + torch.where(small, z, mu).sum(-1) - (logdet - torch.log1p(ms).sum(-1))
    return torch.where(any_big, far, gs)


def _mvn_kl(p, q):
    d, c0, c1, l1, mu = _mvn_parts(p, q)
    batch = d.shape[:-1]
    return 0.5 * _sum_g_eigen(mu, _logdet_ratio(p, q, batch)) + 0.5 * _maha(l1, d)


def _mvn_log_affinity(a: float, p, q):
    d, c0, c1, l1, mu = _mvn_parts(p, q)
    ok = ((1.0 + (1.0 - a) * mu) > 0).all(-1)
    ca = a * c1 + (1.0 - a) * c0
    eye = torch.eye(ca.shape[-1], dtype=ca.dtype, device=ca.device)
    ca = torch.where(ok[..., None, None], ca, eye.expand_as(ca))
    la, info = torch.linalg.cholesky_ex(ca)
    ok = ok & (info == 0)
    mu_ok = torch.where(ok[..., None], mu, torch.zeros_like(mu))
    maha = _maha(la, d)
    # ½Σ[g((1−a)μ) − (1−a)g(μ)] = ½Σ[(1−a) log(1 + μ) − log(1 + (1−a)μ)]; series where |μ| ≤ ½, the log
    # form elsewhere with Σ log(1 + μ_i) of those from the Cholesky log det
    small = mu_ok.abs() <= 0.5
    z = torch.zeros_like(mu_ok)
    ms = torch.where(small, mu_ok, z)
    near = (g1p((1.0 - a) * ms) - (1.0 - a) * g1p(ms)).sum(-1)
    mb = torch.where(small, z, mu_ok)
    log_big_1mu = _logdet_ratio(p, q, d.shape[:-1]) - torch.log1p(ms).sum(-1)
    kb = torch.where(small, torch.ones_like(mb), 1.0 + (1.0 - a) * mb)
    far = near + (1.0 - a) * log_big_1mu - torch.log(kb).sum(-1)
    val = 0.5 * a * (a - 1.0) * maha + 0.5 * torch.where((~small).any(-1), far, near)
    return val, ok


@register_closed_form("kl", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_kl_entry(p, q, div):
    return _mvn_kl(p, q)


@register_closed_form("reverse_kl", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_rkl(p, q, div):
    return _mvn_kl(q, p)


@register_closed_form("jeffreys", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_jeffreys(p, q, div):
    return _mvn_kl(p, q) + _mvn_kl(q, p)


@register_closed_form("squared_hellinger", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_hellinger(p, q, div):
    log_i, _ = _mvn_log_affinity(0.5, p, q)  # log I_½ = −(Bhattacharyya distance)
    return -2.0 * torch.expm1(log_i)


@register_closed_form("pearson", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_pearson(p, q, div):
    return 2.0 * _alpha_from_log_affinity(2.0, *_mvn_log_affinity(2.0, p, q))  # e^{D_2} − 1


@register_closed_form("neyman", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_neyman(p, q, div):
    return 2.0 * _alpha_from_log_affinity(-1.0, *_mvn_log_affinity(-1.0, p, q))


@register_closed_form("alpha", td.MultivariateNormal, td.MultivariateNormal)
def _mvn_alpha(p, q, div):
    a = float(div.params["a"])
    return _alpha_from_log_affinity(a, *_mvn_log_affinity(a, p, q))
