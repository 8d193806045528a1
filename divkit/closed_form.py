"""`divergence(p, q, div)`: exact f-divergences from a registry of closed forms, numeric fallbacks otherwise.

    import divkit as dk, torch, scipy.stats as st
    dk.divergence(torch.distributions.Normal(0., 1.), torch.distributions.Normal(1., 2.), "kl")  # tensor
    dk.divergence(st.norm(0, 1), st.norm(1, 2), "js")              # float, by quadrature (no closed form)
    dk.divergence(np.array([.5, .5]), np.array([.9, .1]), "tv")    # numpy, exact: Σ q f(p/q)

Inputs p, q (same kind):
- torch.distributions (Normal, MultivariateNormal, Categorical, Bernoulli with closed forms; any other
  1-D continuous distribution by quadrature, anything with rsample/sample by Monte Carlo) -> torch, with
  autograd through the parameters of closed forms; batch shapes broadcast.
- scipy.stats frozen `norm` / `multivariate_normal` -> float (scalar) or numpy (batched `norm`); other frozen
  1-D continuous distributions by quadrature.
- probability vectors on the last axis: numpy -> numpy, torch -> torch (validated: ≥ 0, no NaN, sums to 1
  within `divkit.validation.sum_tolerance`; pass validate=False to skip).

Registry (`register_closed_form(div_name, type_p, type_q)`), after torch.distributions.kl.register_kl: the
entry whose types are closest in the method resolution orders of type(p), type(q) wins; a tie between two
entries (one more specific for p, the other for q) warns, like torch. Keys: a catalogue name ("kl", "tv",
...), "alpha" for every α member (a = div.params["a"]), or "*" for entries exact for every f (probability
vectors). An FDivergence that is not the catalogue's object of its name (e.g. from `from_generator`) only
matches "*" entries, otherwise it goes to the numeric fallback.

Closed forms (P = N(μ1, σ1²), Q = N(μ2, σ2²), Δ = μ1 − μ2, ε = σ1²/σ2² − 1 computed as d(d + 2),
g(y) = y − log1p(y) ≥ 0 by a series for |y| ≤ 0.05):
  KL = g(d) + ½d² + Δ²/(2σ2²), d = σ1/σ2 − 1  (= log σ2/σ1 + (σ1² + Δ²)/(2σ2²) − ½, without cancellation)
  log I_a = log ∫ p^a q^{1−a} = a(a−1)Δ²/(2σ_a²) + ½[g((1−a)ε) − (1−a) g(ε)],  σ_a² = σ2²(1 + (1−a)ε)
  α-divergence = expm1(log I_a)/(a(a−1)) (+inf when σ_a² ≤ 0, a ∉ [0, 1]);
  squared Hellinger = −2 expm1(log I_½) = 2(1 − BC);  Pearson = expm1(log I_2);  Neyman = expm1(log I_{−1});
  TV: erf(|Δ|/(2√2 σ)) for equal scales, else P(A) − Q(A) with A = {p > q} bounded by the two crossings
  (a difference of probabilities: absolute error ~1e-16, so TV < 1e-7 between unequal scales loses relative
  digits);
  Jeffreys = KL(P‖Q) + KL(Q‖P).
Multivariate normals use the same formulas with ε replaced by the eigenvalues μ_i of
L1⁻¹(Σ0 − Σ1)L1⁻ᵀ (Σ1 = L1 L1ᵀ) and the Mahalanobis terms computed by Cholesky solves (Rényi /
Bhattacharyya: Pardo 2006, "Statistical inference based on divergence measures", §1.3; Gil et al. 2013).

Where σ1/σ2 is far from 1 (|ε| > ½) the affinities are evaluated in log ρ, ρ = σ1/σ2, so no ρ² over- or
underflows and no large logs cancel (see `_normal_log_affinity`); for MVN the log(1 + μ_i) of eigenvalues
away from 0 come from the Cholesky log-determinants (1 + μ_i = 1e-8 is not representable as float32 μ_i + 1).

Accuracy (the contract of issue 11, tested against mpmath at 50+ digits in tests/divkit/test_exact.py):
  Normal closed forms: ≤ 1e-12 relative (float64) / 1e-5 (float32) wherever representable, σ1/σ2 from
    1e-300 to 1e300 (float64) and 1e-36 to 1e36 (float32); +inf exactly where the value overflows;
  MVN: the same, plus an absolute ≈ eps·(1 + max|μ|)·Σ_{|μ_i| ≤ ½}|μ_i| (the eigenvalues of L⁻¹(Σ0 − Σ1)L⁻ᵀ
    inherit the rounding of forming L Lᵀ);
  probability vectors, Categorical (probs), Bernoulli (probs): every term q·f(p/q) within a few ulps
    (1.5e-13 relative for the KL kernel); KL / reverse KL / GAN sums near p = q keep ≈ eps·Σ|p − q| absolute
    (the terms cancel; scipy rel_entr(...).sum() has the same); the others are sums of non-negative terms;
  logits (Categorical, Bernoulli): log p carries eps·|log p|, so ≈ eps·Σ(p + q)(|log p| + |log q|) absolute;
  results below the smallest normal number: an absolute floor of that number (subnormals have fewer bits).

method="auto" tries the registry, then torch.distributions.kl_divergence for KL-type divergences between
torch pairs torch registers (Independent, LowRankMultivariateNormal, Dirichlet, Poisson, ...; exact), then
quadrature (1-D continuous), then Monte Carlo (with a NumericFallbackWarning; `explain(p, q, div)` names the
path without computing); "closed_form",
"quadrature", "monte_carlo" force one. Monte Carlo returns `divkit.numeric.MonteCarloResult(value, stderr,
n)` (a NamedTuple) whichever way it was reached; every other path returns the value alone.

Warning: quadrature works on Python floats one batch element at a time: it returns a detached tensor for
torch inputs (a UserWarning is issued when parameters require grad; use method="monte_carlo", which
differentiates through rsample, or a closed form).
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
import torch.distributions as td

from . import numeric
from ._stable import g1p, ratio_log
from .catalog import get
from .fdiv import FDivergence
from .validation import check_event_shapes, check_finite, check_positive, check_probability_vector, check_same_world

__all__ = ["divergence", "register_closed_form", "NoClosedFormError", "NumericFallbackWarning", "lookup_closed_form",
           "explain", "METHODS"]

METHODS = ("auto", "closed_form", "quadrature", "monte_carlo")
ANY = "*"


class NoClosedFormError(NotImplementedError, TypeError):
    """No registered closed form for (divergence, type(p), type(q)); the message names the fallback."""


class NumericFallbackWarning(UserWarning):
    """method="auto" found no exact form and returned a Monte Carlo estimate (the warning names it)."""


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


def explain(p, q, div="kl", method: str = "auto") -> str:
    """Which path `divergence(p, q, div, method=method)` takes, in words: a divkit closed form (the registered
    function's name), torch.distributions.kl_divergence, the exact probability-vector sum, quadrature or
    Monte Carlo. Distributions only (probability vectors always take the exact sum)."""
    div = get(div)
    if _kind(p) == "array":
        return "exact sum Σ q f(p/q) over probability vectors (FDivergence.integrand)"
    if _kind(p) == "scipy":
        tp, tq = _scipy_to_torch(p, "p"), _scipy_to_torch(q, "q")
        if tp is not None and tq is not None:
            p, q = tp, tq
    if method in ("auto", "closed_form"):
        fn = _dispatch(_registry_key(div), type(p), type(q))
        if fn is not None:
            return f"divkit closed form {fn.__name__} ({_type_name(p)} / {_type_name(q)})"
        if _torch_kl_form(p, q, div) is not None:
            return "torch.distributions.kl_divergence (exact; torch's registered rule)"
        if method == "closed_form":
            return "none: no closed form (divergence(..., method='closed_form') raises NoClosedFormError)"
    fb = _fallback_name(p, q) if method == "auto" else method
    return {"quadrature": "adaptive quadrature (scipy.integrate.quad on log densities)",
            "monte_carlo": "seeded Monte Carlo estimate (MonteCarloResult with stderr)"}.get(fb, f"unsupported ({fb})")


# ============================================================================ registry
_REGISTRY: dict[tuple[str, type, type], object] = {}


def register_closed_form(div_name: str, type_p: type, type_q: type):
    """Decorator registering `fn(p, q, div) -> value` as the closed form of `div_name` for (type_p, type_q).

    div_name: a catalogue name ("kl", "squared_hellinger", ...), "alpha" (every α member, read a from
    div.params["a"]), or "*" (exact for every f-divergence). The most specific registration wins (see the
    module docstring). Re-registering a key replaces it.

        @dk.register_closed_form("kl", MyNormal, MyNormal)
        def _kl_mine(p, q, div): ...
    """
    if not isinstance(div_name, str):
        raise TypeError(f"div_name must be a str (a divergence name, 'alpha' or '*'), got {type(div_name).__name__}")
    if div_name not in (ANY, "alpha"):
        get(div_name)  # unknown names raise ValueError listing the known ones
    for nm, t in (("type_p", type_p), ("type_q", type_q)):
        if not isinstance(t, type):
            raise TypeError(f"{nm} must be a class, got {t!r}")

    def deco(fn):
        _REGISTRY[(div_name, type_p, type_q)] = fn
        _dispatch.cache_clear()
        return fn

    return deco


def _registry_key(div: FDivergence) -> str | None:
    if div.family == "alpha" and "a" in div.params:  # the object's family tag, not its name string
        return "alpha"
    try:
        return div.name if get(div.name) is div else None
    except (ValueError, TypeError):
        return None


@functools.cache
def _dispatch(key, type_p, type_q):
    """Most specific registered (type_p', type_q') for key, by MRO distance (torch's _dispatch_kl)."""
    for k in ((key, ANY) if key is not None else (ANY,)):
        matches = [(sp, sq) for (n, sp, sq) in _REGISTRY if n == k and issubclass(type_p, sp)
                   and issubclass(type_q, sq)]
        if not matches:
            continue
        mp, mq = type_p.__mro__, type_q.__mro__
        left = min(matches, key=lambda m: (mp.index(m[0]), mq.index(m[1])))
        right = min(matches, key=lambda m: (mq.index(m[1]), mp.index(m[0])))
        if left != right:
            warnings.warn(f"ambiguous closed form for {k!r} between {type_p.__name__} and {type_q.__name__}: "
                          f"{left[0].__name__}/{left[1].__name__} and {right[0].__name__}/{right[1].__name__}"
                          f" both match; using the first (register the exact pair to resolve)", RuntimeWarning)
        return _REGISTRY[(k, *left)]
    return None


def lookup_closed_form(p, q, div):
    """The registered function for (div, type(p), type(q)), or None."""
    return _dispatch(_registry_key(get(div)), type(p), type(q))


# ============================================================================ stable helpers
# x − log1p(x) = Σ_{k≥2} (−1)^k x^k / k; 15 terms give < 1e-17 relative error for |x| ≤ 0.05
_G_COEF = [(-1.0) ** k / k for k in range(2, 17)]
_G_SMALL = 0.05


def _g_series(x):
    acc = torch.full_like(x, _G_COEF[-1])
    for c in reversed(_G_COEF[:-1]):
        acc = acc * x + c
    return acc * x * x


def _g(x):
    """x − log1p(x) ≥ 0 for x > −1, accurate to a few ulp (series near 0). Differentiable."""
    small = x.abs() <= _G_SMALL
    xs = torch.where(small, x, torch.zeros_like(x))
    xb = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, _g_series(xs), xb - torch.log1p(xb))


def _needs_grad(*ts) -> bool:
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in ts)


