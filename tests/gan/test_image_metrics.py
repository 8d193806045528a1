"""gan.image_metrics: IS, FID, KID, precision/recall, density/coverage against closed forms, mpmath and brute force;
against torch-fidelity / torchmetrics / prdc / pytorch-fid on the same features where those are installed."""
import importlib
import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gan import image_metrics as im


def _peer(name):
    """Import an optional peer library, or skip (torch-fidelity and friends pull torchvision, absent here)."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - a broken torchvision raises RuntimeError/AttributeError, not only ImportError
        pytest.skip(f"{name} not importable: {type(exc).__name__}")


# ---------------------------------------------------------------- FID

def _mp_trace_sqrt(A, B):
    """Tr (Σa Σb)^{1/2} as Σ √eig(Σa^{1/2} Σb Σa^{1/2}) for mpmath matrices (an independent route)."""
    if True:
        ev, Q = mpmath.eigsy(A)
        half = Q * mpmath.diag([mpmath.sqrt(max(e, 0)) for e in ev]) * Q.T
        ev2, _ = mpmath.eigsy(half * B * half)
        return sum(mpmath.sqrt(max(e, 0)) for e in ev2)


def _mp_cov(x, dps=60):
    with mpmath.workdps(dps):
        X = mpmath.matrix(x.tolist())
        n, d = X.rows, X.cols
        mu = [sum(X[i, j] for i in range(n)) / n for j in range(d)]
        C = mpmath.matrix(d, d)
        for a in range(d):
            for b in range(d):
                C[a, b] = sum((X[i, a] - mu[a]) * (X[i, b] - mu[b]) for i in range(n)) / (n - 1)
        return np.array(mu, dtype=float), C


def test_fid_exact_in_the_singular_case_against_mpmath():
    # n ≤ d: both covariances singular (rank n − 1 < d). mpmath at 60 digits through the symmetric eigen route.
    rng = np.random.default_rng(0)
    d = 9
    a = rng.normal(size=(5, d))
    b = a[:4] + 0.05 * rng.normal(size=(4, d))          # near-identical sets: the hard case for sqrtm
    mua, ca = _mp_cov(a)
    mub, cb = _mp_cov(b)
    with mpmath.workdps(60):
        tr = _mp_trace_sqrt(ca, cb)
        want = float(sum((mua - mub) ** 2) + sum(ca[i, i] for i in range(d)) + sum(cb[i, i] for i in range(d))
                     - 2 * mpmath.mpf(tr))
    # float64 with O(d·n) operations on O(1) values: 1e-10 relative is ~10⁵ eps, far below the sqrtm error (~1e-2)
    assert im.fid_from_features(a, b) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("n,d", [(300, 512), (50, 64), (64, 64)])
def test_fid_of_a_set_with_itself_is_zero_when_n_le_d(n, d):
    # regression: pytorch-fid / scipy.linalg.sqrtm gave −9.2e-6 here at n = 300, d = 512
    f = np.random.default_rng(n).normal(size=(n, d))
    got = im.fid_from_features(f, f)
    assert 0.0 <= got <= 1e-10 * d                     # Tr Σ ≈ d: rounding of ~d·eps relative


def test_fid_from_features_equals_the_eigen_route_when_n_gt_d():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 6)), rng.normal(0.3, 1.5, size=(300, 6)) @ rng.normal(size=(6, 6))
    stats = im.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert im.fid_from_features(a, b) == pytest.approx(stats, rel=1e-10)


@given(st.floats(-3, 3), st.floats(-3, 3), st.integers(2, 40), st.integers(2, 40), st.integers(1, 12),
       st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_fid_properties_over_scales(log_scale, log_shift, n, m, d, seed):
    """≥ 0, symmetric, 0 on a set with itself, invariant under a common shift, scales as s² (log-uniform s, shift)."""
    rng = np.random.default_rng(seed)
    s, c = 10.0 ** log_scale, 10.0 ** log_shift
    a, b = s * rng.normal(size=(n, d)), s * rng.normal(0.5, 2.0, size=(m, d))
    f = im.fid_from_features(a, b)
    assert f >= 0
    # cancellation in ‖F_a‖² + ‖F_b‖² − 2‖F_aF_bᵀ‖_*: absolute rounding ~ eps·(Tr Σ_a + Tr Σ_b)
    tol = 1e-11 * (np.var(a, 0).sum() + np.var(b, 0).sum() + np.sum((a.mean(0) - b.mean(0)) ** 2)) * n * m
    assert im.fid_from_features(b, a) == pytest.approx(f, rel=1e-9, abs=tol)
    assert im.fid_from_features(a, a) <= tol
    assert im.fid_from_features(a + c, b + c) == pytest.approx(f, rel=1e-6, abs=tol + 1e-11 * c * c * d)
    assert im.fid_from_features(3 * a, 3 * b) == pytest.approx(9 * f, rel=1e-9, abs=9 * tol)


def test_frechet_distance_gaussian_closed_forms():
    # commuting covariances: ‖Δμ‖² + Σ (σ1ᵢ − σ2ᵢ)²
    got = im.frechet_distance([1.0, 0], np.diag([4.0, 1.0]), [0, 0], np.diag([1.0, 9.0]))
    assert got == pytest.approx(1 + (2 - 1) ** 2 + (1 - 3) ** 2, rel=1e-12)
    # 2×2 non-commuting: Tr √M = √(tr M + 2√det M) for M = Σ1Σ2 with positive eigenvalues
    a, b = np.array([[2.0, 0.7], [0.7, 1.0]]), np.array([[1.0, -0.4], [-0.4, 3.0]])
    mm = a @ b
    want = np.trace(a) + np.trace(b) - 2 * math.sqrt(np.trace(mm) + 2 * math.sqrt(np.linalg.det(mm)))
    assert im.frechet_distance([0, 0], a, [0, 0], b) == pytest.approx(want, rel=1e-12)


def test_frechet_distance_imaginary_part_check_as_pytorch_fid():
    with pytest.raises(ValueError, match="Imaginary component"):
        im.frechet_distance([0, 0], np.diag([1.0, -1.0]), [0, 0], np.eye(2))     # not PSD: √(−1)


@pytest.mark.parametrize("call,match", [
    (lambda: im.fid_from_features(np.zeros((1, 3)), np.zeros((5, 3))), "feat_a needs at least 2 samples"),
    (lambda: im.fid_from_features(np.zeros((4, 3)), np.zeros((5, 2))), "same feature dimension"),
    (lambda: im.fid_from_features(np.full((4, 3), np.nan), np.zeros((5, 3))), "feat_a holds NaN"),
    (lambda: im.fid_from_features(np.zeros(4), np.zeros((5, 3))), "feat_a must be a 2-D"),
    (lambda: im.frechet_distance([0, 0], np.eye(3), [0, 0], np.eye(3)), "shapes disagree"),
    (lambda: im.frechet_distance([0, 0], [[1, 2], [0, 1]], [0, 0], np.eye(2)), "sigma1 must be a symmetric"),
    (lambda: im.kid_from_features(np.zeros((5, 2)), np.zeros((5, 2)), subsets=0, subset_size=5), "subsets must"),
    (lambda: im.kid_from_features(np.zeros((5, 2)), np.zeros((5, 2)), subset_size=6), "subset_size 6 is larger"),
    (lambda: im.kid_from_features(np.zeros((5, 2)), np.zeros((5, 2)), subset_size=1), "subset_size must"),
    (lambda: im.kid_from_features(np.zeros((5, 2)), np.zeros((5, 2)), subset_size=5, gamma=0.0), "gamma must"),
    (lambda: im.kid_from_features(np.zeros((5, 2)), np.zeros((5, 2)), subset_size=5, degree=0), "degree must"),
    (lambda: im.inception_score(), "exactly one of"),
    (lambda: im.inception_score(np.full((4, 2), 0.5), splits=5), "splits must be ≤"),
    (lambda: im.inception_score(np.full((4, 2), 0.6), splits=2), "rows summing to 1"),
    (lambda: im.inception_score(logits=np.zeros((4, 2)), splits=0), "splits must be an int"),
    (lambda: im.precision_recall(np.zeros((3, 2)), np.zeros((9, 2))), "real needs at least k \\+ 1 = 4"),
    (lambda: im.density_coverage(np.zeros((9, 2)), np.zeros((9, 2)), k=0), "k must be an int"),
    (lambda: im.precision_recall(np.zeros((9, 2)), np.zeros((9, 3))), "same feature dimension"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- KID

def _k(a, b, d):
    return (float(a @ b) / d + 1) ** 3


def _mmd_brute(x, y):
    m, n, d = len(x), len(y), x.shape[1]
    xx = sum(_k(x[i], x[j], d) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(_k(y[i], y[j], d) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(_k(x[i], y[j], d) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_unbiased_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.2, size=(9, 3))
    assert im.mmd2_unbiased(x, y) == pytest.approx(_mmd_brute(x, y), rel=1e-12)


def test_kid_subsets_as_torch_fidelity_draws_them():
    """100 × 1000 by default; subsets drawn by RandomState(seed).choice, first set first; std with ddof = 0."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 3)), rng.normal(0.3, 1.0, size=(10, 3))
    got = im.kid_from_features(x, y, subsets=4, subset_size=5, seed=7)
    r = np.random.RandomState(7)
    vals = []
    for _ in range(4):
        xa, yb = x[r.choice(12, 5, replace=False)], y[r.choice(10, 5, replace=False)]
        vals.append(_mmd_brute(xa, yb))
    assert got["kernel_inception_distance_mean"] == pytest.approx(np.mean(vals), rel=1e-12)
    assert got["kernel_inception_distance_std"] == pytest.approx(np.std(vals), rel=1e-10)
    import inspect

    sig = inspect.signature(im.kid_from_features).parameters
    assert (sig["subsets"].default, sig["subset_size"].default, sig["degree"].default) == (100, 1000, 3)


