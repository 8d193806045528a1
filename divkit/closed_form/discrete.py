"""Exact sums over discrete distributions: probability vectors (numpy, torch), Categorical, Bernoulli; every
f-divergence (registered under "*")."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributions as td

from .._stable import ratio_log
from ..validation import check_event_shapes
from .kernels import _needs_grad
from .registry import ANY, find_closed_form, register_closed_form

# log1p((p − q)/q) equals log(p/q) to ≤ 1.5·eps/r absolute (1 + x = r carries the rounding of x, |x| ≤ 1):
# for r ≥ 1e-3 that is ≤ 3.3e-13, under 1.5e-13 of |log r| ≥ 2.3. Smaller ratios (a few per 10⁴ entries of
# random vectors) are recomputed as log of the ratio.
_NEAR_LO = 1e-3
_LOG_NEAR_LO = math.log(_NEAR_LO)


def _kl_vectors_np(p, q):
    """numpy kernel of `_kl_vectors`: 5 vectorised passes, then a patch of the few outlying entries."""
    if p.shape != q.shape:
        p, q = np.broadcast_arrays(p, q)
    with np.errstate(all="ignore"):
        x = np.subtract(p, q)
        np.divide(x, q, out=x)
        np.log1p(x, out=x)
        # outside the log1p regime: r < 1e-3 (and p = 0: −inf), overflowed ratios or q = 0 (> 700: inf), 0/0 (NaN)
        bad = np.flatnonzero(~(x <= 700.0) | (x < _LOG_NEAR_LO))
        if bad.size:
            flat_x = x.reshape(-1)
            pb, qb = p.reshape(-1)[bad], q.reshape(-1)[bad]
            flat_x[bad] = 0.0
        out = np.dot(p, x) if p.ndim == 1 else np.einsum("...i,...i->...", p, x)
        if bad.size:
            both = (pb > 0) & (qb > 0)
            pg, qg = np.where(both, pb, 1.0), np.where(both, qb, 1.0)
            t = np.where(both, pg * ratio_log(pg, qg), np.where(pb > 0, math.inf, 0.0))
            if p.ndim == 1:
                out = out + t.sum()
            else:
                out = np.asarray(out)
                np.add.at(out, np.unravel_index(bad, p.shape)[:-1], t)
    return out


def _kl_vectors(p, q):
    """Σ p log(p/q) on the last axis, scipy `rel_entr` semantics (0·log 0 = 0, +inf where q = 0 < p).

    Each term is p·log1p((p − q)/q) where p/q ≥ 1e-3 (no log-of-a-rounded-ratio error near p = q: p − q is
    exact there) and p·log(p/q) below (log p − log q where the ratio is subnormal or overflows): every term
    within 1.5e-13 relative (float64). The sum keeps an absolute error of ~eps·Σ|p log(p/q)| (the conditioning
    of the sum; at p ≈ q that is ~eps·Σ|p − q|, the same as rel_entr(...).sum()). numpy kernels (vectorised
    log1p); CPU torch tensors run them on shared memory, others the same formula in torch. No gradient (see
    `_fdiv_vectors`).
    """
    if isinstance(p, np.ndarray):
        return _kl_vectors_np(p, q)
    if p.device.type == "cpu" and p.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(np.asarray(_kl_vectors_np(p.detach().numpy(), q.detach().numpy())))
    if p.shape != q.shape:
        p, q = torch.broadcast_tensors(p, q)
    x = torch.sub(p, q).div_(q).log1p_()
    bad = ~(x <= 700.0) | (x < _LOG_NEAR_LO)
    pg = torch.where(bad & (p > 0) & (q > 0), p, torch.ones_like(p))
    qg = torch.where(bad & (p > 0) & (q > 0), q, torch.ones_like(q))
    t = torch.where((p > 0) & (q > 0), pg * ratio_log(pg, qg),
                    torch.where(p > 0, torch.full_like(p, math.inf), torch.zeros_like(p)))
    return torch.where(bad, t, p * x).sum(-1)


def _fdiv_vectors(p, q, div):
    """Σ q f(p/q) on the last axis (FDivergence.integrand: three regimes, no overflowing ratio)."""
    return div.integrand(p, q).sum(-1)


@register_closed_form(ANY, np.ndarray, np.ndarray)
def _arrays_np(p, q, div):
    return _fdiv_vectors(p, q, div)


@register_closed_form(ANY, torch.Tensor, torch.Tensor)
def _arrays_torch(p, q, div):
    return _fdiv_vectors(p, q, div)


# KL's fast kernel is an ordinary entry of the registry, keyed on the kl object: more specific than "*", so
# dispatch on the object picks it; divergences equal to KL in value but other objects use the integrand.
@register_closed_form("kl", np.ndarray, np.ndarray)
def _kl_arrays_np(p, q, div):
    return _kl_vectors(p, q)


@register_closed_form("kl", torch.Tensor, torch.Tensor)
def _kl_arrays_torch(p, q, div):
    if _needs_grad(p, q):  # the kernel has no gradient: the integrand's autograd path
        return _fdiv_vectors(p, q, div)
    with torch.no_grad():
        return _kl_vectors(p, q)


def _vectors(p, q, div):
    """The registered probability-vector form of div for the pair's array types (Categorical uses it)."""
    fn = find_closed_form(div, type(p), type(q))
    return fn(p, q, div) if fn is not None else _fdiv_vectors(p, q, div)


def _holds_logits(d) -> bool:
    return "logits" in d.__dict__ and "probs" not in d.__dict__


def _log_probs(d):
    return d.logits if isinstance(d, td.Categorical) else None


@register_closed_form(ANY, td.Categorical, td.Categorical)
def _categorical(p, q, div):
    """Probability form when both hold probs; log form (log_softmax logits, never softmax-then-divide)
    when either holds logits, so probabilities that underflow keep their exact logarithms."""
    check_event_shapes(p.probs if not _holds_logits(p) else p.logits,
                       q.probs if not _holds_logits(q) else q.logits, ("p.probs", "q.probs"))
    if not (_holds_logits(p) or _holds_logits(q)):
        return _vectors(p.probs, q.probs, div)
    lp = p.logits if _holds_logits(p) else torch.log(p.probs)  # torch keeps Categorical logits normalised
    lq = q.logits if _holds_logits(q) else torch.log(q.probs)
    return div.log_integrand(lp, lq).sum(-1)


@register_closed_form(ANY, td.Bernoulli, td.Bernoulli)
def _bernoulli(p, q, div):
    """Two-point sum. probs: the 0-side uses x₀ = (q₁ − p₁)/q₀ (1 − p₁ has lost p₁'s digits when p₁ is tiny);
    logits: log p₁ = −softplus(−l), log p₀ = −softplus(l) and the log-space integrand."""
    if _holds_logits(p) or _holds_logits(q):
        def logs(d):
            if _holds_logits(d):  # log σ(±l) = −softplus(∓l) exactly (F.softplus returns l itself beyond 20)
                zero = torch.zeros_like(d.logits)
                return -torch.logaddexp(-d.logits, zero), -torch.logaddexp(d.logits, zero)
            return torch.log(d.probs), torch.log1p(-d.probs)
        (lp1, lp0), (lq1, lq0) = logs(p), logs(q)
        return div.log_integrand(lp1, lq1) + div.log_integrand(lp0, lq0)
    p1, q1 = torch.broadcast_tensors(p.probs, q.probs)
    p0, q0 = 1.0 - p1, 1.0 - q1
    return div.integrand(p1, q1) + div.integrand(p0, q0, x=(q1 - p1) / q0)