# ============================================================================ univariate normal
def _normal_params(p: td.Normal, q: td.Normal):
    for d, nm in ((p, "p"), (q, "q")):
        if not d._validate_args:  # torch validated at construction otherwise
            check_positive(d.scale, f"{nm}.scale")
            check_finite(d.loc, f"{nm}.loc")
    return p.loc, p.scale, q.loc, q.scale


def _normal_eps(s1, s2):
    d = (s1 - s2) / s2
    return d * (d + 2.0)  # σ1²/σ2² − 1 without cancellation near σ1 = σ2


def _kl_normal_fast(m1, s1, m2, s2):
    """No-grad KL in ~10 in-place kernels: ½(ρ² − 1) − log ρ + ½(Δ/σ2)², ρ = σ1/σ2, then a patch.

    The σ part is evaluated in float64 (float32 inputs are rounded once at the end). Away from σ1 = σ2 it has
    no harmful cancellation: relative error ≲ (ρ² + |log ρ|)·eps/(½(ρ² − 1) − log ρ) ≤ ~1.1e-13 for
    |ρ − 1| ≥ 0.05 (log ρ is exact for σ1/σ2 from 1e-300 to 1e300: no 1 + d that loses σ1/σ2's digits).
    Entries closer to ρ = 1 are recomputed from d = (σ1 − σ2)/σ2 (exact) as g(d) + ½d² in float64, rounded
    once, g(d) = d − log1p(d) directly (≤ 4.4e-13 relative for |d| ≥ 1e-3) or by its series below.
    """
    if s1.dtype in (torch.float32, torch.float64):
        out = _kl_normal_fast_d(m1, s1, m2, s2)
        if out is not None:
            return out
    if s1.dtype == torch.float64:
        rho = torch.div(s1, s2)
    else:  # float32/16: the σ part in float64, rounded once
        rho = s1.double().div_(s2.double())
    out = torch.log(rho).neg_().addcmul_(rho, rho, value=0.5).sub_(0.5)
    idx = torch.sub(rho, 1.0).abs_().lt_(0.05).view(-1).nonzero().squeeze(1)
    if idx.numel():
        a, b = s1.reshape(-1).index_select(0, idx).double(), s2.reshape(-1).index_select(0, idx).double()
        d = (a - b) / b
        g = d - torch.log1p(d)  # relative error 2·eps64/|d|: ≤ 4.4e-13 for |d| ≥ 1e-3
        tiny = (d.abs() < 1e-3).nonzero().squeeze(1)
        if tiny.numel():
            g.index_copy_(0, tiny, _g_series(d.index_select(0, tiny)))
        out.view(-1).index_copy_(0, idx, g.addcmul_(d, d, value=0.5))
    out = out.to(s1.dtype)
    z = torch.sub(m1, m2).div_(s2)                    # Δ/σ2 (inputs are expanded to one shape by the caller)
    return out.addcmul_(z, z, value=0.5)