def test_kid_one_full_subset_is_the_mmd_of_the_sets():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 2)), rng.normal(1.0, 1.0, size=(8, 2))
    r = im.kid_from_features(x, y, subsets=1, subset_size=8)
    assert r["kernel_inception_distance_mean"] == pytest.approx(im.mmd2_unbiased(x, y), rel=1e-12)
    assert r["kernel_inception_distance_std"] == 0.0


# ---------------------------------------------------------------- IS

def test_inception_score_closed_forms():
    c = 4
    onehot = np.eye(c)[np.tile(np.arange(c), 10)]                     # each split of 8 holds every class twice
    r = im.inception_score(onehot, splits=5, shuffle=False)
    assert r["inception_score_mean"] == pytest.approx(c, rel=1e-12) and r["inception_score_std"] < 1e-12
    same = np.tile([0.2, 0.3, 0.5], (30, 1))                          # p(y|x) = p(y): KL = 0, IS = 1
    assert im.inception_score(same, splits=3)["inception_score_mean"] == pytest.approx(1.0, abs=1e-12)


def test_inception_score_brute_force_and_logits_route():
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 3, size=(23, 6))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    perm = np.random.RandomState(2020).permutation(23)
    scores = []
    for i in range(4):
        chunk = p[perm][i * 23 // 4:(i + 1) * 23 // 4]
        q = chunk.mean(0)
        scores.append(math.exp(np.mean([sum(pi * math.log(pi / qi) for pi, qi in zip(row, q)) for row in chunk])))
    for r in (im.inception_score(p, splits=4), im.inception_score(logits=logits, splits=4)):
        assert r["inception_score_mean"] == pytest.approx(np.mean(scores), rel=1e-12)
        assert r["inception_score_std"] == pytest.approx(np.std(scores), rel=1e-9)


def test_inception_score_zero_probabilities_are_zero_terms():
    p = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] * 5)
    r = im.inception_score(p, splits=1)
    assert r["inception_score_mean"] == pytest.approx(2.0, rel=1e-12)


