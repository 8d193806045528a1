"""divkit.numeric: quadrature and Monte Carlo against the closed forms (themselves checked against
700-digit mpmath formulas in test_closed_form.py) and against scipy.integrate.quad written out here."""
import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from hypothesis import given, settings
from hypothesis import strategies as st_h
from scipy import integrate
from torch.distributions import MultivariateNormal, Normal

import divkit as dk
from divkit import numeric
from divkit.closed_form import _normal_pair_points

MEANS = st_h.floats(-10, 10, allow_nan=False)
SCALES = st_h.floats(0.1, 10, allow_nan=False)
ALL = dk.names() + ["alpha(0.5)", "alpha(2)", "alpha(-1)", "alpha(0.3)", "alpha(1.7)"]
CLOSED = [n for n in ALL if n not in ("js", "gan")]


def _t(x):
    return torch.tensor(x, dtype=torch.float64)


def _lpdf(m, s):
    c = -math.log(s) - 0.5 * math.log(2 * math.pi)
    return lambda x: c - 0.5 * ((x - m) / s) ** 2


def _quad(name, m1, s1, m2, s2, points=None):
    div = dk.get(name)
    if points is None:
        points = [m + k * s for m, s in ((m1, s1), (m2, s2)) for k in (-10, -3, 0, 3, 10)]
        points += _normal_pair_points(m1, s1, m2, s2, div)
    return numeric.quadrature_divergence(_lpdf(m1, s1), _lpdf(m2, s2), div, points=points)


@pytest.mark.parametrize("name", CLOSED)
@settings(max_examples=10)
@given(m1=MEANS, s1=SCALES, m2=MEANS, s2=SCALES)
def test_quadrature_matches_closed_forms(name, m1, s1, m2, s2):
    exact = float(dk.divergence(Normal(_t(m1), _t(s1)), Normal(_t(m2), _t(s2)), name, method="closed_form"))
    got = _quad(name, m1, s1, m2, s2)
    if exact == math.inf:
        assert got == math.inf or got > 1e100
    elif exact > 1e12:  # astronomically large χ²-type values: quad resolves them to a looser relative error
        assert got == pytest.approx(exact, rel=1e-4)
    else:
        # non-negative integrands, quad epsrel 1e-11: 1e-6 relative with a 1e-12 floor for divergences ~ 0
        assert abs(got - exact) <= 1e-6 * exact + 1e-12, (got, exact)


def test_quadrature_tiny_divergences_keep_relative_accuracy():
    # the Bregman form has no cancellation: KL ~ 5e-13 is still resolved to 1e-6 relative
    for name in ("kl", "reverse_kl", "squared_hellinger", "pearson", "neyman", "alpha(0.3)", "jeffreys"):
        exact = float(dk.divergence(Normal(_t(0.0), _t(1.0)), Normal(_t(1e-6), _t(1.0)), name))
        got = _quad(name, 0.0, 1.0, 1e-6, 1.0)
        assert got == pytest.approx(exact, rel=1e-6), name


def test_quadrature_of_other_densities_matches_scipy_quad():
    p, q = st.laplace(0.3, 1.2), st.t(df=5, loc=-0.5, scale=0.8)

    def direct(h):  # the far tails (|x| > 400) hold < 1e-13 of either density
        return integrate.quad(h, -400, 400, points=[-0.5, 0.3], epsabs=1e-14, epsrel=1e-12, limit=500)[0]

    def lse(a, b):
        return np.logaddexp(a, b)

    kl = direct(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)))
    js_ = direct(lambda x: 0.5 * (p.pdf(x) * (np.log(2) + p.logpdf(x) - lse(p.logpdf(x), q.logpdf(x)))
                                  + q.pdf(x) * (np.log(2) + q.logpdf(x) - lse(p.logpdf(x), q.logpdf(x)))))
    assert dk.divergence(p, q, "kl") == pytest.approx(kl, rel=1e-7)
    assert dk.divergence(p, q, "js") == pytest.approx(js_, rel=1e-7)
    # torch distributions without a closed form go the same way
    tp = torch.distributions.Laplace(_t(0.3), _t(1.2))
    tq = torch.distributions.StudentT(_t(5.0), _t(-0.5), _t(0.8))
    assert float(dk.divergence(tp, tq, "kl")) == pytest.approx(kl, rel=1e-7)


