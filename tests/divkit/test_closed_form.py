"""dk.divergence closed forms against independent references.

References, none of which share code with divkit:
- the textbook formulas of REFERENCE.md §2 evaluated in 700-digit mpmath (closed forms must agree to 1e-9
  relative: our float64 forms are cancellation-free, so the only error is a few ulp per operation);
- scipy.integrate.quad of q f(p/q) written directly here in log space (1e-6 relative: quad's own
  tolerance is set to 1e-10, the margin covers the integrands' sign changes and tails);
- torch.distributions.kl_divergence and brute-force sums for the discrete cases.
"""
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
import scipy.stats as st
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_h
from scipy import integrate
from torch.distributions import Bernoulli, Categorical, MultivariateNormal, Normal

import divkit as dk
from divkit import closed_form as cf

mp.mp.dps = 700  # hypothesis finds Δ ~ 1e-300: the textbook forms cancel down to Δ² ~ 1e-600
MEANS = st_h.floats(-10, 10, allow_nan=False)
SCALES = st_h.floats(0.1, 10, allow_nan=False)
ALPHAS = st_h.sampled_from([-2.0, -1.0, -0.5, 0.25, 0.5, 0.75, 1.5, 2.0, 3.0])


def _t(x):
    return torch.tensor(x, dtype=torch.float64)


def _normal(m, s):
    return Normal(_t(m), _t(s))


# ---------------------------------------------------------------- mpmath references (REFERENCE.md §2)
def ref_kl(m1, s1, m2, s2):
    m1, s1, m2, s2 = map(mp.mpf, (m1, s1, m2, s2))
    return mp.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - mp.mpf(1) / 2


def ref_alpha(a, m1, s1, m2, s2):
    """(e^{(a−1)D_a} − 1)/(a(a−1)) with the Rényi divergence D_a; +inf when σ_a² ≤ 0."""
    a, m1, s1, m2, s2 = map(mp.mpf, (a, m1, s1, m2, s2))
    var_a = a * s2 ** 2 + (1 - a) * s1 ** 2
    if var_a <= 0:
        return mp.inf
    d_a = mp.log(s2 / s1) + mp.log(s2 ** 2 / var_a) / (2 * (a - 1)) + a * (m1 - m2) ** 2 / (2 * var_a)
    return mp.expm1((a - 1) * d_a) / (a * (a - 1))


def ref_hellinger(m1, s1, m2, s2):
    m1, s1, m2, s2 = map(mp.mpf, (m1, s1, m2, s2))
    bc = mp.sqrt(2 * s1 * s2 / (s1 ** 2 + s2 ** 2)) * mp.exp(-(m1 - m2) ** 2 / (4 * (s1 ** 2 + s2 ** 2)))
    return 2 * (1 - bc)


def ref_pearson(m1, s1, m2, s2):
    m1, s1, m2, s2 = map(mp.mpf, (m1, s1, m2, s2))
    den = 2 * s2 ** 2 - s1 ** 2
    if den <= 0:
        return mp.inf
    return s2 ** 2 / (s1 * mp.sqrt(den)) * mp.exp((m1 - m2) ** 2 / den) - 1


def ref_tv(m1, s1, m2, s2):
    m1, s1, m2, s2 = map(mp.mpf, (m1, s1, m2, s2))
    if s1 == s2:
        return 2 * mp.ncdf(abs(m1 - m2) / (2 * s1)) - 1
    # log p = log q  <=>  a x² + b x + c = 0
    a = 1 / (2 * s2 ** 2) - 1 / (2 * s1 ** 2)
    b = m1 / s1 ** 2 - m2 / s2 ** 2
    c = m2 ** 2 / (2 * s2 ** 2) - m1 ** 2 / (2 * s1 ** 2) + mp.log(s2 / s1)
    r = mp.sqrt(b * b - 4 * a * c)
    x1, x2 = sorted([(-b - r) / (2 * a), (-b + r) / (2 * a)])

    def mass(m, s):
        return mp.ncdf((x2 - m) / s) - mp.ncdf((x1 - m) / s)
    inner = mass(m1, s1) - mass(m2, s2)  # P − Q on [x1, x2]
    return inner if s1 < s2 else -inner


REFS = {
    "kl": ref_kl,
    "reverse_kl": lambda m1, s1, m2, s2: ref_kl(m2, s2, m1, s1),
    "jeffreys": lambda m1, s1, m2, s2: ref_kl(m1, s1, m2, s2) + ref_kl(m2, s2, m1, s1),
    "squared_hellinger": ref_hellinger,
    "pearson": ref_pearson,
    "neyman": lambda m1, s1, m2, s2: ref_pearson(m2, s2, m1, s1),
    "tv": ref_tv,
}


