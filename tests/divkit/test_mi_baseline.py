"""The closed-form Gaussian critic (divkit.mi.baseline) and the WeakCriticWarning of `estimate`."""
import math
import warnings

import numpy as np
import pytest
import torch

import divkit as dk
from divkit.mi.baseline import GaussianCritic


def _brute_scores(x_fit, y_fit, x, y, ridge=1e-6):
    """log N(z) − log N(x) − log N(y) for every pair (x_i, y_j), with torch.distributions and the same moments."""
    z = torch.cat([x_fit, y_fit], 1).double()
    mean = z.mean(0)
    cov = torch.cov(z.T)
    cov = cov + ridge * cov.diagonal().mean() * torch.eye(z.shape[1], dtype=torch.float64)
    dx = x_fit.shape[1]
    joint = torch.distributions.MultivariateNormal(mean, cov)
    px = torch.distributions.MultivariateNormal(mean[:dx], cov[:dx, :dx])
    py = torch.distributions.MultivariateNormal(mean[dx:], cov[dx:, dx:])
    x, y = x.double(), y.double()
    K, M = x.shape[0], y.shape[0]
    pairs = torch.cat([x[:, None, :].expand(K, M, dx), y[None, :, :].expand(K, M, y.shape[1])], -1)
    return joint.log_prob(pairs) - px.log_prob(x)[:, None] - py.log_prob(y)[None, :]


@pytest.mark.parametrize("dx,dy,n", [(1, 1, 50), (3, 5, 400), (20, 20, 2000)])
def test_scores_equal_the_log_density_ratio_of_the_fitted_gaussian(dx, dy, n):
    g = torch.Generator().manual_seed(dx * 100 + dy)
    a = torch.randn(dx + dy, dx + dy, generator=g, dtype=torch.float64)
    z = torch.randn(n, dx + dy, generator=g, dtype=torch.float64) @ a + 3.0   # correlated, off-centre
    x, y = z[:, :dx], z[:, dx:]
    crit = GaussianCritic.fit(x, y)
    xs, ys = x[:7], y[3:14]                                         # a rectangular K × M batch
    got = crit(xs, ys)
    assert got.shape == (7, 11) and got.dtype == torch.float64
    # two float64 evaluations of the same quadratic form: agree to rounding (scores are O(10), the condition
    # number of the random covariance stays below ~1e4, so 1e-8 absolute is ample)
    torch.testing.assert_close(got, _brute_scores(x, y, xs, ys), rtol=0, atol=1e-8)


def test_fitted_critic_approaches_the_optimal_one():
    """On correlated Gaussians the fitted critic tends to the exact optimal critic: at n = 200000 pairs in d = 20
    the sampling error of the 40 × 40 covariance (≈ 1/√n = 2e-3 per entry) moves the scores by ≈ 0.05 nats."""
    mi = 4.0
    x, y = dk.mi.correlated_gaussians(20, mi, 200_000, seed=1, dtype=torch.float64)
    crit = GaussianCritic.fit(x, y)
    assert crit.gaussian_mi == pytest.approx(mi, abs=0.03)
    xt, yt = dk.mi.correlated_gaussians(20, mi, 64, seed=2, dtype=torch.float64)
    diff = crit(xt, yt) - dk.mi.optimal_scores(xt, yt, mi)
    assert float(diff.abs().mean()) < 0.1


def test_float32_inputs_give_float32_scores_and_no_parameters():
    x, y = dk.mi.correlated_gaussians(2, 1.0, 500, seed=0)
    crit = GaussianCritic.fit(x, y)
    assert crit(x[:4], y[:5]).dtype == torch.float32
    assert list(crit.parameters()) == []


@pytest.mark.parametrize("shape_x,shape_y,match", [((10, 2), (9, 2), "paired"), ((5, 3), (5, 3), "n >= 8")])
def test_fit_rejects_bad_shapes(shape_x, shape_y, match):
    with pytest.raises(ValueError, match=match):
        GaussianCritic.fit(torch.zeros(shape_x), torch.zeros(shape_y))


