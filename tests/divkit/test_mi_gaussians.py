"""Correlated-Gaussian benchmark: closed forms, and the known behaviour of the bounds at the exact optimal critic.

Monte Carlo tolerances: each claim is checked with a fixed seed against k·(standard error over independent
minibatches); k = 4 for unbiasedness (two-sided), 5 for a strict bias claim (one-sided).
"""
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal as mvn

from divkit import bounds as B
from divkit.mi.gaussians import (
    STAIRCASE_MIS,
    OptimalCritic,
    correlated_gaussians,
    mi_to_rho,
    optimal_scores,
    rho_to_mi,
    staircase,
)


def test_rho_mi_round_trip_and_formula():
    for d in (1, 5, 20):
        for mi in (0.0, 1e-12, 0.3, 2.0, 10.0):
            rho = mi_to_rho(mi, d)
            assert rho**2 == pytest.approx(1 - math.exp(-2 * mi / d), rel=1e-12, abs=1e-15)  # 1 − exp loses digits near 0
            # round trip through ρ ≈ 1 is ill-conditioned: δI ≈ d·ρ²/(1−ρ²)·eps = e^{20}·1e-16 ≈ 5e-8 at d=1, I=10
            assert rho_to_mi(rho, d) == pytest.approx(mi, rel=1e-7, abs=1e-15)
    np.testing.assert_allclose(rho_to_mi(np.array([0.1, 0.5]), 2), [-math.log(1 - 0.01), -math.log(1 - 0.25)], rtol=1e-14)


def test_samples_have_the_right_correlation_and_mi():
    x, y = correlated_gaussians(4, 2.0, 200_000, seed=0, dtype=torch.float64)
    rho = mi_to_rho(2.0, 4)
    c = (x * y).mean(0)
    # per-coordinate sample correlation: std ≈ (1 − ρ²)/sqrt(n) ≈ 0.0015; 5σ
    assert torch.allclose(c, torch.full_like(c, rho), atol=0.008)
    # MI of a Gaussian from its covariance (in 8-D): -½ log det(C) with unit marginals
    cov = torch.cov(torch.cat([x, y], 1).T).numpy()
    est = 0.5 * (np.linalg.slogdet(cov[:4, :4])[1] + np.linalg.slogdet(cov[4:, 4:])[1] - np.linalg.slogdet(cov)[1])
    assert est == pytest.approx(2.0, abs=0.03)


def test_reproducible_and_validated():
    a = correlated_gaussians(3, 1.0, 5, seed=7)
    b = correlated_gaussians(3, 1.0, 5, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[0].dtype == torch.float32
    with pytest.raises(ValueError, match="mi"):
        correlated_gaussians(3, -1.0, 5, seed=0)
    with pytest.raises(ValueError, match="dim"):
        correlated_gaussians(0, 1.0, 5, seed=0)
    with pytest.raises(ValueError, match="rho"):
        rho_to_mi(1.0, 3)


def test_optimal_scores_equal_the_log_density_ratio():
    x, y = correlated_gaussians(3, 1.3, 5, seed=1, dtype=torch.float64)
    rho = mi_to_rho(1.3, 3)
    cov = np.block([[np.eye(3), rho * np.eye(3)], [rho * np.eye(3), np.eye(3)]])
    s = optimal_scores(x, y, 1.3)
    crit = OptimalCritic(1.3)
    assert torch.equal(crit(x, y), s)
    for i in range(5):
        for j in range(5):
            ref = (mvn(np.zeros(6), cov).logpdf(np.r_[x[i], y[j]]) - mvn(np.zeros(3)).logpdf(x[i])
                   - mvn(np.zeros(3)).logpdf(y[j]))
            assert float(s[i, j]) == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_staircase_schedule():
    assert staircase(0) == 2.0 and staircase(3999) == 2.0 and staircase(4000) == 4.0
    assert staircase(19_999) == 10.0 and staircase(10**6) == 10.0
    np.testing.assert_array_equal(staircase(np.array([0, 100, 250]), steps_per_stage=100), [2.0, 4.0, 6.0])
    assert STAIRCASE_MIS == (2.0, 4.0, 6.0, 8.0, 10.0)


def _batches(mi, n_batches, k=64, d=20, seed=0):
    x, y = correlated_gaussians(d, mi, n_batches * k, seed=seed, dtype=torch.float64)
    return optimal_scores(x.reshape(n_batches, k, d), y.reshape(n_batches, k, d), mi)  # (B, K, K)


@pytest.mark.parametrize("mi", [2.0, 4.0])
def test_nwj_is_unbiased_at_the_optimal_critic(mi):
    vals = B.nwj(_batches(mi, 300, seed=int(mi)) + 1.0)  # NWJ is tight at 1 + log r
    sem = vals.std() / math.sqrt(len(vals))
    assert abs(vals.mean().item() - mi) < 4 * sem.item(), (vals.mean(), sem)


def test_infonce_bias_grows_with_mi_and_is_capped_by_log_k():
    k = 64
    means = []
    for mi in STAIRCASE_MIS:
        vals = B.infonce(_batches(mi, 50, k=k, seed=10 + int(mi)))
        assert (vals <= math.log(k)).all()
        means.append(vals.mean().item())
    bias = np.array(STAIRCASE_MIS) - np.array(means)
    assert np.all(np.diff(bias) > 0), bias               # bias increases with MI
    assert bias[0] > 0.05                                 # already biased at 2 nats (≈ 0.2 measured)
    assert math.log(k) - means[-1] < 0.1                  # saturates at log 64 = 4.159 at MI = 10


def test_minibatch_dv_is_biased_upward_at_high_mi():
    vals = B.dv(_batches(10.0, 150, seed=99))
    sem = vals.std().item() / math.sqrt(len(vals))
    assert vals.mean().item() - 10.0 > 5 * sem, (vals.mean(), sem)   # ≈ +1.2 nats measured, sem ≈ 0.1