# The contract in the subnormal range: a result below the smallest normal float64 (2.2e-308) has fewer than
# 53 significant bits, so relative accuracy is impossible there; the stated bound is an absolute floor of
# the smallest normal (e.g. m1 = 1.7e-161, s1 = s2 = 1: the true squared Hellinger 7.35e-323 came back as
# 8e-323, an error of 1 subnormal step ≈ 5e-324).
SUBNORMAL_FLOOR = float(np.finfo(np.float64).tiny)


def _close(got, ref, rtol, atol=0.0):
    if ref == mp.inf or ref > 1e300:
        return got == math.inf or (math.isfinite(got) and abs(got - float(ref)) <= rtol * float(ref))
    return abs(got - float(ref)) <= rtol * abs(float(ref)) + max(atol, SUBNORMAL_FLOOR)


@pytest.mark.parametrize("name", sorted(REFS))
@settings(max_examples=40)
@given(m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_normal_closed_forms_match_formula(name, m1, s1, m2, s2):
    got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), name, method="closed_form"))
    ref = REFS[name](m1, s1, m2, s2)
    # TV is a difference of two probabilities, each good to a few ulp: an absolute floor of 1e-14
    atol = 1e-14 if name == "tv" else 0.0
    assert _close(got, ref, 1e-9, atol), (got, float(ref))


@settings(max_examples=60)
@given(a=ALPHAS, m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_normal_alpha_matches_renyi_formula(a, m1, s1, m2, s2):
    got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), dk.alpha(a)))
    assert _close(got, ref_alpha(a, m1, s1, m2, s2), 1e-9), (got, ref_alpha(a, m1, s1, m2, s2))


def test_near_equal_scales_keep_relative_accuracy():
    # σ1/σ2 − 1 = 1e-7: the textbook float64 formula loses ~9 digits here, ours keeps them
    for name, ref in REFS.items():
        if name == "tv":
            continue
        got = float(dk.divergence(_normal(0.0, 1.0 + 1e-7), _normal(1e-8, 1.0), name))
        assert _close(got, ref(0.0, 1.0 + 1e-7, 1e-8, 1.0), 1e-9), name


# ---------------------------------------------------------------- independent quadrature (not numeric.py)
def _log_space_integrand(name, a=None):
    def lae(x, y):
        return np.logaddexp(x, y)

    forms = {
        "kl": lambda lp, lq: math.exp(lp) * (lp - lq),
        "reverse_kl": lambda lp, lq: math.exp(lq) * (lq - lp),
        "jeffreys": lambda lp, lq: (math.exp(lp) - math.exp(lq)) * (lp - lq),
        "squared_hellinger": lambda lp, lq: (math.exp(0.5 * lp) - math.exp(0.5 * lq)) ** 2,
        "pearson": lambda lp, lq: (math.exp(min(2 * lp - lq, 709.0)) - 2 * math.exp(lp) + math.exp(lq)),
        "neyman": lambda lp, lq: (math.exp(min(2 * lq - lp, 709.0)) - 2 * math.exp(lq) + math.exp(lp)),
        "tv": lambda lp, lq: 0.5 * abs(math.exp(lp) - math.exp(lq)),
        "js": lambda lp, lq: 0.5 * (math.exp(lp) * (math.log(2) + lp - lae(lp, lq))
                                    + math.exp(lq) * (math.log(2) + lq - lae(lp, lq))),
        "gan": lambda lp, lq: (math.exp(lp) * (lp - lae(lp, lq)) + math.exp(lq) * (lq - lae(lp, lq))),
    }
    if a is not None:
        return lambda lp, lq: (math.exp(min(a * lp + (1 - a) * lq, 709.0)) - a * math.exp(lp)
                               - (1 - a) * math.exp(lq)) / (a * (a - 1))
    return forms[name]