def _kl_normal_fast_d(m1, s1, m2, s2):
    """In the input dtype: (d + ½d²) − log1p(d) + ½z², d = (σ1 − σ2)/σ2 (exact), ~9 kernels.

    log1p(d) is within an ulp of |log1p(d)|, so the σ part g(d) + ½d² ≈ d² keeps ≈ 2·eps/|d| relative:
    float32 ≤ 1e-5 for |d| ≥ 0.012, float64 ≤ 4.4e-13 for |d| ≥ 1e-3. Closer entries are patched with the
    float64 series, rounded once. None when
    some σ1/σ2 < 0.02 (1 + d has lost σ1/σ2's digits there): the caller's log ρ path handles those.
    On CPU the log1p is numpy's (vectorised; shared memory, no copy).
    """
    d = torch.sub(s1, s2).div_(s2)
    if float(d.min()) < -0.98:
        return None
    out = torch.addcmul(d, d, d, value=0.5)
    l1p = torch.from_numpy(np.asarray(np.log1p(d.numpy()))) if d.device.type == "cpu" else torch.log1p(d)
    out.sub_(l1p)
    near = 0.012 if d.dtype == torch.float32 else 1e-3
    idx = l1p.copy_(d).abs_().lt_(near).view(-1).nonzero().squeeze(1)
    if idx.numel():
        dd = d.view(-1).index_select(0, idx).double()
        out.view(-1).index_copy_(0, idx, (_g_series(dd) + 0.5 * dd * dd).to(out.dtype))
    z = torch.sub(m1, m2, out=d).div_(s2)
    return out.addcmul_(z, z, value=0.5)


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
    result is within a few ulps (float64 ≤ 1e-12 relative with the |d| ≤ 1e-3 series patch, float32 g in
    float64) wherever it is representable, σ1/σ2 from 1e-300 to 1e300.
    """
    if _needs_grad(m1, s1, m2, s2):
        d = (s1 - s2) / s2
        z = (m1 - m2) / s2
        return _g_ratio(d, s1, s2) + 0.5 * d * d + 0.5 * z * z
    shape = torch.broadcast_shapes(m1.shape, s1.shape, m2.shape, s2.shape)
    return _kl_normal_fast(m1.expand(shape), s1.expand(shape), m2.expand(shape), s2.expand(shape))


def _log_affinity_from_eps(a: float, maha_a, eps):
    """log I_a = a(a−1)/2 · maha_a + ½[g((1−a)ε) − (1−a) g(ε)] with the validity mask 1 + (1−a)ε > 0."""
    k = 1.0 + (1.0 - a) * eps
    ok = k > 0
    e = torch.where(ok, eps, torch.zeros_like(eps))
    val = 0.5 * a * (a - 1.0) * maha_a + 0.5 * (_g((1.0 - a) * e) - (1.0 - a) * _g(e))
    return val, ok


def _alpha_from_log_affinity(a: float, log_i, ok):
    """(I_a − 1)/(a(a−1)) = expm1(log I_a)/(a(a−1)); +inf where the affinity integral diverges.

    For log I_a > 1 the 1/(a(a−1)) goes inside the exp (I_a itself may overflow where the result does not).
    """
    c = a * (a - 1.0)
    big = log_i > 1.0
    small = torch.expm1(torch.where(big, torch.zeros_like(log_i), log_i)) / c
    large = math.copysign(1.0, c) * torch.exp(torch.where(big, log_i, torch.zeros_like(log_i)) - math.log(abs(c))) - 1.0 / c
    val = torch.where(big, large, small)
    return torch.where(ok, val, torch.full_like(val, math.inf))


def _normal_log_affinity(a: float, m1, s1, m2, s2):
    """log I_a = log ∫ p^a q^{1−a} and its validity mask (σ_a² = aσ2² + (1−a)σ1² > 0).

    |ε| ≤ ½ (ε = ρ² − 1, ρ = σ1/σ2): the g-form of the module docstring (no 1 − 1). Otherwise in logs of ρ,
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