# ---------------------------------------------------------------- precision/recall, density/coverage

def _brute_prdc(real, fake, k_pr, k_dc):
    def radii(x, k):
        return [sorted(np.linalg.norm(x - x[i], axis=1))[k] for i in range(len(x))]  # [0] is the point itself

    def dist(a, b):
        return np.linalg.norm(a - b)

    rr, rf, rr_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    precision = np.mean([any(dist(f, r) <= rr[i] for i, r in enumerate(real)) for f in fake])
    recall = np.mean([any(dist(r, f) <= rf[j] for j, f in enumerate(fake)) for r in real])
    density = sum(dist(f, r) <= rr_dc[i] for f in fake for i, r in enumerate(real)) / (k_dc * len(fake))
    coverage = np.mean([min(dist(r, f) for f in fake) <= rr_dc[i] for i, r in enumerate(real)])
    return precision, recall, density, coverage


@pytest.mark.parametrize("block_size", [1, 7, 4096])
def test_precision_recall_density_coverage_brute_force(block_size):
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(41, 3)), rng.normal(0.6, 1.3, size=(29, 3))
    p, r, dn, cv = _brute_prdc(real, fake, 3, 5)
    pr = im.precision_recall(real, fake, k=3, block_size=block_size)
    dc = im.density_coverage(real, fake, k=5, block_size=block_size)
    assert (pr["precision"], pr["recall"]) == pytest.approx((p, r), abs=1e-15)
    assert (dc["density"], dc["coverage"]) == pytest.approx((dn, cv), abs=1e-15)
    assert pr["f_score"] == pytest.approx(2 * p * r / (p + r), rel=1e-12)
    assert 0 < p < 1 and 0 < r < 1 and 0 < cv < 1                     # the test exercises both outcomes