def quad_oracle(name, m1, s1, m2, s2, a=None):
    h = _log_space_integrand(name, a)
    def lpdf(m, s):  # plain math: scipy's frozen logpdf costs ~30 µs per scalar call
        c = -math.log(s) - 0.5 * math.log(2 * math.pi)
        return lambda x: c - 0.5 * ((x - m) / s) ** 2
    lp, lq = lpdf(m1, s1), lpdf(m2, s2)
    assert lp(0.7) == pytest.approx(st.norm(m1, s1).logpdf(0.7), rel=1e-12, abs=1e-12)
    pts = [m + k * s for m, s in ((m1, s1), (m2, s2)) for k in (-40, -10, -4, -1, 0, 1, 4, 10, 40)]
    for b in (2.0, -1.0, 0.5, a or 0.5):  # centres of the tilted Gaussians p^b q^{1−b}
        prec = b / s1 ** 2 + (1 - b) / s2 ** 2
        if prec > 0:
            c = (b * m1 / s1 ** 2 + (1 - b) * m2 / s2 ** 2) / prec
            pts += [c + k / math.sqrt(prec) for k in (-10, -3, 0, 3, 10)]
    # density crossings
    if s1 != s2:
        A = 0.5 / s2 ** 2 - 0.5 / s1 ** 2
        B = m1 / s1 ** 2 - m2 / s2 ** 2
        C = 0.5 * m2 ** 2 / s2 ** 2 - 0.5 * m1 ** 2 / s1 ** 2 + math.log(s2 / s1)
        r = math.sqrt(max(B * B - 4 * A * C, 0.0))
        pts += [(-B - r) / (2 * A), (-B + r) / (2 * A)]
    edges = [-math.inf, *sorted(set(pts)), math.inf]
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lo, hi in zip(edges[:-1], edges[1:]):
            total += integrate.quad(lambda x: h(float(lp(x)), float(lq(x))), lo, hi, epsabs=1e-14,
                                    epsrel=1e-11, limit=200)[0]
    return total


# ---------------------------------------------------------------- every registered Normal closed form
def _normal_entries():
    """The divergences with a closed form registered for (Normal, Normal), read off the registry: an entry keyed
    on an object is tested as that object, a family entry on a few members (FAMILY_MEMBERS)."""
    out = []
    for key, tp, tq in list(cf._REGISTRY):
        if not (tp is Normal and tq is Normal):
            continue
        if isinstance(key, dk.FDivergence):
            out.append(key)
        elif isinstance(key, cf.registry.Family):
            out += FAMILY_MEMBERS[key.tag]
    return out


# members of the registered families to test (a new plain divergence needs no line here)
FAMILY_MEMBERS = {"alpha": [dk.alpha(a) for a in (0.3, 2.5, -0.5)]}
NORMAL_ENTRIES = _normal_entries()
# (m1, s1, m2, s2): scale ratios 0.8 .. 1.25, where every registered form (Pearson, Neyman, α(2.5), α(−0.5))
# is finite, plus two where some are +inf (σ1² ≥ 2σ2²; σ1² ≤ σ2²/2)
NORMAL_POINTS = [(0.3, 1.1, -0.4, 0.9), (0.0, 1.0, 2.5, 1.0), (1e-3, 2.0, 0.0, 2.0 * 1.0001), (-1.0, 0.8, 0.5, 1.0),
                 (0.2, 1.7, -0.3, 1.0), (0.0, 1.0, 0.1, 1.6)]


def test_normal_registry_has_the_catalogue_entries():
    names = {d.name for d in NORMAL_ENTRIES}
    assert {"kl", "reverse_kl", "jeffreys", "squared_hellinger", "pearson", "neyman", "tv"} <= names


@pytest.mark.parametrize("div", NORMAL_ENTRIES, ids=lambda d: d.name)
def test_every_normal_closed_form_matches_mpmath_quadrature(div):
    """Each registered (Normal, Normal) form against ∫ q f(p/q) by mpmath quadrature at 30 digits with f from
    the object's own generator source (divkit.testing.mp.normal_quad): a new entry is tested when registered.
    Tolerance 1e-12 relative (the float64 contract; quad is good to ~1e-25), plus 1e-15 absolute for TV (a
    difference of two probabilities, each to a few ulps)."""
    from divkit.testing import mp as mpref

    for m1, s1, m2, s2 in NORMAL_POINTS:
        want = mpref.normal_quad(div, m1, s1, m2, s2)
        got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), div, method="closed_form"))
        if want == mp.inf:
            assert got == math.inf, (div.name, m1, s1, m2, s2, got)
            continue
        w = float(want)
        assert abs(got - w) <= 1e-12 * abs(w) + 1e-15, (div.name, m1, s1, m2, s2, got, w)
        got32 = dk.divergence(Normal(torch.tensor(m1, dtype=torch.float32), torch.tensor(s1, dtype=torch.float32)),
                              Normal(torch.tensor(m2, dtype=torch.float32), torch.tensor(s2, dtype=torch.float32)), div)
        # float32: the inputs round by ≤ 6e-8 relative, which moves D by ≤ ~|∂D/∂θ|·θ·6e-8; against the float64
        # value of the same (unrounded) inputs 1e-4 relative + 1e-6 absolute covers that (D ≥ ~1e-6 here)
        assert got32.dtype == torch.float32 and abs(float(got32) - got) <= 1e-4 * abs(got) + 1e-6, (div.name, got32)


