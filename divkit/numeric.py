"""Numeric f-divergences: adaptive quadrature for 1-D densities, seeded Monte Carlo otherwise.

These are the fallbacks of `divkit.divergence` (no closed form, e.g. JS between Gaussians) and the test
oracles other modules use.

Quadrature (`quadrature_divergence`): D_f(P‖Q) = ∫ q f(p/q) dx with the integrand written in log space from
log p and log q (r = log p − log q), in the non-negative "Bregman" form

    q·[f(u) − f(1) − f'(1)(u − 1)],  u = e^r,

which integrates to D_f − f(1) because ∫(p − q) = 0. Non-negative integrands have no cancellation, so
scipy.integrate.quad reaches a relative tolerance even for tiny divergences. Known divergences use
dedicated overflow-free forms, e.g. KL: p·(r + expm1(−r)) for r ≥ 0 and q·(r e^r − expm1(r)) for r < 0;
Pearson: e^{2 log p − log q}·expm1(−r)² for r > 0. The real line is split at the given breakpoints (modes,
modes ± k scales, density crossings) and the two infinite tails use quad's infinite-range transform.

Monte Carlo (`monte_carlo_divergence`): seeded, batched, returns `MonteCarloResult(value, stderr, n)`
(a NamedTuple, so `value, stderr, n = ...` works). KL uses E_P[log p − log q], reverse KL E_Q[log q −
log p], Jeffreys the sum of both, every other f the definition E_Q[f(p/q)]. Torch distributions with
`rsample` give reparameterised samples, so the estimate is differentiable in their parameters.

Warning: quadrature calls Python callables on scalars (scipy.integrate.quad): about 10^3–10^4 evaluations
per divergence. It does not propagate gradients.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import numpy as np
import torch

from .catalog import get
from .fdiv import FDivergence
from .validation import check_int

if TYPE_CHECKING:
    from ._typing import Distribution

LOG2 = math.log(2.0)


# ------------------------------------------------------------------ log-space integrands (scalars)
def _kl_pointwise(lp: float, lq: float) -> float:
    """p log(p/q) − p + q ≥ 0."""
    if lp == -math.inf:
        return math.exp(lq)
    if lq == -math.inf:
        return math.inf
    r = lp - lq
    if r >= 0:
        return math.exp(lp) * (r + math.expm1(-r))
    return math.exp(lq) * (r * math.exp(r) - math.expm1(r))


def _pearson_pointwise(lp: float, lq: float) -> float:
    """(p − q)²/q ≥ 0."""
    if lq == -math.inf:
        return 0.0 if lp == -math.inf else math.inf
    if lp == -math.inf:
        return math.exp(lq)
    r = lp - lq
    if r > 0:
        e = 2.0 * lp - lq
        return math.inf if e > 709.0 else math.exp(e) * math.expm1(-r) ** 2
    return math.exp(lq) * math.expm1(r) ** 2


def _hellinger_pointwise(lp: float, lq: float) -> float:
    """(√p − √q)²."""
    if lp == -math.inf or lq == -math.inf:
        return math.exp(max(lp, lq))
    r = lp - lq
    if r > 0:
        return math.exp(lp) * math.expm1(-0.5 * r) ** 2
    return math.exp(lq) * math.expm1(0.5 * r) ** 2


def _tv_pointwise(lp: float, lq: float) -> float:
    """½|p − q|."""
    if lp == -math.inf or lq == -math.inf:
        return 0.5 * math.exp(max(lp, lq))
    r = lp - lq
    if r > 0:
        return -0.5 * math.exp(lp) * math.expm1(-r)
    return -0.5 * math.exp(lq) * math.expm1(r)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _js_pointwise(lp: float, lq: float) -> float:
    """½[p log(2p/(p+q)) + q log(2q/(p+q))] ≥ 0."""
    if lp == -math.inf or lq == -math.inf:
        return 0.5 * LOG2 * math.exp(max(lp, lq))
    r = lp - lq
    # log(2p/(p+q)) = log 2 − softplus(−r),  log(2q/(p+q)) = log 2 − softplus(r)
    return 0.5 * (math.exp(lp) * (LOG2 - _softplus(-r)) + math.exp(lq) * (LOG2 - _softplus(r)))


def _alpha_pointwise(a: float):
    c = 1.0 / (a * (a - 1.0))

    def g(lp: float, lq: float) -> float:
        """q·(u^a − 1 − a(u − 1))/(a(a−1)) ≥ 0, u = p/q."""
        if lp == -math.inf:
            return math.exp(lq) * c * (a - 1.0) if a > 0 else (0.0 if lq == -math.inf else math.inf)
        if lq == -math.inf:
            return math.exp(lp) / (1.0 - a) if a < 1 else math.inf
        r = lp - lq
        if r <= 0:
            if a * r > 30.0:  # a < 0: q·e^{ar} = p^a q^{1−a} dominates; keep it in log space
                e = lq + a * r
                return math.inf if e > 709.0 else c * (math.exp(e) - math.exp(lq) * (1.0 + a * math.expm1(r)))
            return math.exp(lq) * c * (math.expm1(a * r) - a * math.expm1(r))
        # p·[expm1((a−1)r) − (1−a)·expm1(−r)]/(a(a−1))
        t = (a - 1.0) * r
        if t > 30.0:  # p·e^t dominates; exp(lp + t) = p^a q^{1−a} stays representable where p is tiny
            e = lp + t
            return math.inf if e > 709.0 else c * (math.exp(e) - math.exp(lp) * (1.0 + (1.0 - a) * math.expm1(-r)))
        return math.exp(lp) * c * (math.expm1(t) - (1.0 - a) * math.expm1(-r))

    return g


def _generic_pointwise(div: FDivergence):
    f1 = float(div.f_at_one)
    fp1 = float(div.threshold)

    def f(u: float) -> float:
        return float(div.f(np.float64(u)))

    def g(lp: float, lq: float) -> float:
        """q·[f(u) − f(1) − f'(1)(u − 1)]; p·[f(u)/u − f(1)/u − f'(1)(1 − 1/u)] for u > 1."""
        if lp == -math.inf and lq == -math.inf:
            return 0.0
        if lq == -math.inf:
            return math.exp(lp) * (div.f_over_u_at_inf - fp1)
        if lp == -math.inf:
            return math.exp(lq) * (div.f_at_zero - f1 + fp1)
        r = lp - lq
        if r <= 0:
            u = math.exp(r)
            return math.exp(lq) * (f(u) - f1 - fp1 * (u - 1.0))
        # for r beyond exp's range the ratio is evaluated at e^700 (f(u)/u is then at its limit for any f
        # that grows at most polynomially)
        u = math.exp(min(r, 700.0))
        return math.exp(lp) * (f(u) / u - f1 / u - fp1 * (1.0 - 1.0 / u))

    return g


def pointwise_integrand(div: str | FDivergence) -> tuple[Callable[[float, float], float], float]:
    """(g, offset): D_f = ∫ g(log p(x), log q(x)) dx + offset, with g ≥ 0 (the Bregman form).

    Dedicated overflow-free forms for the catalogue divergences, the generic form for any other f.
    """
    div = get(div)
    if div.kl_parts:  # a sum of KL terms (kl, reverse_kl, jeffreys): the fact is on the object
        parts = div.kl_parts
        return (lambda lp, lq: sum(_kl_pointwise(lq, lp) if rev else _kl_pointwise(lp, lq) for rev in parts)), 0.0
    fam = div.family if _is_registered(div) else ""  # dispatch on the object's family tag, not on its name
    if div.family == "alpha" and "a" in div.params:
        return _alpha_pointwise(float(div.params["a"])), 0.0
    if fam:
        name = fam
        if name == "pearson":
            return _pearson_pointwise, 0.0
        if name == "neyman":
            return (lambda lp, lq: _pearson_pointwise(lq, lp)), 0.0
        if name == "squared_hellinger":
            return _hellinger_pointwise, 0.0
        if name == "tv":
            return _tv_pointwise, 0.0
        if name == "js":
            return _js_pointwise, 0.0
        if name == "gan":
            return (lambda lp, lq: 2.0 * _js_pointwise(lp, lq)), -2.0 * LOG2
    return _generic_pointwise(div), float(div.f_at_one)


# ------------------------------------------------------------------ quadrature
@overload
def quadrature_divergence(log_p: Callable[[float], float], log_q: Callable[[float], float], div: str | FDivergence,
                          lo: float = ..., hi: float = ..., points: Sequence[float] = ...,
                          *, epsrel: float = ..., epsabs: float = ..., limit: int = ...,
                          return_error: Literal[False] = ...) -> float: ...
@overload
def quadrature_divergence(log_p: Callable[[float], float], log_q: Callable[[float], float], div: str | FDivergence,
                          lo: float = ..., hi: float = ..., points: Sequence[float] = ...,
                          *, epsrel: float = ..., epsabs: float = ..., limit: int = ...,
                          return_error: Literal[True]) -> tuple[float, float]: ...
@overload
def quadrature_divergence(log_p: Callable[[float], float], log_q: Callable[[float], float], div: str | FDivergence,
                          lo: float = ..., hi: float = ..., points: Sequence[float] = ...,
                          *, epsrel: float = ..., epsabs: float = ..., limit: int = ...,
                          return_error: bool = ...) -> float | tuple[float, float]: ...
def quadrature_divergence(log_p: Callable[[float], float], log_q: Callable[[float], float], div: str | FDivergence,
                          lo: float = -math.inf, hi: float = math.inf, points: Sequence[float] = (),
                          *, epsrel: float = 1e-11, epsabs: float = 1e-15, limit: int = 200,
                          return_error: bool = False) -> float | tuple[float, float]:
    """D_f(P‖Q) for 1-D densities by adaptive quadrature (scipy.integrate.quad), in nats.

    Args:
      log_p, log_q: scalar callables x -> log density (−inf outside the support).
      div: name or FDivergence.
      lo, hi: integration range (the union of the supports; ±inf allowed).
      points: breakpoints inside (lo, hi) where the integrand changes scale or has a kink (modes, mode ±
        a few scales, density crossings); the range is split there and each piece integrated separately.
      epsrel, epsabs: per-piece quad tolerances. The integrand is non-negative (see the module docstring),
        so relative tolerance is meaningful down to tiny divergences; epsabs only ends work on pieces that
        contribute nothing.
      return_error: also return quad's summed absolute error estimate.

    Returns:
      float (+inf when the integral diverges or the integrand is infinite on a set of positive measure),
      or (value, abserr).
    """
    from scipy import integrate

    g, offset = pointwise_integrand(div)
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
    pts = sorted({float(x) for x in points if lo < float(x) < hi and math.isfinite(float(x))})
    edges = [lo, *pts, hi]

    def h(x):
        try:
            return g(float(log_p(x)), float(log_q(x)))
        except OverflowError:  # an integrand beyond float range: the integral is +inf
            return math.inf

    total, err = 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for a, b in zip(edges[:-1], edges[1:]):
            val, e = integrate.quad(h, a, b, epsrel=epsrel, epsabs=epsabs, limit=limit)
            if math.isnan(val) or val == math.inf:
                total = math.inf
                break
            total += val
            err += e
    # integrals that diverge come back as huge finite numbers with huge error estimates
    if math.isfinite(total) and err > 1e-3 * max(abs(total), 1.0) and total > 1e100:
        total = math.inf
    value = total + offset
    return (value, err) if return_error else value


# ------------------------------------------------------------------ 1-D densities from distributions
def _is_scipy_frozen(d) -> bool:
    return hasattr(d, "dist") and hasattr(d, "logpdf") and hasattr(d, "ppf")


def univariate_log_density(d: Distribution) -> tuple[Callable[[float], float], tuple[float, float], list[float]]:
    """(log_pdf scalar callable, (lo, hi) support, breakpoints) for a 1-D continuous distribution.

    Accepts a scipy.stats frozen continuous distribution or an unbatched torch distribution with
    event_shape () (batch elements are handled by the caller). Normal distributions get a pure-Python
    log density (fast); others call log_prob / logpdf.
    """
    if isinstance(d, torch.distributions.Normal):
        m, s = float(d.loc), float(d.scale)
        return _normal_logpdf(m, s), (-math.inf, math.inf), _scale_points(m, s)
    if isinstance(d, torch.distributions.Distribution):
        if d.event_shape != torch.Size() or d.support.is_discrete or d.batch_shape.numel() != 1:
            raise TypeError(f"quadrature needs an unbatched 1-D continuous distribution, got {d}")
        sup = d.support
        lo = float(getattr(sup, "lower_bound", -math.inf)) if hasattr(sup, "lower_bound") else -math.inf
        hi = float(getattr(sup, "upper_bound", math.inf)) if hasattr(sup, "upper_bound") else math.inf
        if isinstance(sup, type(torch.distributions.constraints.positive)):
            lo = 0.0

        def lpdf(x, _d=d):
            with torch.no_grad():
                return float(_d.log_prob(torch.tensor(x, dtype=torch.float64)))
        try:
            m, s = float(d.mean), float(d.stddev)
        except (NotImplementedError, RuntimeError, ValueError):
            m, s = math.nan, math.nan
        return lpdf, (lo, hi), _scale_points(m, s) if math.isfinite(m) and math.isfinite(s) and s > 0 else []
    if _is_scipy_frozen(d):
        if not hasattr(d.dist, "pdf"):
            raise TypeError(f"quadrature needs a continuous distribution, got discrete scipy.stats.{d.dist.name}")
        lo, hi = (float(v) for v in d.support())
        if d.dist.name == "norm":
            m, s = float(d.mean()), float(d.std())
            return _normal_logpdf(m, s), (lo, hi), _scale_points(m, s)
        med = float(d.ppf(0.5))
        pts = [float(d.ppf(c)) for c in (1e-6, 0.01, 0.1, 0.25, 0.75, 0.9, 0.99, 1 - 1e-6)] + [med]
        return (lambda x, _d=d: float(_d.logpdf(x))), (lo, hi), [x for x in pts if math.isfinite(x)]
    raise TypeError(f"quadrature needs a 1-D continuous distribution, got {type(d).__name__}")


def _normal_logpdf(m: float, s: float):
    c = -math.log(s) - 0.5 * math.log(2.0 * math.pi)

    def lpdf(x):
        z = (x - m) / s
        return c - 0.5 * z * z

    return lpdf


def _scale_points(m: float, s: float) -> list[float]:
    return [m + k * s for k in (-30, -10, -5, -2, -1, 0, 1, 2, 5, 10, 30)]


def normal_crossings(m1: float, s1: float, m2: float, s2: float) -> list[float]:
    """Points where the N(m1, s1²) and N(m2, s2²) densities cross (≤ 2), by the stable quadratic formula."""
    a = 0.5 / s2 ** 2 - 0.5 / s1 ** 2
    b = m1 / s1 ** 2 - m2 / s2 ** 2
    c = 0.5 * m2 ** 2 / s2 ** 2 - 0.5 * m1 ** 2 / s1 ** 2 + math.log(s2 / s1)
    if a == 0.0:
        return [-c / b] if b != 0 else []
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    qq = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    out = [qq / a] if qq != 0 else []
    if qq != 0:
        out.append(c / qq)
    return [x for x in out if math.isfinite(x)]


# ------------------------------------------------------------------ Monte Carlo
class MonteCarloResult(NamedTuple):
    """A seeded Monte Carlo estimate: value, its standard error (stderr of the mean), sample size n.

    numpy/float fields for scipy inputs, torch tensors (batch shape) for torch inputs.
    """

    value: object
    stderr: object
    n: int

    def __float__(self) -> float:
        """float(result) is float(result.value) (scalar estimates), like every other result type."""
        return float(self.value)


def _check_sampleable(d, nm: str):
    if isinstance(d, torch.distributions.Distribution):
        return
    if _is_scipy_frozen(d) or type(d).__name__ == "multivariate_normal_frozen":
        if not hasattr(d, "logpdf"):
            raise TypeError(f"{nm}: Monte Carlo needs densities (logpdf); got a discrete scipy distribution")
        return
    raise TypeError(f"monte_carlo_divergence needs torch.distributions or scipy.stats frozen distributions, "
                    f"got {type(d).__name__} for {nm}")


def _torch_draw(d, n: int, gen_seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(gen_seed)
        x = d.rsample((n,)) if d.has_rsample else d.sample((n,))
    return x


def _scipy_draw(d, n: int, rng):
    x = np.asarray(d.rvs(size=n, random_state=rng), dtype=float)
    dim = getattr(d, "dim", None)
    if dim is not None and x.ndim == 1 and dim > 1:
        x = x.reshape(n, dim)
    if dim == 1 and x.ndim == 2:
        x = x[:, 0]
    return x


def monte_carlo_divergence(p: Distribution, q: Distribution, div: str | FDivergence, n: int = 100_000, seed: int = 0) -> MonteCarloResult:
    """Seeded Monte Carlo estimate of D_f(P‖Q) with its standard error.

    Estimators (r = log p(x) − log q(x)):
      kl: E_P[r];  reverse_kl: E_Q[−r];  jeffreys: E_P[r] − E_Q[r] (independent draws, variances add);
      any other f: E_Q[f(e^r)] (the definition; f(e^r) = +inf where e^r overflows).
    stderr = sample std / √n (summed in quadrature for Jeffreys). The estimate is unbiased; it is only as
    good as Var[f(p/q)] is finite (e.g. Pearson needs χ⁴-type moments).

    Args:
      p, q: torch.distributions (batched; same event shape, broadcastable batch shapes) or scipy.stats
        frozen distributions.
      div: name or FDivergence.
      n: samples per distribution.
      seed: int; torch draws use torch.random.fork_rng (global RNG state untouched), scipy a
        numpy.random.Generator(PCG64(seed)).

    Returns:
      MonteCarloResult(value, stderr, n): torch tensors of the broadcast batch shape for torch inputs
      (differentiable through rsample), floats / numpy arrays for scipy inputs.
    """
    n = check_int(n, "n", 2)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    div = get(div)
    is_t = isinstance(p, torch.distributions.Distribution), isinstance(q, torch.distributions.Distribution)
    if is_t[0] != is_t[1]:
        raise TypeError("p and q must both be torch.distributions or both scipy.stats frozen distributions")
    _check_sampleable(p, "p")
    _check_sampleable(q, "q")

    if is_t[0]:
        if p.event_shape != q.event_shape:
            raise ValueError(f"p and q must have the same event shape, got {tuple(p.event_shape)} and "
                             f"{tuple(q.event_shape)}")
        s = int(seed)

        def draw(d, k):
            return _torch_draw(d, n, s * 2 + k)

        def lr(x):  # log p − log q on samples, shape (n, *batch)
            return p.log_prob(x) - q.log_prob(x)

        def stats(v):
            return v.mean(0), v.std(0) / math.sqrt(n)

        def fval(r):
            return div.f(torch.exp(r))
    else:
        rng_p = np.random.Generator(np.random.PCG64(int(seed)))
        rng_q = np.random.Generator(np.random.PCG64(int(seed) + 1_000_003))

        def draw(d, k):
            return _scipy_draw(d, n, rng_p if k == 0 else rng_q)

        def lr(x):
            return np.asarray(p.logpdf(x), dtype=float) - np.asarray(q.logpdf(x), dtype=float)

        def stats(v):
            return float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(n))

        def fval(r):
            with np.errstate(over="ignore", invalid="ignore"):
                return np.asarray(div.f(np.exp(r)), dtype=float)

    if div.kl_parts:  # KL(P‖Q) = E_P[log p/q] and KL(Q‖P) = E_Q[log q/p]: the log ratio itself, no f(e^r)
        terms = [stats(-lr(draw(q, 1))) if rev else stats(lr(draw(p, 0))) for rev in div.kl_parts]
        value = sum(v for v, _ in terms)
        se = sum(s * s for _, s in terms) ** 0.5
    else:
        value, se = stats(fval(lr(draw(q, 1))))
    return MonteCarloResult(value, se, n)


def _is_registered(div: FDivergence) -> bool:
    try:
        return get(div.name) is div
    except (ValueError, TypeError):
        return False