def test_pointwise_integrands_are_the_bregman_form():
    rng = np.random.default_rng(0)
    lp = rng.normal(scale=3, size=40)
    lq = rng.normal(scale=3, size=40)
    for name in ALL:
        div = dk.get(name)
        g, offset = numeric.pointwise_integrand(div)
        for a, b in zip(lp, lq):
            p, q = math.exp(a), math.exp(b)
            direct = q * float(div.f(np.float64(p / q))) - div.f_at_one * q - div.threshold * (p - q)
            val = g(a, b)
            assert val >= 0, name
            assert val == pytest.approx(direct, rel=1e-8, abs=1e-12 * (p + q)), (name, a, b)
        assert offset == pytest.approx(div.f_at_one)


def test_gan_equals_twice_js_minus_log4():
    p, q = Normal(_t(0.0), _t(1.0)), Normal(_t(2.0), _t(0.5))
    js = float(dk.divergence(p, q, "js"))
    gan = float(dk.divergence(p, q, "gan"))
    assert gan == pytest.approx(2 * js - math.log(4), rel=1e-12)


def test_generic_integrand_matches_dedicated_ones():
    import dataclasses
    for name in ("kl", "squared_hellinger", "tv", "js", "pearson"):
        clone = dataclasses.replace(dk.get(name), name="clone_" + name)
        a = _quad(name, 0.3, 1.1, -0.7, 1.4)
        b = numeric.quadrature_divergence(_lpdf(0.3, 1.1), _lpdf(-0.7, 1.4), clone,
                                          points=_normal_pair_points(0.3, 1.1, -0.7, 1.4, clone))
        assert b == pytest.approx(a, rel=1e-8), name


def test_normal_crossings_are_crossings():
    for m1, s1, m2, s2 in ((0, 1, 1, 2), (3, 0.1, -2, 5), (0, 1, 0, 1.000001), (1, 2, -1, 2)):
        xs = numeric.normal_crossings(m1, s1, m2, s2)
        assert len(xs) == (1 if s1 == s2 else 2)
        for x in xs:
            assert _lpdf(m1, s1)(x) == pytest.approx(_lpdf(m2, s2)(x), rel=1e-9, abs=1e-9)


def test_quadrature_errors_and_infinity():
    with pytest.raises(ValueError, match="lo must be < hi"):
        numeric.quadrature_divergence(_lpdf(0, 1), _lpdf(0, 1), "kl", 1.0, 0.0)
    with pytest.raises(ValueError, match="unknown divergence"):
        numeric.quadrature_divergence(_lpdf(0, 1), _lpdf(0, 1), "nope")
    # Pearson when 2σ2² < σ1²: the integral diverges
    assert _quad("pearson", 0.0, 2.0, 0.0, 1.0) == math.inf
    # KL between disjoint-support uniforms is +inf (q = 0 where p > 0)
    lp = lambda x: 0.0 if 0 <= x <= 1 else -math.inf  # noqa: E731
    lq = lambda x: 0.0 if 0.5 <= x <= 1.5 else -math.inf  # noqa: E731
    assert numeric.quadrature_divergence(lp, lq, "kl", -1, 2, points=[0, 0.5, 1, 1.5]) == math.inf
    assert numeric.quadrature_divergence(lp, lq, "tv", -1, 2, points=[0, 0.5, 1, 1.5]) == pytest.approx(0.5)
    assert numeric.quadrature_divergence(lp, lq, "js", -1, 2, points=[0, 0.5, 1, 1.5]) == pytest.approx(
        0.5 * math.log(2))