QUAD_NAMES = ["kl", "reverse_kl", "jeffreys", "squared_hellinger", "tv", "pearson", "neyman"]


@pytest.mark.parametrize("name", QUAD_NAMES)
@settings(max_examples=12)
@given(m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_normal_closed_forms_match_quadrature(name, m1, s1, m2, s2):
    got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), name))
    if not math.isfinite(got):
        return  # the +inf cases are pinned by test_infinite_cases (quad cannot see divergence)
    ref = quad_oracle(name, m1, s1, m2, s2)
    if got > 1e12:  # astronomically large χ² values: quad's relative error grows with the integrand
        assert abs(got - ref) <= 1e-4 * got
        return
    # absolute floor: sign-changing integrands (kl, pearson forms) integrate to ~1e-12 · ∫|integrand|
    assert abs(got - ref) <= 1e-6 * abs(ref) + 1e-10, (got, ref)


@pytest.mark.parametrize("name", ["js", "gan"])
@settings(max_examples=10)
@given(m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_js_and_gan_by_quadrature_match_independent_quadrature(name, m1, s1, m2, s2):
    got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), name))  # auto -> quadrature
    ref = quad_oracle(name, m1, s1, m2, s2)
    assert abs(got - ref) <= 1e-6 * abs(ref) + 1e-12, (got, ref)
    if name == "js":
        assert -1e-15 <= got <= math.log(2) + 1e-12


@settings(max_examples=12)
@given(a=ALPHAS, m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_normal_alpha_matches_quadrature(a, m1, s1, m2, s2):
    got = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), dk.alpha(a)))
    if not math.isfinite(got):
        return
    ref = quad_oracle(None, m1, s1, m2, s2, a=a)
    assert abs(got - ref) <= 1e-6 * abs(ref) + 1e-10, (got, ref)


def test_js_small_separation_and_reference_expansion():
    # REFERENCE §4: JS(N(0,1) || N(μ,1)) ≈ μ²/8 for small μ
    mu = 1e-2
    got = float(dk.divergence(st.norm(0, 1), st.norm(mu, 1), "js"))
    assert abs(got - mu ** 2 / 8) <= 1e-3 * mu ** 2 / 8
    # and log 2 − E_{N(0,1)}[softplus(μx − μ²/2)] for moderate μ
    mu = 3.0
    e = integrate.quad(lambda x: st.norm.pdf(x) * np.logaddexp(0.0, mu * x - mu * mu / 2), -np.inf, np.inf,
                       epsabs=1e-14)[0]
    assert abs(float(dk.divergence(st.norm(0, 1), st.norm(mu, 1), "js")) - (math.log(2) - e)) <= 1e-9


# ---------------------------------------------------------------- infinities and boundaries
def test_infinite_cases():
    p, q = _normal(0.0, 2.0), _normal(1.0, 1.0)  # 2σ2² = 2 ≤ σ1² = 4
    assert float(dk.divergence(p, q, "pearson")) == math.inf
    assert float(dk.divergence(q, p, "neyman")) == math.inf
    assert float(dk.divergence(_normal(0.0, math.sqrt(2.0)), _normal(0.0, 1.0), "pearson")) == math.inf  # equality
    assert math.isfinite(float(dk.divergence(_normal(0.0, 1.4), _normal(0.0, 1.0), "pearson")))
    assert float(dk.divergence(p, q, dk.alpha(3.0))) == math.inf  # σ_a² = 3 − 2·4 < 0
    assert float(dk.divergence(q, p, dk.alpha(-2.0))) == math.inf
    assert math.isfinite(float(dk.divergence(p, q, dk.alpha(0.5))))
    # discrete: KL with q = 0 where p > 0
    assert dk.divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]), "kl") == math.inf
    assert float(dk.divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), "kl")) == math.inf
    assert float(dk.divergence(Categorical(_t([0.5, 0.5])), Categorical(_t([1.0, 0.0])), "kl")) == math.inf
    assert dk.divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]), "pearson") == math.inf
    # bounded divergences stay finite on disjoint support
    assert dk.divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), "tv") == pytest.approx(1.0)
    assert dk.divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), "js") == pytest.approx(math.log(2))


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_zero_log_zero(lib):
    arr = (lambda x: torch.tensor(x, dtype=torch.float64)) if lib == "torch" else np.array
    p, q = arr([0.0, 1.0, 0.0]), arr([0.5, 0.5, 0.0])
    assert float(dk.divergence(p, q, "kl")) == pytest.approx(math.log(2), rel=1e-15)
    assert float(dk.divergence(q, p, "reverse_kl")) == pytest.approx(math.log(2), rel=1e-15)
    assert float(dk.divergence(p, p, "kl")) == 0.0
    for name in dk.names():
        v = float(dk.divergence(p, p, name))
        assert v == pytest.approx(dk.get(name).f_at_one, abs=1e-15), name