def _estimate(x, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = dk.mi.estimate(x, y, progress=False, **kw)
    return r, {w.category for w in caught}


def test_weak_critic_is_flagged_with_the_gaussian_value():
    """50 steps leave the trained critic far below the optimum at MI 2 in d = 10; the Gaussian critic's SMILE
    value sits near the truth (SMILE τ = 5 at the optimal critic reads ≈ truth + 0.05 at MI 2, measured)."""
    x, y = dk.mi.correlated_gaussians(10, 2.0, 20_000, seed=0)
    r, cats = _estimate(x, y, steps=50)
    assert dk.mi.WeakCriticWarning in cats
    assert "Gaussian critic" in r.warning
    assert abs(r.baseline_value - 2.0) < 0.2 + 3 * r.baseline_stderr
    assert r.baseline_value > r.value


class _TrainableOptimal(torch.nn.Module):
    """The exact optimal critic plus one trainable offset (estimate needs parameters to train)."""

    def __init__(self, mi, shift):
        super().__init__()
        self.opt = dk.mi.OptimalCritic(mi)
        self.c = torch.nn.Parameter(torch.tensor(float(shift)))

    def forward(self, x, y):
        return self.opt(x, y) + self.c


@pytest.mark.parametrize("estimator", ["smile", "dv", "infonce", "nwj"])
def test_no_weak_critic_warning_for_the_optimal_critic(estimator):
    """The trained critic is the exact optimum of the bound (log r + the estimator's critic_shift): the Gaussian
    critic (fitted, hence slightly worse) cannot beat it beyond the paired noise, so the warning must stay silent
    (3σ: a false-alarm rate of ≈ 0.1 %). The NWJ case started at shift 0 would rightly warn (by 1/e nats)."""
    x, y = dk.mi.correlated_gaussians(5, 2.0, 20_000, seed=3)
    shift = dk.mi.make_estimator(estimator).critic_shift
    r, cats = _estimate(x, y, estimator=estimator, critic=_TrainableOptimal(2.0, shift), steps=20, lr=1e-6)
    assert dk.mi.WeakCriticWarning not in cats
    assert r.baseline_value is not None and math.isfinite(r.baseline_value)
    if estimator == "nwj":   # the same critic at the wrong shift is flagged
        _, cats = _estimate(x, y, estimator=estimator, critic=_TrainableOptimal(2.0, 0.0), steps=20, lr=1e-6)
        assert dk.mi.WeakCriticWarning in cats


def test_baseline_skipped_where_it_cannot_apply():
    x, y = dk.mi.correlated_gaussians(20, 2.0, 100, seed=0)      # 60 training pairs for a 40-dim covariance
    r, _ = _estimate(x, y, steps=5, batch_size=8)
    assert r.baseline_value is None and r.baseline_stderr is None
    x, y = dk.mi.correlated_gaussians(2, 1.0, 2000, seed=0)
    r, _ = _estimate(x, y, estimator="tuba", steps=5)             # TUBA's optimum depends on its learned baseline
    assert r.baseline_value is None


def test_estimator_critic_shifts():
    """log r + critic_shift is the optimum of each bound: check it numerically at the exact critic (NWJ's value
    at log r + 1 is the MI up to minibatch noise, at log r it is MI − 1/e)."""
    shifts = {n: dk.mi.make_estimator(n, y_dim=3).critic_shift for n in dk.mi.ESTIMATORS}
    assert shifts["nwj"] == shifts["mine_f"] == 1.0
    assert shifts["tuba"] is None and shifts["interpolated"] is None
    assert all(shifts[n] == 0.0 for n in ("dv", "mine", "infonce", "smile", "js", "js_shifted"))
    x, y = dk.mi.correlated_gaussians(3, 1.0, 64 * 200, seed=5, dtype=torch.float64)
    est = dk.mi.make_estimator("nwj")
    vals = {c: np.mean([float(est.evaluate(dk.mi.optimal_scores(x[i:i + 64], y[i:i + 64], 1.0) + c))
                        for i in range(0, x.shape[0], 64)]) for c in (0.0, 1.0)}
    assert vals[1.0] == pytest.approx(1.0, abs=0.05)              # 200 batches: stderr ≈ 0.01
    assert vals[0.0] == pytest.approx(1.0 - math.exp(-1), abs=0.05)