def test_ball_test_is_closed_and_sets_cover_themselves():
    # Integer grid: many exact distance ties; a fake exactly on a real ball's boundary is inside (≤).
    real = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    fake = np.array([[0.0, 1.0]])                                      # NND_1 of (0,0) is 1: on the boundary
    assert im.precision_recall(real, np.vstack([fake] * 2), k=1)["precision"] == 1.0
    x = np.random.default_rng(0).normal(size=(30, 4))
    pr, dc = im.precision_recall(x, x), im.density_coverage(x, x)
    assert pr["precision"] == pr["recall"] == dc["coverage"] == 1.0


def test_density_of_a_set_against_itself_counts_k_plus_one_balls_on_average():
    # Σ_j #{i : x_j ∈ B(x_i, NND_k(x_i))} = Σ_i #{j : ‖x_j − x_i‖ ≤ NND_k(x_i)} = N (k + 1) without ties
    x = np.random.default_rng(1).normal(size=(50, 3))
    assert im.density_coverage(x, x, k=5)["density"] == pytest.approx(6 / 5, rel=1e-12)


def test_prdc_torch_float32_input():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 3, generator=g), torch.randn(30, 3, generator=g)
    a = im.precision_recall(real, fake)
    b = im.precision_recall(real.double().numpy(), fake.double().numpy())
    assert a == pytest.approx(b)


@pytest.mark.cuda
def test_prdc_on_cuda_equals_cpu():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(300, 8, generator=g, dtype=torch.float64), torch.randn(200, 8, generator=g,
                                                                                       dtype=torch.float64)
    assert im.density_coverage(real.cuda(), fake.cuda()) == pytest.approx(im.density_coverage(real, fake))


# ---------------------------------------------------------------- peers (skip unless installed)

def _feats(seed=0, n=120, d=16):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(0.2, 1.1, size=(n, d))


def test_equal_to_torch_fidelity_on_the_same_features():
    tf_kid = _peer("torch_fidelity.metric_kid")
    tf_fid = _peer("torch_fidelity.metric_fid")
    tf_isc = _peer("torch_fidelity.metric_isc")
    tf_prc = _peer("torch_fidelity.metric_prc")
    a, b = _feats()
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    kid = tf_kid.kid_features_to_metric(ta, tb, kid_subsets=10, kid_subset_size=50, kid_degree=3, kid_gamma=None,
                                        kid_coef0=1, rng_seed=2020, verbose=False)
    ours = im.kid_from_features(a, b, subsets=10, subset_size=50, seed=2020)
    for key in kid:
        assert ours[key] == pytest.approx(kid[key], rel=1e-6)
    stats = [tf_fid.fid_features_to_statistics(t) for t in (ta, tb)]
    fid = tf_fid.fid_statistics_to_metric(*stats, verbose=False)[im.KEY_FID]
    assert im.fid_from_features(a, b) == pytest.approx(fid, rel=1e-6)
    isc = tf_isc.isc_features_to_metric(ta, splits=10, shuffle=True, rng_seed=2020)
    ours = im.inception_score(logits=a, splits=10)
    for key in isc:
        assert ours[key] == pytest.approx(isc[key], rel=1e-6)
    prc = tf_prc.prc_features_to_metric(ta, tb, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False,
                                        verbose=False)
    ours = im.precision_recall(a, b, k=3)
    for key in prc:
        assert ours[key] == pytest.approx(prc[key], rel=1e-6)


def test_equal_to_torchmetrics_kid_with_one_full_subset():
    tm = _peer("torchmetrics.image.kid")
    a, b = _feats(1)
    # one subset of every sample: independent of how either library draws subsets
    m = tm.KernelInceptionDistance(feature=torch.nn.Identity(), subsets=1, subset_size=len(a), normalize=False)
    m.update(torch.from_numpy(a), real=True)
    m.update(torch.from_numpy(b), real=False)
    mean, _ = m.compute()
    assert im.kid_from_features(b, a, subsets=1, subset_size=len(a))["kernel_inception_distance_mean"] == \
        pytest.approx(float(mean), rel=1e-6)


def test_equal_to_prdc_away_from_ties():
    prdc = _peer("prdc")
    a, b = _feats(2)
    ref = prdc.compute_prdc(real_features=a, fake_features=b, nearest_k=5)
    ours = {**im.precision_recall(a, b, k=5), **im.density_coverage(a, b, k=5)}
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-6)


def test_equal_to_pytorch_fid_when_n_gt_d():
    pf = _peer("pytorch_fid.fid_score")
    a, b = _feats(3, n=300, d=8)
    ref = pf.calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert im.fid_from_features(a, b) == pytest.approx(ref, rel=1e-6)