# ---------------------------------------------------------------- discrete vs brute force and torch
def _brute(p, q, f):
    return sum(qi * f(pi / qi) for pi, qi in zip(p, q))


@pytest.mark.parametrize("name", dk.names() + ["alpha(0.5)", "alpha(2)", "alpha(-1)"])
def test_probability_vectors_match_brute_force_and_torch(name):
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), size=4)
    q = rng.dirichlet(np.ones(6), size=4)
    div = dk.get(name)
    got = dk.divergence(p, q, name)
    ref = np.array([_brute(pi, qi, lambda u: float(div.f(np.float64(u)))) for pi, qi in zip(p, q)])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    got_t = dk.divergence(torch.tensor(p), torch.tensor(q), name)
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float64
    np.testing.assert_allclose(got_t.numpy(), got, rtol=1e-13)
    # Categorical and (for 2 outcomes) Bernoulli agree with the vectors
    np.testing.assert_allclose(dk.divergence(Categorical(torch.tensor(p)), Categorical(torch.tensor(q)), name).numpy(),
                               got, rtol=1e-12)
    b = dk.divergence(Bernoulli(_t(p[:, 0])), Bernoulli(_t(q[:, 0])), name)
    pv = np.stack([1 - p[:, 0], p[:, 0]], -1)
    qv = np.stack([1 - q[:, 0], q[:, 0]], -1)
    np.testing.assert_allclose(b.numpy(), dk.divergence(pv, qv, name), rtol=1e-12)


def test_discrete_kl_matches_torch_and_scipy():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(50), size=(3, 2))
    q = rng.dirichlet(np.ones(50), size=(2,))
    p[0, 0, :5] = 0
    p[0, 0] /= p[0, 0].sum()
    from scipy.special import rel_entr
    np.testing.assert_allclose(dk.divergence(p, q, "kl"), rel_entr(p, q).sum(-1), rtol=1e-13)
    P, Q = Categorical(torch.tensor(p)), Categorical(torch.tensor(q))
    torch.testing.assert_close(dk.divergence(P, Q, "kl"), torch.distributions.kl_divergence(P, Q), rtol=1e-12,
                               atol=0)
    B1, B2 = Bernoulli(_t([0.2, 0.0, 1.0])), Bernoulli(_t([0.7, 0.3, 0.4]))
    torch.testing.assert_close(dk.divergence(B1, B2, "kl"), torch.distributions.kl_divergence(B1, B2))


def test_float32_vectors_stay_float32():
    p = torch.tensor([0.25, 0.75], dtype=torch.float32)
    q = torch.tensor([0.5, 0.5], dtype=torch.float32)
    for name in ("kl", "tv", "js"):
        assert dk.divergence(p, q, name).dtype == torch.float32
    assert dk.divergence(p.numpy(), q.numpy(), "kl").dtype == np.float32


# ---------------------------------------------------------------- autograd, batches, parity
def test_kl_gradient_is_analytic():
    m1, s1, m2, s2 = (_t(v).requires_grad_() for v in (0.3, 1.7, -1.1, 0.6))
    kl = dk.divergence(Normal(m1, s1), Normal(m2, s2), "kl")
    kl.backward()
    d = 0.3 + 1.1
    expect = {m1: d / 0.36, s1: -1 / 1.7 + 1.7 / 0.36, m2: -d / 0.36, s2: 1 / 0.6 - (1.7 ** 2 + d * d) / 0.6 ** 3}
    for t, e in expect.items():
        assert t.grad.item() == pytest.approx(e, rel=1e-12)


@pytest.mark.parametrize("name", NORMAL_ENTRIES + [dk.alpha(-1.5)], ids=lambda d: d.name)
def test_gradcheck_normal(name):
    def fn(m1, s1, m2, s2):
        return dk.divergence(Normal(m1, s1), Normal(m2, s2), name)
    args = tuple(_t(v).requires_grad_() for v in ([0.1, 1.0, -2.0], [1.2, 0.7, 1.0], [0.4, 1.0, 0.5],
                                                   [1.0, 0.9, 1.0]))
    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_mvn_and_categorical():
    lp = _t([[0.2, -0.4, 1.0]]).requires_grad_()
    lq = _t([[0.0, 0.3, -0.5]]).requires_grad_()
    for name in ("kl", "js", "tv"):
        assert torch.autograd.gradcheck(lambda a, b: dk.divergence(Categorical(logits=a), Categorical(logits=b),
                                                                   name), (lp, lq))
    m = _t([0.3, -0.2]).requires_grad_()
    a = _t([[1.0, 0.0], [0.4, 0.8]]).requires_grad_()

    def fn(m, a, name):
        return dk.divergence(MultivariateNormal(m, scale_tril=a.tril()), MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                                                             _t([[1.5, 0.2], [0.2, 1.0]])), name)
    for name in ("kl", "pearson", "alpha(0.3)"):
        assert torch.autograd.gradcheck(lambda m, a: fn(m, a, name), (m, a))


