"""Closed forms between univariate normals (torch.distributions.Normal): KL, reverse KL, Jeffreys, α,
squared Hellinger, Pearson, Neyman, TV (formulas and accuracy in the package docstring)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributions as td

from ..validation import check_finite, check_positive
from .kernels import _alpha_from_log_affinity, _g, _g_series, _log_affinity_from_eps, _needs_grad
from .registry import register_closed_form


def _normal_params(p: td.Normal, q: td.Normal):
    for d, nm in ((p, "p"), (q, "q")):
        if not d._validate_args:  # torch validated at construction otherwise
            check_positive(d.scale, f"{nm}.scale")
            check_finite(d.loc, f"{nm}.loc")
    return p.loc, p.scale, q.loc, q.scale


def _normal_eps(s1, s2):
    d = (s1 - s2) / s2
    return d * (d + 2.0)  # σ1²/σ2² − 1 without cancellation near σ1 = σ2


# The no-grad KL: one fused common branch over every entry in the input dtype, then the few entries where it
# loses digits recomputed in float64 (the careful path) and rounded once.
#   common:  KL = (d + ½d²) − log1p(d) + ½z²,  d = (σ1 − σ2)/σ2, z = (μ1 − μ2)/σ2.
# log1p(d) is within an ulp of |log1p(d)|, so the σ part g(d) + ½d² ≈ d² keeps ≈ 2·eps/|d| relative: float32
# ≤ 1e-5 for |d| ≥ 0.012, float64 ≤ 4.4e-13 for |d| ≥ 1e-3 (_NEAR). Below σ1/σ2 = 0.02 (d < −0.98), 1 + d has
# lost σ1/σ2's digits (float32 σ1/σ2 = 1e-8 rounds d to −1): those entries take log σ1 − log σ2 instead.
_NEAR = {torch.float32: 0.012, torch.float64: 1e-3}
_FAR = -0.98


def _sigma_at(d: float) -> float:
    return d + 0.5 * d * d - math.log1p(d)


# The flag is read off the fast σ part itself, one comparison (no |d| pass): σ(d) = g(d) + ½d² increases with
# |d| on each side and σ(−n) > σ(n), so {σ_fast < σ(−n)·(1 + 1e-3)} holds every |d| < n (the fast value is
# within 1e-5 relative of σ at |d| ≈ n; the 1e-3 margin covers it), plus a few entries just above n (harmless:
# the careful path is exact for every d).
_SIGMA_FLAG = {dt: _sigma_at(-n) * (1.0 + 1e-3) for dt, n in _NEAR.items()}


def _kl_normal_fast(m1, s1, m2, s2):
    """No-grad KL(N(m1, s1²) ‖ N(m2, s2²)), inputs of one shape. float32/float64 keep their dtype (no upcast on
    the common branch); other float dtypes are computed in float32 and rounded once. CPU tensors run the
    numpy kernels on shared memory (numpy's vectorised log1p; no copies).

    The flagged entries' σ part is recomputed from the same d (its rounding, ≤ ½ulp, moves g(d) + ½d² ≈ d² by
    ≤ 1 ulp relative) in float64 by `_sigma_careful`, then the ½z² is added to every entry."""
    dt = s1.dtype
    if dt not in _NEAR:
        return _kl_normal_fast(*(t.float() for t in (m1, s1, m2, s2))).to(dt)
    if s1.device.type == "cpu":
        return _kl_normal_np(m1, s1, m2, s2)
    return _kl_normal_torch(m1, s1, m2, s2)


def _kl_normal_torch(m1, s1, m2, s2):
    """`_kl_normal_fast` in torch ops (any device; CPU tensors take the numpy kernel unless called directly)."""
    dt = s1.dtype
    d = torch.sub(s1, s2).div_(s2)
    lg = torch.log1p(d)
    out = torch.addcmul(d, d, d, value=0.5).sub_(lg).contiguous()  # (elementwise ops keep a strided layout)
    bad = out < _SIGMA_FLAG[dt]
    if d.numel() and float(d.min()) < _FAR:
        bad |= d < _FAR
    idx = bad.reshape(-1).nonzero().squeeze(1)
    if idx.numel():
        dd, a, b = (t.reshape(-1).index_select(0, idx) for t in (d, s1, s2))
        out.view(-1).index_copy_(0, idx, _sigma_careful(dd, a, b))
    z = torch.sub(m1, m2, out=lg).div_(s2)
    return out.addcmul_(z, z, value=0.5)


_CHUNK = 1 << 17  # entries per block of the CPU kernel: its three block buffers stay in cache (≤ 1.5 MB)


def _kl_normal_np(m1, s1, m2, s2):
    """The CPU kernel of `_kl_normal_fast` in numpy on the tensors' memory, block by block (_CHUNK entries:
    the intermediates stay in cache, so the inputs are read once and the output written once); each block's
    flagged entries take the careful path (`_sigma_careful_np`) while the block is in cache."""
    dt = s1.dtype
    a1, b1, a2, b2 = (np.ascontiguousarray(t.detach().numpy()).reshape(-1) for t in (m1, s1, m2, s2))
    n = b1.size
    out = np.empty(n, b1.dtype)
    flag = _SIGMA_FLAG[dt]
    d, lg = np.empty(min(n, _CHUNK), b1.dtype), np.empty(min(n, _CHUNK), b1.dtype)
    bb = np.empty(d.shape, bool)
    with np.errstate(all="ignore"):
        for i in range(0, n, _CHUNK):
            j = min(i + _CHUNK, n)
            dc, lc, bc, oc, s2c = d[:j - i], lg[:j - i], bb[:j - i], out[i:j], b2[i:j]
            np.subtract(b1[i:j], s2c, out=dc)
            np.divide(dc, s2c, out=dc)                    # d
            np.log1p(dc, out=lc)
            np.subtract(dc, lc, out=lc)                   # d − log1p(d)
            np.multiply(dc, 0.5, out=oc)
            oc *= dc
            oc += lc                                      # σ part, fast
            np.less(oc, flag, out=bc)
            far = dc.min() < _FAR
            if far:
                bc |= dc < _FAR
            ix = np.flatnonzero(bc)
            if ix.size:
                oc[ix] = _sigma_careful_np(dc[ix].astype(np.float64), b1[i:j][ix] if far else None,
                                           s2c[ix] if far else None)
            np.subtract(a1[i:j], a2[i:j], out=lc)
            lc /= s2c                                     # z
            lc *= lc
            lc *= 0.5
            oc += lc
    return torch.from_numpy(out.reshape(s1.shape))


# x − log1p(x) = Σ_{k≥2} (−1)^k x^k/k: for |x| < 1e-3 the terms to k = 9 leave < 1e-20 relative
_G_POLY = np.array([(-1.0) ** k / k for k in range(9, 1, -1)] + [0.0, 0.0])


def _sigma_careful_np(d, s1=None, s2=None):
    """`_sigma_careful` in numpy float64 on a block's flagged entries (d float64; s1, s2 their scales when some
    may have d < −½, else None)."""
    g = d - np.log1p(d)
    tiny = np.flatnonzero(np.abs(d) < 1e-3)
    if tiny.size:
        g[tiny] = np.polyval(_G_POLY, d[tiny])
    if s1 is not None:
        far = np.flatnonzero(d < -0.5)
        if far.size:
            g[far] = d[far] - (np.log(s1[far].astype(np.float64)) - np.log(s2[far].astype(np.float64)))
    g += 0.5 * d * d
    return g


def _sigma_careful(d, s1=None, s2=None, far=None):
    """The σ part g(d) + ½d² of the KL in float64 (1-D, the flagged entries), rounded once to d's dtype:
    g(d) = d − log1p(d) (≤ 4.4e-13 relative for |d| ≥ 1e-3), the series below 1e-3, and d − (log σ1 − log σ2)
    where d < −½ (1 + d has lost σ1/σ2's digits). s1, s2: the scales at the positions `far` of d (default:
    all of d's entries, with far = where d < −½); None: no such entries."""
    dd = d.double()
    g = dd - torch.log1p(dd)
    tiny = (dd.abs() < 1e-3).nonzero().squeeze(1)
    if tiny.numel():
        g[tiny] = _g_series(dd[tiny])
    if s1 is not None:
        if far is None:
            far = (dd < -0.5).nonzero().squeeze(1)
            s1, s2 = s1.index_select(0, far), s2.index_select(0, far)
        g[far] = dd[far] - (torch.log(s1.double()) - torch.log(s2.double()))
    return g.addcmul_(dd, dd, value=0.5).to(d.dtype)


def _g_ratio(d, s1, s2):
    """g(d) = d − log1p(d) for d = σ1/σ2 − 1; where d < −½, log1p(d) = log(σ1/σ2) from the ratio itself
    (1 + d has lost σ1/σ2's digits when σ1 ≪ σ2: float32 σ1/σ2 = 1e-8 rounds d to −1)."""
    far = d < -0.5
    one = torch.ones_like(d)
    r = torch.where(far, s1 / torch.where(far, s2, one), one)
    return torch.where(far, d - torch.log(r), _g(torch.where(far, torch.zeros_like(d), d)))


def _kl_normal(m1, s1, m2, s2):
    """KL(N(m1, s1²) ‖ N(m2, s2²)) = g(d) + ½d² + ½(Δ/σ2)², d = σ1/σ2 − 1, g(d) = d − log1p(d).

    (½[ρ − 1 − log ρ] with ρ = (1 + d)²: ρ − 1 = 2d + d², log ρ = 2 log1p(d).) Every term is ≥ 0, so the
    result keeps the accuracy of its σ part wherever it is representable, σ1/σ2 from 1e-300 to 1e300: no-grad
    (`_kl_normal_fast`) ≤ 1e-12 relative in float64 and ≤ 1e-5 in float32 (the fused branch in the input dtype
    where |d| is not tiny and σ1/σ2 ≥ 0.02, float64 elsewhere); with autograd, `_g_ratio` (a few ulps).
    """
    if _needs_grad(m1, s1, m2, s2):
        d = (s1 - s2) / s2
        z = (m1 - m2) / s2
        return _g_ratio(d, s1, s2) + 0.5 * d * d + 0.5 * z * z
    if m1.shape == s1.shape == m2.shape == s2.shape:
        return _kl_normal_fast(m1, s1, m2, s2)
    shape = torch.broadcast_shapes(m1.shape, s1.shape, m2.shape, s2.shape)
    return _kl_normal_fast(m1.expand(shape), s1.expand(shape), m2.expand(shape), s2.expand(shape))


def _normal_log_affinity(a: float, m1, s1, m2, s2):
    """log I_a = log ∫ p^a q^{1−a} and its validity mask (σ_a² = aσ2² + (1−a)σ1² > 0).

    |ε| ≤ ½ (ε = ρ² − 1, ρ = σ1/σ2): the g-form of the divkit.closed_form docstring (no 1 − 1). Otherwise in logs of ρ,
    so that no ρ² over/underflows and no large logs cancel:
      ρ < 1:  log I = ½[2(1−a) log ρ − log(a + (1−a)ρ²)] + a(a−1)/2 · (Δ/σ2)²/(a + (1−a)ρ²)
      ρ ≥ 1:  log I = ½[−2a log ρ − log((1−a) + aρ⁻²)] + a(a−1)/2 · (Δ/σ1)²/((1−a) + aρ⁻²)
    """
    eps = _normal_eps(s1, s2)
    small = eps.abs() <= 0.5
    d = m1 - m2
    # near: the g-form
    e_s = torch.where(small, eps, torch.zeros_like(eps))
    k_s = 1.0 + (1.0 - a) * e_s
    z2 = d / s2
    near, ok_near = _log_affinity_from_eps(a, z2 * z2 / k_s, e_s)  # (Δ/σ2)²: Δ² alone underflows first
    # far: in log ρ
    one = torch.ones_like(eps)
    rho = s1 / s2
    big = rho >= 1.0
    rg = torch.where(small, one, rho)
    inv2 = torch.where(big, 1.0 / rg, rg) ** 2                   # ρ⁻² (ρ ≥ 1) or ρ² (ρ < 1), both ≤ 1
    kk = torch.where(big, (1.0 - a) + a * inv2, a + (1.0 - a) * inv2)
    ok_far = kk > 0
    kg = torch.where(ok_far, kk, one)
    lr = torch.log(rg)
    z = torch.where(big, d / s1, d / s2)
    far = 0.5 * (torch.where(big, -2.0 * a * lr, 2.0 * (1.0 - a) * lr) - torch.log(kg)) \
        + 0.5 * a * (a - 1.0) * (z * z) / kg
    return torch.where(small, near, far), torch.where(small, ok_near, ok_far)


@register_closed_form("kl", td.Normal, td.Normal)
def _normal_kl(p, q, div):
    return _kl_normal(*_normal_params(p, q))


@register_closed_form("reverse_kl", td.Normal, td.Normal)
def _normal_rkl(p, q, div):
    m1, s1, m2, s2 = _normal_params(p, q)
    return _kl_normal(m2, s2, m1, s1)


@register_closed_form("jeffreys", td.Normal, td.Normal)
def _normal_jeffreys(p, q, div):
    m1, s1, m2, s2 = _normal_params(p, q)
    return _kl_normal(m1, s1, m2, s2) + _kl_normal(m2, s2, m1, s1)


@register_closed_form("alpha", td.Normal, td.Normal)
def _normal_alpha(p, q, div):
    a = float(div.params["a"])
    return _alpha_from_log_affinity(a, *_normal_log_affinity(a, *_normal_params(p, q)))


@register_closed_form("squared_hellinger", td.Normal, td.Normal)
def _normal_hellinger(p, q, div):
    log_i, _ = _normal_log_affinity(0.5, *_normal_params(p, q))
    return -2.0 * torch.expm1(log_i)


@register_closed_form("pearson", td.Normal, td.Normal)
def _normal_pearson(p, q, div):
    return 2.0 * _alpha_from_log_affinity(2.0, *_normal_log_affinity(2.0, *_normal_params(p, q)))


@register_closed_form("neyman", td.Normal, td.Normal)
def _normal_neyman(p, q, div):
    return 2.0 * _alpha_from_log_affinity(-1.0, *_normal_log_affinity(-1.0, *_normal_params(p, q)))


def _ndtr_diff(u, v):
    """Φ(u) − Φ(v), evaluated in the tail where it keeps relative accuracy."""
    pos = (u + v) > 0
    return torch.where(pos, torch.special.ndtr(-v) - torch.special.ndtr(-u), torch.special.ndtr(u) - torch.special.ndtr(v))


@register_closed_form("tv", td.Normal, td.Normal)
def _normal_tv(p, q, div):
    """½∫|p − q| = P(A) − Q(A), A = {p > q}; A = [x1, x2] if σ1 < σ2, ℝ∖[x1, x2] if σ1 > σ2."""
    m1, s1, m2, s2 = _normal_params(p, q)
    shape = torch.broadcast_shapes(m1.shape, s1.shape, m2.shape, s2.shape)
    m1, s1, m2, s2 = (t.expand(shape) for t in (m1, s1, m2, s2))
    d = m1 - m2
    equal = s1 == s2
    # (σ1 + σ2)/2 = σ here; it splits the gradient evenly, as TV's symmetry requires on σ1 = σ2
    tv_eq = torch.erf(d.abs() / (math.sqrt(2.0) * (s1 + s2)))
    # crossings of the densities: a x² + b x + c = 0 in y = x − m2 (shifted for accuracy)
    s1e = torch.where(equal, 2.0 * s2, s1)  # guard: any unequal value keeps the branch finite
    a = 0.5 / (s2 * s2) - 0.5 / (s1e * s1e)
    b = d / (s1e * s1e)
    c = torch.log(s2 / s1e) - 0.5 * d * d / (s1e * s1e)
    disc = (b * b - 4.0 * a * c).clamp_min(0.0)
    sq = torch.sqrt(disc)
    qq = -0.5 * (b + torch.where(b >= 0, sq, -sq))
    qq_safe = torch.where(qq == 0, torch.ones_like(qq), qq)
    r1 = torch.where(qq == 0, -torch.sqrt((-c / a).clamp_min(0.0)), qq / a)
    r2 = torch.where(qq == 0, torch.sqrt((-c / a).clamp_min(0.0)), c / qq_safe)
    lo, hi = torch.minimum(r1, r2), torch.maximum(r1, r2)  # in y = x − m2
    # standardised ends for P (x − m1 = y − Δ) and Q
    p_mass = _ndtr_diff((hi - d) / s1e, (lo - d) / s1e)
    q_mass = _ndtr_diff(hi / s2, lo / s2)
    tv_neq = torch.where(s1e < s2, p_mass - q_mass, q_mass - p_mass)
    return torch.where(equal, tv_eq, tv_neq)
