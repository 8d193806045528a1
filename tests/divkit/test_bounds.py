"""divkit.bounds against brute-force float64 formulas, stop-gradient semantics, extremes, invariances.

Tolerance policy: deterministic float64 comparisons at 1e-10 relative (sums of ≤ 64² terms: ~1e-13 error);
float32 extremes only checked for finiteness and the hard inequality InfoNCE ≤ log K.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import divkit as dk
from divkit import bounds as B

SCORE_FNS = {
    "dv": B.dv,
    "nwj": B.nwj,
    "infonce": B.infonce,
    "js": B.js,
    "tuba": lambda s: B.tuba(s, log_baseline=0.3),
    "interpolated": lambda s: B.interpolated(s, log_baseline=0.3, alpha=0.5),
    "smile": lambda s: B.smile(s, clip=5.0),
}


def _rand_scores(k=6, seed=0, scale=2.0):
    return np.random.default_rng(seed).normal(0.0, scale, size=(k, k))


# ---- brute-force references (loops, float64) ----------------------------------------------------

def ref_dv(s):
    k = len(s)
    off = [s[i, j] for i in range(k) for j in range(k) if i != j]
    return np.mean(np.diag(s)) - math.log(np.mean(np.exp(off)))


def ref_nwj(s):
    k = len(s)
    off = [s[i, j] for i in range(k) for j in range(k) if i != j]
    return np.mean(np.diag(s)) - np.mean(np.exp(np.array(off) - 1.0))


def ref_infonce(s):
    k = len(s)
    return np.mean([s[i, i] - math.log(np.sum(np.exp(s[i]))) for i in range(k)]) + math.log(k)


def ref_tuba(s, b):
    k = len(s)
    b = np.broadcast_to(b, (k,))
    joint = np.mean([s[i, i] - b[i] for i in range(k)])
    marg = np.mean([math.exp(s[i, j] - b[j]) for i in range(k) for j in range(k) if i != j])
    return 1 + joint - marg


def ref_interpolated(s, b, alpha):
    # Poole et al. eq. 12 in our convention s[i, j] = T(x_i, y_j)
    k = len(s)
    b = np.broadcast_to(b, (k,))

    def m(a, leave):  # baseline for y_a from x_{-leave}
        loo = np.mean([math.exp(s[l, a]) for l in range(k) if l != leave])
        return alpha * loo + (1 - alpha) * math.exp(b[a])

    joint = np.mean([s[a, a] - math.log(m(a, c)) for a in range(k) for c in range(k) if a != c])
    marg = np.mean([math.exp(s[c, a]) / m(a, a) for a in range(k) for c in range(k) if a != c])
    return 1 + joint - marg


def ref_js_fgan(s):
    k = len(s)
    sp = lambda x: np.logaddexp(0.0, x)
    off = [s[i, j] for i in range(k) for j in range(k) if i != j]
    return np.mean(-sp(-np.diag(s))) - np.mean(sp(np.array(off)))


def ref_smile_value(s, tau):
    k = len(s)
    off = [np.clip(s[i, j], -tau, tau) for i in range(k) for j in range(k) if i != j]
    return np.mean(np.diag(s)) - math.log(np.mean(np.exp(off)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_match_brute_force(seed):
    s = _rand_scores(seed=seed)
    rtol = 1e-10
    assert B.dv(s) == pytest.approx(ref_dv(s), rel=rtol)
    assert B.nwj(s) == pytest.approx(ref_nwj(s), rel=rtol)
    assert B.infonce(s) == pytest.approx(ref_infonce(s), rel=rtol)
    assert B.js(s) == pytest.approx(ref_nwj(s + 1.0), rel=rtol)
    b = np.random.default_rng(seed + 10).normal(size=len(s))
    assert B.tuba(s, b) == pytest.approx(ref_tuba(s, b), rel=rtol)
    assert B.tuba(s, 1.0) == pytest.approx(ref_nwj(s), rel=rtol)  # b = 1 is NWJ
    for alpha in (0.0, 0.01, 0.5, 1.0):
        assert B.interpolated(s, b, alpha) == pytest.approx(ref_interpolated(s, b, alpha), rel=rtol)
    for tau in (0.5, 5.0):
        assert B.smile(s, tau) == pytest.approx(ref_smile_value(s, tau), rel=rtol)
    assert B.smile(s, None) == pytest.approx(ref_dv(s), rel=rtol)


def test_numpy_in_numpy_out_torch_in_torch_out():
    s = _rand_scores()
    for name, fn in SCORE_FNS.items():
        v = fn(s)
        assert isinstance(v, np.ndarray) and v.shape == () and v.dtype == np.float64, name
        t = fn(torch.tensor(s, dtype=torch.float32))
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (), name
        assert float(t) == pytest.approx(float(v), rel=1e-4, abs=1e-4), name  # float32 rounding


def test_batched_score_matrices():
    s = np.stack([_rand_scores(seed=i) for i in range(3)])
    for name, fn in SCORE_FNS.items():
        out = fn(s)
        assert out.shape == (3,), name
        for i in range(3):
            assert out[i] == pytest.approx(float(fn(s[i])), rel=1e-12), name


def _grad(fn, s):
    t = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    fn(t).backward()
    return t.grad


def test_js_and_smile_follow_the_js_gradient():
    s = _rand_scores(seed=3)
    g_ref = _grad(lambda t: B._js_fgan_torch(t), s)
    assert torch.allclose(_grad(B.js, s), g_ref, rtol=1e-12, atol=1e-14)
    assert torch.allclose(_grad(lambda t: B.smile(t, 5.0), s), g_ref, rtol=1e-12, atol=1e-14)
    # and the JS f-GAN value is the "gan" f-GAN bound
    assert float(B._js_fgan_torch(torch.tensor(s))) == pytest.approx(ref_js_fgan(s), rel=1e-12)


def test_plain_bounds_follow_their_own_gradient():
    s = _rand_scores(seed=4)
    t = torch.tensor(s, requires_grad=True)
    # DV gradient: +1/K on the diagonal, -softmax over the off-diagonal
    B.dv(t).backward()
    k = len(s)
    off = ~np.eye(k, dtype=bool)
    w = np.where(off, np.exp(s), 0.0)
    expected = np.eye(k) / k - w / w.sum()
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_nwj_is_the_kl_fgan_bound():
    s = _rand_scores(seed=5)
    k = len(s)
    off = s[~np.eye(k, dtype=bool)]
    assert B.nwj(s) == pytest.approx(float(B.fdiv_lower_bound("kl", np.diag(s), off)), rel=1e-12)


@pytest.mark.parametrize("name", list(SCORE_FNS))
@pytest.mark.parametrize("scale", [1e3, -1e3, "mixed"])
def test_finite_values_and_gradients_float32_extremes(name, scale):
    k = 8
    if scale == "mixed":
        s = np.where(np.random.default_rng(0).random((k, k)) < 0.5, 1e3, -1e3)
    else:
        s = np.full((k, k), scale) + np.random.default_rng(1).normal(size=(k, k))
    t = torch.tensor(s, dtype=torch.float32, requires_grad=True)
    v = SCORE_FNS[name](t)
    v.backward()
    assert torch.isfinite(v), (name, scale, v)
    assert torch.isfinite(t.grad).all(), (name, scale)


@settings(max_examples=60)
@given(arrays(np.float32, st.tuples(st.integers(2, 12)).map(lambda t: (t[0], t[0])),
              elements=st.floats(-1e3, 1e3, width=32)))
def test_infonce_never_exceeds_log_k(s):
    k = s.shape[0]
    v = B.infonce(torch.from_numpy(s))
    assert torch.isfinite(v)
    assert v <= torch.tensor(math.log(k), dtype=torch.float32)  # ≤ log K as rounded in float32
    assert B.infonce(s.astype(np.float64)) <= math.log(k)


def test_invariances():
    rng = np.random.default_rng(7)
    s = _rand_scores(seed=7)
    k = len(s)
    c_row = rng.normal(size=(k, 1)) * 3
    c_col = rng.normal(size=(1, k)) * 3
    b = rng.normal(size=k)
    assert B.dv(s + 4.2) == pytest.approx(float(B.dv(s)), rel=1e-12)
    assert B.infonce(s + c_row) == pytest.approx(float(B.infonce(s)), rel=1e-12)
    assert B.infonce(s + 4.2) == pytest.approx(float(B.infonce(s)), rel=1e-12)
    assert B.tuba(s + c_col, b + c_col[0]) == pytest.approx(float(B.tuba(s, b)), rel=1e-12)
    assert B.interpolated(s + c_col, b, 1.0) == pytest.approx(float(B.interpolated(s, b, 1.0)), rel=1e-12)
    assert B.interpolated(s, b, 0.0) == pytest.approx(float(B.tuba(s, b)), rel=1e-12)
    # not invariant (guards against a test that cannot fail): NWJ changes under a shift
    assert abs(float(B.nwj(s + 1.0)) - float(B.nwj(s))) > 1e-3


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "pearson", "squared_hellinger", "gan", "js", "tv", "neyman"])
def test_fdiv_lower_bound_matches_terms(name):
    rng = np.random.default_rng(0)
    vp, vq = rng.normal(size=50), rng.normal(size=70)
    d = dk.get(name)
    expected = np.mean(d.p_term(vp)) - np.mean(d.q_term(vq))
    assert dk.bounds.fdiv_lower_bound(name, vp, vq) == pytest.approx(expected, rel=1e-12)
    assert dk.bounds.fdiv_lower_bound(d, vp, vq) == pytest.approx(expected, rel=1e-12)
    tp = torch.tensor(vp, dtype=torch.float32, requires_grad=True)
    out = dk.bounds.fdiv_lower_bound(d, tp, torch.tensor(vq, dtype=torch.float32))
    out.backward()
    assert out.dtype == torch.float32 and torch.isfinite(tp.grad).all()
    big = torch.full((4,), 1e3, dtype=torch.float32, requires_grad=True)
    v = dk.bounds.fdiv_lower_bound(d, big, big)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(big.grad).all(), name


def test_fdiv_lower_bound_tight_at_optimal_critic():
    # P = N(1, 1), Q = N(0, 1): log p/q = x - 1/2, KL = 1/2; f'(p/q) for KL = 1 + log r, v = that
    rng = np.random.default_rng(0)
    n = 400_000
    xp, xq = rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)
    v = lambda x: 1.0 + (x - 0.5)
    est = dk.bounds.fdiv_lower_bound("kl", v(xp), v(xq))
    # MC std ≈ sqrt(Var(x)/n + Var(e^{x-1/2})/n) ≈ sqrt((1 + (e - 1))/n) ≈ 0.0026: 5σ band
    assert est == pytest.approx(0.5, abs=0.013)


def test_dv_lower_bound():
    rng = np.random.default_rng(1)
    tp, tq = rng.normal(size=30), rng.normal(size=40) * 3
    assert dk.bounds.dv_lower_bound(tp, tq) == pytest.approx(tp.mean() - math.log(np.mean(np.exp(tq))), rel=1e-12)
    assert dk.bounds.dv_lower_bound(tp + 2.0, tq + 2.0) == pytest.approx(float(dk.bounds.dv_lower_bound(tp, tq)), rel=1e-12)
    t = torch.tensor([1e3, -1e3], dtype=torch.float32, requires_grad=True)
    v = dk.bounds.dv_lower_bound(t, t * 0.5)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(t.grad).all()


def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"\(\.\.\., K, K\)"):
        B.dv(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="K >= 2"):
        B.infonce(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="alpha"):
        B.interpolated(np.zeros((3, 3)), alpha=1.5)
    with pytest.raises(ValueError, match="log_baseline"):
        B.tuba(np.zeros((3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="kl"):
        B.fdiv_lower_bound("not_a_divergence", np.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="divergence"):
        B.fdiv_lower_bound(3, np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="at least one"):
        B.dv_lower_bound(np.zeros(0), np.zeros(2))


def test_js_fgan_term_equals_the_gan_fdiv_bound():
    s = _rand_scores(seed=8, scale=10.0)
    k = len(s)
    off = s[~np.eye(k, dtype=bool)]
    assert float(B._js_fgan_torch(torch.tensor(s))) == pytest.approx(
        float(B.fdiv_lower_bound("gan", np.diag(s), off)), rel=1e-12)


def test_nwj_hand_written_gradient():
    """NWJ is one autograd node with a hand-written backward: check it against finite differences (first and
    second order), and beyond the tangent cut c the off-diagonal gradient must be −e^c/(K(K−1)), not e^{S−1}."""
    t = torch.tensor(np.stack([_rand_scores(seed=i)[:6, :6] for i in range(2)]), requires_grad=True)
    assert torch.autograd.gradcheck(B.nwj, (t,))
    assert torch.autograd.gradgradcheck(B.nwj, (t,))
    k = 4
    s = torch.zeros(k, k, dtype=torch.float32)
    s[0, 1] = 200.0                       # far beyond c = log(finfo(float32).max) − 20 ≈ 68.7
    s.requires_grad_()
    B.nwj(s).backward()
    cut = math.log(torch.finfo(torch.float32).max) - 20.0
    assert s.grad[0, 1].item() == pytest.approx(-math.exp(cut) / (k * (k - 1)), rel=1e-5)
    assert s.grad[1, 0].item() == pytest.approx(-math.exp(-1.0) / (k * (k - 1)), rel=1e-6)
    assert torch.allclose(s.grad.diagonal(), torch.full((k,), 1.0 / k))


def test_nwj_equals_the_kl_fgan_bound_beyond_the_tangent_cut():
    """`nwj` inlines kl.q_term's tangent continuation: it must agree with fdiv_lower_bound("kl") there too."""
    rng = np.random.default_rng(11)
    s = rng.normal(size=(5, 5)) * 3
    s[0, 1], s[2, 3] = 150.0, 800.0              # beyond c ≈ 68.7 in float32
    t = torch.tensor(s, dtype=torch.float32)
    off = t[~torch.eye(5, dtype=torch.bool)]
    ref = B.fdiv_lower_bound("kl", t.diagonal(), off)
    assert torch.isfinite(B.nwj(t))
    assert B.nwj(t).item() == pytest.approx(ref.item(), rel=1e-5)