def test_zero_probability_gradients_are_finite():
    p = _t([0.0, 0.4, 0.6]).requires_grad_()
    q = _t([0.3, 0.3, 0.4]).requires_grad_()
    for name in ("kl", "reverse_kl", "js", "squared_hellinger", "tv", "jeffreys"):
        v = dk.divergence(p, q, name)
        if not torch.isfinite(v):
            continue
        (gp, gq) = torch.autograd.grad(v, (p, q))
        assert torch.isfinite(gp[1:]).all() and torch.isfinite(gq).all(), name


def test_batch_broadcasting_normal():
    m1 = torch.linspace(-2, 2, 3, dtype=torch.float64)[:, None]
    m2 = torch.linspace(-1, 3, 4, dtype=torch.float64)
    s1 = _t([[0.5], [1.0], [2.0]])
    s2 = _t([0.7, 1.0, 1.3, 4.0])
    for name in ("kl", "tv", "squared_hellinger", "pearson", "alpha(0.5)", "js"):
        out = dk.divergence(Normal(m1, s1), Normal(m2, s2), name)
        assert out.shape == (3, 4)
        for i in range(3):
            for j in range(4):
                one = dk.divergence(Normal(m1[i, 0], s1[i, 0]), Normal(m2[j], s2[j]), name)
                assert float(out[i, j]) == pytest.approx(float(one), rel=1e-12, abs=1e-15)


def test_kl_matches_torch_on_many_pairs_both_dtypes():
    g = torch.Generator().manual_seed(0)
    for dt, tol in ((torch.float64, 1e-12), (torch.float32, 1e-4)):
        P = Normal(torch.randn(1000, generator=g, dtype=dt) * 5, torch.rand(1000, generator=g, dtype=dt) * 5 + 0.1)
        Q = Normal(torch.randn(1000, generator=g, dtype=dt) * 5, torch.rand(1000, generator=g, dtype=dt) * 5 + 0.1)
        got = dk.divergence(P, Q, "kl")
        assert got.dtype == dt
        torch.testing.assert_close(got, torch.distributions.kl_divergence(P, Q), rtol=tol, atol=tol)


def test_scipy_frozen_inputs():
    v = dk.divergence(st.norm(0.5, 2.0), st.norm(-1.0, 1.5), "kl")
    assert isinstance(v, float)
    assert v == pytest.approx(float(ref_kl(0.5, 2.0, -1.0, 1.5)), rel=1e-12)
    batched = dk.divergence(st.norm([0.0, 1.0], 1.0), st.norm(0.0, [1.0, 2.0]), "squared_hellinger")
    assert isinstance(batched, np.ndarray) and batched.shape == (2,)
    cov0 = np.array([[2.0, 0.3], [0.3, 0.5]])
    cov1 = np.array([[1.0, -0.2], [-0.2, 1.5]])
    mv = dk.divergence(st.multivariate_normal([0.0, 1.0], cov0), st.multivariate_normal([1.0, 0.0], cov1), "kl")
    assert isinstance(mv, float)
    d = np.array([-1.0, 1.0])
    ref = 0.5 * (np.trace(np.linalg.solve(cov1, cov0)) + d @ np.linalg.solve(cov1, d) - 2
                 + math.log(np.linalg.det(cov1) / np.linalg.det(cov0)))
    assert mv == pytest.approx(ref, rel=1e-12)
    # another scipy 1-D density goes to quadrature
    lap = dk.divergence(st.laplace(0, 1), st.norm(0, 1), "kl")
    ref = integrate.quad(lambda x: st.laplace.pdf(x) * (st.laplace.logpdf(x) - st.norm.logpdf(x)), -50, 50,
                         points=[0])[0]
    assert lap == pytest.approx(ref, rel=1e-8)


# ---------------------------------------------------------------- multivariate normal
def _spd(rng, k):
    a = rng.normal(size=(k, k))
    return a @ a.T + 0.3 * np.eye(k)


def _mvn(m, c):
    return MultivariateNormal(torch.tensor(m), torch.tensor(c))