# ============================================================================ multivariate normal
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


# ============================================================================ discrete
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
    if div.family == "kl" and _registry_key(div) == "kl" and not _needs_grad(p, q):
        if isinstance(p, torch.Tensor):
            with torch.no_grad():
                return _kl_vectors(p, q)
        return _kl_vectors(p, q)
    return div.integrand(p, q).sum(-1)


@register_closed_form(ANY, np.ndarray, np.ndarray)
def _arrays_np(p, q, div):
    return _fdiv_vectors(p, q, div)


@register_closed_form(ANY, torch.Tensor, torch.Tensor)
def _arrays_torch(p, q, div):
    return _fdiv_vectors(p, q, div)


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
        return _fdiv_vectors(p.probs, q.probs, div)
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


# ============================================================================ input handling
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


# ============================================================================ numeric paths
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


# ============================================================================ public entry point
def divergence(p, q, div="kl", *, method: str = "auto", n: int = 100_000, seed: int = 0, validate: bool = True):
    """D_f(P‖Q) in nats: closed form when registered, else quadrature (1-D) or seeded Monte Carlo.

    Args:
      p, q: a pair of the same kind: torch.distributions, scipy.stats frozen distributions, or arrays of
        probability vectors on the last axis (numpy or torch; batch axes broadcast).
      div: a divergence name (see `divkit.names()`, "alpha(a)") or an FDivergence.
      method: "auto" | "closed_form" | "quadrature" | "monte_carlo".
      n, seed: Monte Carlo sample size and seed.
      validate: check probability vectors (≥ 0, no NaN, sums to 1 within
        `divkit.validation.sum_tolerance(dtype)`).

    Returns:
      torch tensor (batch shape) for torch inputs, float / numpy array for numpy and scipy inputs;
      `MonteCarloResult(value, stderr, n)` when Monte Carlo was used. +inf where the divergence is infinite.

    Raises:
      ValueError: invalid probabilities, shapes or parameters; unknown divergence or method.
      TypeError: unsupported input kinds; NoClosedFormError (a TypeError and NotImplementedError) when
        method="closed_form" has no registered entry (the message names the fallback to use).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    div = get(div)
    kp, kq = _kind(p), _kind(q)
    if kp != kq:
        raise TypeError(f"p and q must be the same kind of object, got {type(p).__name__} and {type(q).__name__}")

    numpy_out = False
    if kp == "array":
        if method in ("quadrature", "monte_carlo"):
            raise ValueError(f"method={method!r} applies to distributions; probability vectors always use the "
                             f"exact sum Σ q f(p/q) (method='auto' or 'closed_form')")
        check_same_world(p, q)
        if validate:
            p = check_probability_vector(p, "p")
            q = check_probability_vector(q, "q")
        else:
            from .validation import as_array
            p, q = as_array(p, "p"), as_array(q, "q")
        check_event_shapes(p, q)
        if isinstance(p, torch.Tensor) and p.dtype != q.dtype:
            dt = torch.promote_types(p.dtype, q.dtype)
            p, q = p.to(dt), q.to(dt)
        fn = _dispatch(_registry_key(div), type(p), type(q))
        return fn(p, q, div)

    if kp == "scipy":
        numpy_out = True
        tp, tq = _scipy_to_torch(p, "p"), _scipy_to_torch(q, "q")
        if tp is not None and tq is not None:
            p, q = tp, tq
        elif (tp is None) != (tq is None) and not (_is_1d_continuous(p) and _is_1d_continuous(q)):
            raise TypeError(f"unsupported scipy pair {_scipy_name(p)} / {_scipy_name(q)}")

    fn = _dispatch(_registry_key(div), type(p), type(q))
    if fn is None and method in ("auto", "closed_form"):
        fn = _torch_kl_form(p, q, div)
    if method == "closed_form" or (method == "auto" and fn is not None):
        if fn is None:
            fb = _fallback_name(p, q)
            hint = (f"use method='{fb}'" if fb != "none" else "the pair is not supported")
            raise NoClosedFormError(f"no closed form registered for {div.name!r} between {_type_name(p)} and "
                                    f"{_type_name(q)}; {hint} (or register one with dk.register_closed_form)")
        return _to_output(fn(p, q, div), numpy_out)

    fb = _fallback_name(p, q)
    if method == "auto" and fb == "monte_carlo":
        warnings.warn(f"no closed form for {div.name!r} between {_type_name(p)} and {_type_name(q)} (neither "
                      f"divkit's registry nor torch.distributions.kl_divergence has one): returning a seeded Monte "
                      f"Carlo estimate (n={n}) with its stderr; see dk.closed_form.explain(p, q, div)",
                      NumericFallbackWarning, stacklevel=2)
    if method == "quadrature" or (method == "auto" and fb == "quadrature"):
        if fb != "quadrature":
            raise TypeError(f"quadrature needs two 1-D continuous distributions, got {_type_name(p)} and "
                            f"{_type_name(q)}; use method='monte_carlo'")
        return _quadrature(p, q, div, numpy_out)
    if fb == "none":
        raise TypeError(f"unsupported pair {_type_name(p)} / {_type_name(q)} for {div.name!r}: no closed form, and "
                        f"neither quadrature (two 1-D densities) nor Monte Carlo (two densities of one event shape) "
                        f"applies; for discrete distributions pass probability vectors (e.g. d.pmf(support))")
    return _monte_carlo(p, q, div, n, seed, numpy_out)


def _scipy_name(d) -> str:
    return f"scipy.stats.{getattr(getattr(d, 'dist', None), 'name', type(d).__name__)}"


def _type_name(d) -> str:
    if isinstance(d, td.Distribution):
        return f"torch {type(d).__name__}"
    if _is_scipy_frozen(d):
        return _scipy_name(d)
    return type(d).__name__
