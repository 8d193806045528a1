"""Upper bounds (CLUB, leave-one-out) against brute force and on correlated Gaussians: with the known
conditional the true MI lies between a lower bound and the upper bounds in expectation."""
import math

import numpy as np
import pytest
import torch

import divkit as dk
from divkit import bounds as B


def _rand(k=6, seed=0):
    return np.random.default_rng(seed).normal(0, 3, (k, k))


def test_club_and_loo_match_brute_force():
    for seed in range(3):
        s = _rand(seed=seed)
        k = len(s)
        off = [s[i, j] for i in range(k) for j in range(k) if i != j]
        assert B.club(s) == pytest.approx(np.mean(np.diag(s)) - np.mean(off), rel=1e-12)
        loo = np.mean([s[i, i] - math.log(np.mean([math.exp(s[j, i]) for j in range(k) if j != i]))
                       for i in range(k)])
        assert B.loo_upper(s) == pytest.approx(loo, rel=1e-12)
    t = torch.tensor(_rand(), requires_grad=True)
    assert torch.autograd.gradcheck(B.loo_upper, (t,)) and torch.autograd.gradcheck(B.club, (t,))
    big = torch.tensor(_rand(), dtype=torch.float32) * 300           # far beyond exp's range: still finite
    assert torch.isfinite(B.loo_upper(big)) and torch.isfinite(B.club(big))


def test_gaussian_log_q_matches_torch_distributions():
    torch.manual_seed(0)
    mu, ls, y = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64) * 0.3, torch.randn(5, 3, dtype=torch.float64)
    got = dk.mi.upper.gaussian_log_q(mu, ls, y)
    ref = torch.distributions.Normal(mu[:, None, :], ls.exp()[:, None, :]).log_prob(y[None, :, :]).sum(-1)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim,mi", [(2, 1.0), (5, 2.0), (20, 4.0)])
def test_known_conditional_brackets_the_truth(dim, mi):
    """Known p(y|x), 400 minibatches of K = 64: E[NWJ at the optimal critic] ≤ I ≤ E[LOO] ≤ E[CLUB], and E[CLUB]
    is its closed form d ρ²/(1 − ρ²). Checks at 4 standard errors of the 400-batch means."""
    nb, k = 400, 64
    x, y = dk.mi.correlated_gaussians(dim, mi, nb * k, seed=1, dtype=torch.float64)
    xb, yb = x.reshape(nb, k, dim), y.reshape(nb, k, dim)
    log_q = dk.mi.KnownGaussianConditional(mi, dim)(xb, yb)
    club, loo = B.club(log_q), B.loo_upper(log_q)
    lower = B.nwj(dk.mi.optimal_scores(xb, yb, mi) + 1.0)
    se = lambda v: float(v.std() / math.sqrt(nb))
    rho2 = dk.mi.mi_to_rho(mi, dim) ** 2
    assert float(club.mean()) == pytest.approx(dim * rho2 / (1 - rho2), abs=4 * se(club))
    assert float(loo.mean()) >= mi - 4 * se(loo)
    assert float(lower.mean()) <= mi + 4 * se(lower)
    assert float(loo.mean()) <= float(club.mean()) + 4 * se(club - loo)   # LOO is the tighter one here
    # log p(y_j | x_i) − log p(y_j) is the optimal critic's score log r(x_i, y_j) (p(y) = N(0, I))
    log_py = torch.distributions.Normal(0.0, 1.0).log_prob(yb).sum(-1)            # (nb, K)
    torch.testing.assert_close(log_q - log_py.unsqueeze(-2), dk.mi.optimal_scores(xb, yb, mi), rtol=1e-9, atol=1e-9)


def test_estimate_upper_known_conditional_and_learned():
    x, y = dk.mi.correlated_gaussians(2, 1.0, 6000, seed=2)
    known = dk.mi.estimate_upper(x, y, "loo", conditional=dk.mi.KnownGaussianConditional(1.0, 2), progress=False)
    assert known.stopped_step == 0 and known.value >= 1.0 - 4 * known.stderr
    learned = dk.mi.estimate_upper(x, y, "club", steps=600, batch_size=64, lr=3e-3, hidden=32, progress=False, seed=0)
    rho2 = dk.mi.mi_to_rho(1.0, 2) ** 2
    # a well-fitted Gaussian q (the model family holds p(y|x)) gives CLUB ≈ its closed form 2ρ²/(1 − ρ²) ≈ 2.67,
    # above the truth 1; tolerance 0.35 nats for a 600-step fit
    assert learned.value == pytest.approx(2 * rho2 / (1 - rho2), abs=0.35)
    assert learned.validation.size > 0 and learned.best_step > 0
    lower = dk.mi.estimate(x, y, steps=600, batch_size=64, lr=2e-3, critic_kwargs=dict(hidden=32, embed_dim=8),
                           progress=False, estimator="nwj", seed=0)
    assert lower.value - 4 * lower.stderr <= 1.0 <= learned.value + 4 * learned.stderr


def test_estimate_upper_bad_input():
    x, y = dk.mi.correlated_gaussians(2, 1.0, 1000, seed=0)
    with pytest.raises(ValueError, match="bound must be one of"):
        dk.mi.estimate_upper(x, y, "nwj")
    with pytest.raises(ValueError, match="steps"):
        dk.mi.estimate_upper(x, y, "club", steps=0)