def test_mvn_closed_forms_match_formulas():
    rng = np.random.default_rng(3)
    for k in (1, 2, 4):
        for _ in range(5):
            m0, m1 = rng.normal(size=k), rng.normal(size=k)
            c0, c1 = _spd(rng, k), _spd(rng, k)
            P, Q = _mvn(m0, c0), _mvn(m1, c1)
            d = m0 - m1
            kl = 0.5 * (np.trace(np.linalg.solve(c1, c0)) + d @ np.linalg.solve(c1, d) - k
                        + np.linalg.slogdet(c1)[1] - np.linalg.slogdet(c0)[1])
            assert float(dk.divergence(P, Q, "kl")) == pytest.approx(kl, rel=1e-9)
            torch.testing.assert_close(dk.divergence(P, Q, "kl"), torch.distributions.kl_divergence(P, Q))
            cb = 0.5 * (c0 + c1)
            db = d @ np.linalg.solve(cb, d) / 8 + 0.5 * (np.linalg.slogdet(cb)[1] - 0.5 * (
                np.linalg.slogdet(c0)[1] + np.linalg.slogdet(c1)[1]))
            assert float(dk.divergence(P, Q, "squared_hellinger")) == pytest.approx(2 * (1 - math.exp(-db)), rel=1e-9)
            c2 = 2 * c1 - c0
            if np.all(np.linalg.eigvalsh(c2) > 0):
                # D_2 = d'Σ_2⁻¹d − ½ log(det Σ_2 / (det Σ0^{-1} det Σ1^{2}))
                d2 = d @ np.linalg.solve(c2, d) - 0.5 * (np.linalg.slogdet(c2)[1] + np.linalg.slogdet(c0)[1]
                                                         - 2 * np.linalg.slogdet(c1)[1])
                assert float(dk.divergence(P, Q, "pearson")) == pytest.approx(math.expm1(d2), rel=1e-9)
            else:
                assert float(dk.divergence(P, Q, "pearson")) == math.inf
            assert float(dk.divergence(P, Q, "jeffreys")) == pytest.approx(
                float(dk.divergence(P, Q, "kl") + dk.divergence(Q, P, "kl")), rel=1e-12)


@settings(max_examples=25)
@given(m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES, a=ALPHAS)
def test_mvn_agrees_with_univariate_and_factorises(m1, s1, m2, s2, a):
    P = MultivariateNormal(_t([m1]), _t([[s1 * s1]]))
    Q = MultivariateNormal(_t([m2]), _t([[s2 * s2]]))
    for name in ("kl", "reverse_kl", "squared_hellinger", "pearson", "neyman", dk.alpha(a)):
        u = float(dk.divergence(_normal(m1, s1), _normal(m2, s2), name))
        v = float(dk.divergence(P, Q, name))
        assert (u == v == math.inf) or v == pytest.approx(u, rel=1e-9, abs=1e-300)
    # independent coordinates: KL adds, the affinity I_a multiplies
    P2 = MultivariateNormal(_t([m1, 0.0]), torch.diag(_t([s1 * s1, 1.0])))
    Q2 = MultivariateNormal(_t([m2, 1.0]), torch.diag(_t([s2 * s2, 2.0])))
    kl2 = float(dk.divergence(P2, Q2, "kl"))
    assert kl2 == pytest.approx(float(ref_kl(m1, s1, m2, s2) + ref_kl(0, 1, 1, math.sqrt(2))), rel=1e-9)


def test_mvn_without_closed_form_uses_monte_carlo():
    P = _mvn(np.zeros(2), np.eye(2))
    Q = _mvn(np.ones(2), 2 * np.eye(2))
    with pytest.raises(NotImplementedError, match="use method='monte_carlo'"):
        dk.divergence(P, Q, "js", method="closed_form")
    with pytest.warns(dk.closed_form.NumericFallbackWarning, match="Monte Carlo"):  # the fallback is named
        res = dk.divergence(P, Q, "js")
    assert isinstance(res, dk.numeric.MonteCarloResult)
    assert 0 < float(res.value) < math.log(2) and float(res.stderr) < 0.01


# ---------------------------------------------------------------- methods and errors
def test_methods_agree_and_are_selectable():
    p, q = _normal(0.2, 1.3), _normal(-0.5, 0.8)
    exact = float(dk.divergence(p, q, "squared_hellinger", method="closed_form"))
    quad = float(dk.divergence(p, q, "squared_hellinger", method="quadrature"))
    assert quad == pytest.approx(exact, rel=1e-8)
    v, se, n = dk.divergence(p, q, "squared_hellinger", method="monte_carlo", n=50_000, seed=3)
    assert n == 50_000 and abs(float(v) - exact) <= 4 * float(se)
    with pytest.raises(NotImplementedError, match="use method='quadrature'"):
        dk.divergence(p, q, "gan", method="closed_form")
    with pytest.raises(ValueError, match="method must be one of auto, closed_form"):
        dk.divergence(p, q, "kl", method="exact")