# ---------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("name", ["kl", "reverse_kl", "jeffreys", "squared_hellinger", "tv", "js", "gan",
                                  "alpha(0.5)", "alpha(0.3)"])
def test_monte_carlo_within_a_few_stderr(name):
    p, q = Normal(_t([0.0, 1.0]), _t([1.0, 0.8])), Normal(_t([0.5, -0.5]), _t([1.3, 1.5]))
    exact = dk.divergence(p, q, name)  # closed form or quadrature, both verified elsewhere
    res = numeric.monte_carlo_divergence(p, q, name, n=40_000, seed=7)
    assert res.value.shape == (2,) and res.n == 40_000
    z = ((res.value - exact).abs() / res.stderr).max()
    assert z < 4.5, (res, exact)  # 4.5 stderr: fixed seed, so this is deterministic, not flaky


def test_monte_carlo_scipy_and_mvn():
    v, se, n = numeric.monte_carlo_divergence(st.norm(0, 1), st.norm(1, 2), "kl", n=20_000, seed=1)
    assert isinstance(v, float) and abs(v - dk.divergence(st.norm(0, 1), st.norm(1, 2), "kl")) < 4.5 * se
    P = MultivariateNormal(_t([0.0, 0.0]), _t([[1.0, 0.3], [0.3, 1.0]]))
    Q = MultivariateNormal(_t([1.0, 0.0]), _t([[2.0, 0.0], [0.0, 1.0]]))
    for name in ("kl", "squared_hellinger"):
        res = dk.divergence(P, Q, name, method="monte_carlo", n=20_000, seed=2)
        assert abs(float(res.value - dk.divergence(P, Q, name))) < 4.5 * float(res.stderr)
    sp = st.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 1.0]])
    sq = st.multivariate_normal([1.0, 0.0], [[2.0, 0.0], [0.0, 1.0]])
    with pytest.warns(dk.closed_form.NumericFallbackWarning):
        res = dk.divergence(sp, sq, "js", n=20_000, seed=3)
    assert isinstance(res.value, float) and 0 < res.value < math.log(2)


def test_monte_carlo_is_seeded_and_leaves_global_rng_alone():
    p, q = Normal(_t(0.0), _t(1.0)), Normal(_t(1.0), _t(1.0))
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = numeric.monte_carlo_divergence(p, q, "js", n=1000, seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = numeric.monte_carlo_divergence(p, q, "js", n=1000, seed=5)
    c = numeric.monte_carlo_divergence(p, q, "js", n=1000, seed=6)
    assert float(a.value) == float(b.value) != float(c.value)
    s1 = numeric.monte_carlo_divergence(st.norm(0, 1), st.norm(1, 1), "tv", n=1000, seed=5)
    s2 = numeric.monte_carlo_divergence(st.norm(0, 1), st.norm(1, 1), "tv", n=1000, seed=5)
    assert s1 == s2


def test_monte_carlo_gradient_through_rsample():
    m = _t(0.5).requires_grad_()
    res = numeric.monte_carlo_divergence(Normal(m, _t(1.0)), Normal(_t(0.0), _t(1.0)), "kl", n=50_000, seed=0)
    res.value.backward()
    assert m.grad.item() == pytest.approx(0.5, abs=0.03)  # d/dμ of μ²/2


def test_monte_carlo_errors():
    p = Normal(_t(0.0), _t(1.0))
    with pytest.raises(ValueError, match="n must be ≥ 2"):
        numeric.monte_carlo_divergence(p, p, "kl", n=1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        numeric.monte_carlo_divergence(p, p, "kl", seed=1.5)
    with pytest.raises(TypeError, match="both be torch.distributions or both scipy"):
        numeric.monte_carlo_divergence(p, st.norm(0, 1), "kl")
    with pytest.raises(ValueError, match="same event shape"):
        numeric.monte_carlo_divergence(p, MultivariateNormal(_t([0.0, 0.0]), _t(np.eye(2))), "kl")
