"""divkit.testing: the strategies produce what they promise, the oracles agree with mathematics, and the
checks fail when they should (a test kit whose checks cannot fail is worthless)."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import divkit as dk
from divkit import testing as dkt
from divkit.testing import (
    brute_force_conjugate,
    check_fenchel_young,
    check_lower_bound,
    discrete_divergence,
    divergences,
    gaussian_pairs,
    mixture_divergence,
    probability_pairs,
    probability_vectors,
    quadrature_divergence,
    random_generator_divergences,
    score_matrices,
)


def test_import_divkit_does_not_import_hypothesis_or_matplotlib():
    code = ("import sys, divkit; assert 'hypothesis' not in sys.modules and 'matplotlib' not in sys.modules; "
            "divkit.get('kl'); divkit.legendre_transform; "
            "assert 'hypothesis' not in sys.modules and 'matplotlib' not in sys.modules; "
            "divkit.testing; assert 'hypothesis' in sys.modules; assert 'matplotlib' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_lazy_attribute_is_the_module():
    assert dk.testing is dkt


# ------------------------------------------------------------------ strategies
@given(probability_vectors(min_size=1, max_size=12))
def test_probability_vectors_valid(p):
    assert p.ndim == 1 and 1 <= p.size <= 12 and p.dtype == np.float64
    assert np.all(p >= 0) and abs(p.sum() - 1) <= 1e-12


@given(probability_vectors(n=5, dtype=np.float32, allow_zeros=False))
def test_probability_vectors_fixed_size_no_zeros(p):
    assert p.shape == (5,) and p.dtype == np.float32 and np.all(p > 0)


@settings(max_examples=200)
@given(probability_vectors(n=6))
def test_zeros_do_occur(p):
    # not a property: records that the generator can emit exact zeros (checked in aggregate below)
    _SEEN_ZERO.append(bool(np.any(p == 0)))


_SEEN_ZERO: list = []


def test_zeros_seen_in_aggregate():
    test_zeros_do_occur()
    assert any(_SEEN_ZERO), "probability_vectors never produced an exact zero"


@given(probability_pairs(min_size=2, max_size=7, absolutely_continuous=True))
def test_probability_pairs_same_length_and_abs_cont(pq):
    p, q = pq
    assert p.shape == q.shape
    assert np.all(p[q == 0] == 0)
    assert abs(p.sum() - 1) < 1e-12 and abs(q.sum() - 1) < 1e-12


@given(gaussian_pairs(mu_range=(-1, 1), sigma_range=(0.5, 2)))
def test_gaussian_pairs_ranges(g):
    m1, s1, m2, s2 = g
    assert -1 <= m1 <= 1 and -1 <= m2 <= 1 and 0.5 <= s1 <= 2 and 0.5 <= s2 <= 2


@given(divergences())
def test_divergences_are_fdivergences(d):
    assert isinstance(d, dk.FDivergence)
    assert d.name in dk.names() or d.name.startswith("alpha(")


@given(score_matrices(dtype=np.float32, scale=5.0))
def test_score_matrices(s):
    assert s.ndim == 2 and s.shape[0] == s.shape[1] >= 2 and s.dtype == np.float32
    assert np.all(np.abs(s) <= 5.0)


def test_strategy_argument_errors():
    with pytest.raises(ValueError, match="min_size"):
        probability_vectors(min_size=3, max_size=2).example()
    with pytest.raises(ValueError, match="sigma_range"):
        gaussian_pairs(sigma_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        mixture_divergence([-1.0], ["kl"])


# ------------------------------------------------------------------ random generator divergences
@settings(max_examples=15)
@given(random_generator_divergences(max_terms=3), st.floats(1e-3, 1e3), st.floats(0.05, 0.95))
def test_random_generators_fenchel_young_and_tightness(d, u, frac):
    # Fenchel–Young against the numeric conjugate; equality at t = f'(u) up to the grid error (mixture
    # docstring: relative error ~ f''(u*)(u*δ)², δ = 2e-4 -> 1e-6 relative is generous for u ≤ 1e3)
    check_fenchel_young(d, np.array([u]), np.array([d.f_prime(np.float64(u))]), rtol=1e-6, atol=1e-9)
    t = np.float64(d.f_prime(np.float64(u)))
    gap = float(d.f(np.float64(u)) + d.conjugate(np.array([t]))[0] - u * t)
    assert abs(gap) <= 1e-6 * (1 + abs(u * t) + abs(float(d.f(np.float64(u)))))
    # t beyond the end of the domain: +inf
    if math.isfinite(d.conjugate_domain.hi):
        assert d.conjugate(np.array([d.conjugate_domain.hi + 1.0]))[0] == np.inf


@settings(max_examples=15)
@given(random_generator_divergences(max_terms=2), probability_pairs(min_size=2, max_size=6,
                                                                     absolutely_continuous=True))
def test_random_generators_discrete_bounds(d, pq):
    p, q = pq
    assert discrete_divergence(p, p, d) == pytest.approx(d.f_at_one, abs=1e-12)
    assert discrete_divergence(p, q, d) >= d.f_at_one - 1e-12


def test_mixture_torch_conjugate_and_parts():
    d = mixture_divergence([0.5, 2.0], ["reverse_kl", "squared_hellinger"])
    t = torch.tensor([-1.0, 0.5, 5.0], dtype=torch.float64)
    c = d.conjugate(t)
    assert isinstance(c, torch.Tensor) and torch.isinf(c[-1])  # dom = 0.5·(−∞, 0) + 2·(−∞, 1) = (−∞, 2)
    np.testing.assert_allclose(c[:2].numpy(), d.conjugate(t.numpy())[:2], rtol=1e-12)
    assert d.threshold == pytest.approx(0.5 * -1.0 + 2.0 * 0.0)
    assert d.conjugate_domain.hi == pytest.approx(2.0)


# ------------------------------------------------------------------ oracles vs mathematics
def _norm_logpdf(mu, s):
    return lambda x: -0.5 * ((x - mu) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)


@settings(max_examples=10)
@given(gaussian_pairs(mu_range=(-2, 2), sigma_range=(0.5, 2.0)))
def test_quadrature_matches_gaussian_closed_forms(g):
    m1, s1, m2, s2 = g
    lp, lq = _norm_logpdf(m1, s1), _norm_logpdf(m2, s2)
    kl = math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5
    bc = math.sqrt(2 * s1 * s2 / (s1 ** 2 + s2 ** 2)) * math.exp(-(m1 - m2) ** 2 / (4 * (s1 ** 2 + s2 ** 2)))
    # quad is asked for 1e-10 relative; 1e-8 leaves room for the tails
    assert quadrature_divergence(lp, lq, dk.get("kl")) == pytest.approx(kl, rel=1e-8, abs=1e-10)
    assert quadrature_divergence(lp, lq, dk.get("squared_hellinger")) == pytest.approx(2 * (1 - bc), rel=1e-8,
                                                                                        abs=1e-10)


def test_quadrature_tv_equal_variance_and_disjoint_support():
    from scipy.stats import norm

    lp, lq = _norm_logpdf(0.0, 1.0), _norm_logpdf(1.3, 1.0)
    assert quadrature_divergence(lp, lq, dk.get("tv"), points=None) == pytest.approx(2 * norm.cdf(0.65) - 1,
                                                                                     rel=1e-8)
    # P = U(0, 1), Q = U(1, 2): disjoint, TV = 1, JS = log 2
    lpu = lambda x: 0.0 if 0 <= x < 1 else -math.inf  # noqa: E731
    lqu = lambda x: 0.0 if 1 <= x < 2 else -math.inf  # noqa: E731
    assert quadrature_divergence(lpu, lqu, dk.get("tv"), 0, 2, points=[1.0]) == pytest.approx(1.0, rel=1e-10)
    assert quadrature_divergence(lpu, lqu, dk.get("js"), 0, 2, points=[1.0]) == pytest.approx(math.log(2), rel=1e-10)
    assert quadrature_divergence(lpu, lqu, dk.get("kl"), 0, 2, points=[1.0]) == math.inf


def test_discrete_divergence_limits():
    kl, rkl, tv = dk.get("kl"), dk.get("reverse_kl"), dk.get("tv")
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])
    assert discrete_divergence(p, q, kl) == pytest.approx(math.log(2), rel=1e-15)
    assert discrete_divergence(p, q, rkl) == math.inf  # q > 0 where p = 0, f(0) = +inf
    assert discrete_divergence(q, p, kl) == math.inf
    assert discrete_divergence(p, q, tv) == pytest.approx(0.5, rel=1e-15)
    with pytest.raises(ValueError, match="same length"):
        discrete_divergence([1.0], [0.5, 0.5], kl)
    with pytest.raises(ValueError, match="non-negative"):
        discrete_divergence([1.5, -0.5], [0.5, 0.5], kl)


def test_brute_force_conjugate_closed_forms():
    t = np.linspace(-4, 3, 15)
    np.testing.assert_allclose(brute_force_conjugate(dk.get("kl"), t), np.exp(t - 1), rtol=1e-10)
    tn = np.linspace(-4, 0.9, 15)
    np.testing.assert_allclose(brute_force_conjugate(lambda u: (1 - u) ** 2 / u, tn, np.geomspace(1e-6, 1e6, 20001)),
                               2 - 2 * np.sqrt(1 - tn), rtol=1e-10, atol=1e-12)


def test_check_fenchel_young_catches_a_wrong_conjugate():
    kl = dk.get("kl")
    check_fenchel_young(kl, np.geomspace(1e-3, 1e3, 50)[:, None], np.linspace(-5, 5, 21)[None, :])
    wrong = dk.FDivergence("wrong_kl", kl.f, kl.f_prime, lambda t: np.exp(t - 1) - 1e-3, kl.conjugate_domain,
                           kl.critic_range, kl.activation, kl.p_term, kl.q_term, threshold=1.0, f_at_zero=0.0)
    with pytest.raises(AssertionError, match="Fenchel–Young violated for wrong_kl"):
        check_fenchel_young(wrong, np.array([1.0]), np.array([1.0]))


def test_check_lower_bound_one_sided():
    assert check_lower_bound(0.9, 1.0, 0.05)
    assert check_lower_bound(1.1, 1.0, 0.05, z=3)  # 2 stderr above: within the band
    with pytest.raises(AssertionError, match="standard errors"):
        check_lower_bound(1.2, 1.0, 0.05, z=3)
    with pytest.raises(AssertionError, match="finite"):
        check_lower_bound(float("nan"), 1.0, 0.05)