def test_quadrature_warns_when_grad_is_requested():
    m = _t(0.0).requires_grad_()
    with pytest.warns(UserWarning, match="no gradient"):
        out = dk.divergence(Normal(m, _t(1.0)), _normal(1.0, 1.0), "js")
    assert isinstance(out, torch.Tensor) and not out.requires_grad


def test_type_errors():
    with pytest.raises(TypeError, match="same kind"):
        dk.divergence(_normal(0, 1), np.array([1.0]), "kl")
    with pytest.raises(TypeError, match="both as numpy or both as torch"):
        dk.divergence(np.array([0.5, 0.5]), torch.tensor([0.5, 0.5]), "kl")
    with pytest.raises(TypeError, match="expected a torch.distributions"):
        dk.divergence("a", "b", "kl")
    with pytest.raises(TypeError, match="unsupported pair"):
        dk.divergence(_normal(0, 1), Categorical(_t([0.5, 0.5])), "kl")
    with pytest.raises(ValueError, match=r"p\.scale must be finite and > 0"):
        dk.divergence(st.norm(0, -1.0), st.norm(0, 1), "kl")
    # issue 18 item 5: a NaN loc was reported as a bad scale (scipy's std() is NaN for any invalid parameter)
    with pytest.raises(ValueError, match=r"p\.loc must be finite"):
        dk.divergence(st.norm(np.nan, 1.0), st.norm(0, 1), "kl")
    with pytest.raises(ValueError, match=r"q\.scale must be finite and > 0"):
        dk.divergence(_normal(0, 1), Normal(_t(0.0), _t(0.0), validate_args=False), "kl")
    with pytest.raises(ValueError, match="positive definite"):
        dk.divergence(st.multivariate_normal([0, 0], np.eye(2)),
                      st.multivariate_normal([0, 0], [[1, 1], [1, 1]], allow_singular=True), "kl")
    with pytest.raises(ValueError, match="probability vectors always use the exact sum"):
        dk.divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5]), "kl", method="quadrature")


# ---------------------------------------------------------------- registry
class MyNormal(Normal):
    pass


def test_registry_most_specific_wins_and_ambiguity_warns():
    p, q = MyNormal(_t(0.0), _t(1.0)), MyNormal(_t(1.0), _t(1.0))
    assert float(dk.divergence(p, q, "kl")) == pytest.approx(0.5)  # inherits Normal's entry
    try:
        @dk.register_closed_form("kl", MyNormal, Normal)
        def _mine(p, q, div):
            return torch.tensor(-7.0)
        assert float(dk.divergence(p, q, "kl")) == -7.0
        assert float(dk.divergence(_normal(0.0, 1.0), q, "kl")) == pytest.approx(0.5)  # p not a MyNormal

        @dk.register_closed_form("kl", Normal, MyNormal)
        def _mine2(p, q, div):
            return torch.tensor(-8.0)
        with pytest.warns(RuntimeWarning, match="ambiguous closed form"):
            dk.divergence(p, q, "kl")
    finally:
        for key in [(dk.get("kl"), MyNormal, Normal), (dk.get("kl"), Normal, MyNormal)]:
            cf._REGISTRY.pop(key, None)
        cf._dispatch.cache_clear()
    assert float(dk.divergence(p, q, "kl")) == pytest.approx(0.5)


def test_register_validates_its_arguments():
    with pytest.raises(ValueError, match="unknown divergence"):
        dk.register_closed_form("kll", Normal, Normal)
    with pytest.raises(TypeError, match="type_q must be a class"):
        dk.register_closed_form("kl", Normal, "Normal")


def test_unregistered_divergence_object_falls_back_to_numeric():
    import dataclasses
    mykl = dataclasses.replace(dk.get("kl"), name="my_kl")
    p, q = _normal(0.0, 1.0), _normal(1.0, 2.0)
    assert cf.lookup_closed_form(p, q, mykl) is None
    assert float(dk.divergence(p, q, mykl)) == pytest.approx(float(ref_kl(0, 1, 1, 2)), rel=1e-8)
    # probability vectors are exact for any f
    assert dk.divergence(np.array([0.3, 0.7]), np.array([0.5, 0.5]), mykl) == pytest.approx(
        0.3 * math.log(0.6) + 0.7 * math.log(1.4), rel=1e-14)
