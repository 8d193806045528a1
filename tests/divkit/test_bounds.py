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
    "js_shifted": B.js_shifted,
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
    assert B.js(s) == pytest.approx(ref_nwj(s), rel=rtol)            # the papers' JS estimator: NWJ(S)
    assert B.js_shifted(s) == pytest.approx(ref_nwj(s + 1.0), rel=rtol)
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
    assert torch.allclose(_grad(B.js_shifted, s), g_ref, rtol=1e-12, atol=1e-14)
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


@pytest.mark.parametrize("name", dk.names())   # every registered divergence: a new entry is tested at once
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
    with pytest.raises(ValueError, match=r"M >= K"):
        B.dv(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., K, K\)"):
        B.interpolated(np.zeros((3, 4)))
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
    """NWJ's partition term is one autograd node with a hand-written backward: check it against finite
    differences (first and second order); below overflow the off-diagonal gradient is −e^{S−1}/(K(K−1)) exactly,
    beyond it the tangent's −e^C·softmax (finite, non-zero)."""
    t = torch.tensor(np.stack([_rand_scores(seed=i)[:6, :6] for i in range(2)]), requires_grad=True)
    assert torch.autograd.gradcheck(B.nwj, (t,))
    assert torch.autograd.gradgradcheck(B.nwj, (t,))
    r = torch.tensor(_rand_scores(seed=3)[:4, :6], requires_grad=True)     # rectangular K×M too
    assert torch.autograd.gradcheck(B.nwj, (r,))
    k = 4
    s = torch.zeros(k, k, dtype=torch.float32)
    s[0, 1] = 80.0                        # in the last 20 nats below float32 overflow: exact, no tangent
    s.requires_grad_()
    B.nwj(s).backward()
    assert s.grad[0, 1].item() == pytest.approx(-math.exp(79.0) / (k * (k - 1)), rel=1e-6)
    assert s.grad[1, 0].item() == pytest.approx(-math.exp(-1.0) / (k * (k - 1)), rel=1e-6)
    assert torch.allclose(s.grad.diagonal(), torch.full((k,), 1.0 / k))
    s = torch.zeros(k, k, dtype=torch.float32)
    s[0, 1] = 200.0                       # beyond overflow: value saturated, gradient the tangent's, finite
    s.requires_grad_()
    v = B.nwj(s)
    v.backward()
    assert v.item() == -torch.finfo(torch.float32).max
    assert torch.isfinite(s.grad).all()
    assert s.grad[0, 1].item() == pytest.approx(-torch.finfo(torch.float32).max, rel=1e-5)   # −e^C · softmax ≈ −e^C
    assert s.grad[1, 0].item() <= 0       # −e^C·e^{−1−lse}: underflows to −0 in float32 here


def _mp_nwj(s, shift=0.0):
    """NWJ(S + shift) of a square matrix in mpmath at 50 digits (the exact value, as an mpf)."""
    import mpmath
    with mpmath.workdps(50):  # not mp.dps = 50: that leaked into later files (test_closed_form's refs need 700)
        k = len(s)
        diag = mpmath.fsum(mpmath.mpf(float(s[i, i])) + shift for i in range(k)) / k
        part = mpmath.fsum(mpmath.exp(mpmath.mpf(float(s[i, j])) + shift - 1)
                           for i in range(k) for j in range(k) if i != j)
        return diag - part / (k * (k - 1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nwj_family_exact_in_the_window_below_overflow(dtype):
    """issue 11 item 10: nwj, js, js_shifted, tuba exact (mpmath, 50 digits) up to the last representable value,
    float32 and float64. Tolerance: float32 4 ulps (the partition term is formed in float64 and rounded once,
    then one subtraction); float64 1e-12 relative, issue 11's floor: exp's condition number at L ≈ 700 is 700,
    so forming L = logsumexp − log n in float64 costs up to ~700·eps ≈ 1.6e-13 (measured 5.7e-15 at 700)."""
    import mpmath
    fmax = torch.finfo(dtype).max
    log_max = math.log(fmax)
    rtol = 4 * torch.finfo(dtype).eps if dtype == torch.float32 else 1e-12
    k = 8
    rng = np.random.default_rng(0)
    # the reproducer, then peaks spread over the 20 nats below overflow (and a few in the middle)
    peaks = [80.0] if dtype == torch.float32 else [700.0]
    peaks += list(log_max + 1.0 + np.log(k * (k - 1)) - rng.uniform(0.05, 22.0, 12))
    for peak in peaks:
        s = rng.normal(size=(k, k))
        s[0, 1] = peak
        s[3, 2] = peak - rng.uniform(0, 3)
        t = torch.tensor(s, dtype=dtype)
        s = t.double().numpy()                                   # the exact dtype inputs
        for name, fn, shift in [("nwj", B.nwj, 0.0), ("js", B.js, 0.0), ("js_shifted", B.js_shifted, 1.0),
                                ("tuba", lambda x: B.tuba(x, 0.0), 1.0)]:
            exact = _mp_nwj(s, shift)
            got = fn(t)
            assert got.dtype == dtype
            if abs(exact) <= fmax:
                assert float(got) == pytest.approx(float(exact), rel=rtol), (name, peak)
            else:                                                # not representable: saturated, finite
                assert float(got) == -fmax, (name, peak, float(exact))
    # the reproducer in numbers: float32 8×8 zeros with S[0, 1] = 80 is −e^79/56 = −3.64e32
    s = torch.zeros(8, 8, dtype=torch.float32)
    s[0, 1] = 80.0
    if dtype == torch.float32:
        assert float(B.nwj(s)) == pytest.approx(-math.exp(79) / 56, rel=1e-6)
    del mpmath


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(0, 4), st.floats(-30.0, 30.0), st.floats(0.0, 800.0),
       st.sampled_from([torch.float32, torch.float64]), st.integers(0, 2**31 - 1))
def test_nwj_against_mpmath_over_wide_ranges(k, extra_cols, loc, spread, dtype, seed):
    """Random scores (normal, spread up to 800 around loc; rectangular K×M as well) against mpmath:
    exact where representable, saturated at −finfo.max otherwise; never NaN or −inf."""
    import mpmath
    m = k + extra_cols
    rng = np.random.default_rng(seed)
    t = torch.tensor(loc + spread * rng.uniform(-1, 1, (k, m)), dtype=dtype)
    s = t.double().numpy()
    with mpmath.workdps(50):  # scoped: a global mp.dps = 50 leaked into test_closed_form (needs 700)
        diag = mpmath.fsum(mpmath.mpf(float(s[i, i])) for i in range(k)) / k
        part = mpmath.fsum(mpmath.exp(mpmath.mpf(float(s[i, j])) - 1) for i in range(k) for j in range(m) if i != j)
        exact = diag - part / (k * m - k)
        part_mean = part / (k * m - k)
    got = float(B.nwj(t))
    fmax = torch.finfo(dtype).max
    if abs(exact) <= fmax * (1 - 1e-6):
        # relative to the largest term (the diagonal mean itself carries its own rounding): float32 8 ulps
        # (float64 internally, rounded once); float64 1e-12 (exp's condition number |L| ≤ 710, see above)
        scale = max(abs(float(diag)), float(part_mean), 1e-300)
        tol = 8 * torch.finfo(dtype).eps if dtype == torch.float32 else 1e-12
        assert abs(got - float(exact)) <= tol * scale, (got, float(exact))
    else:
        assert got == -fmax


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_infinite_scores_give_the_limit_never_nan(dtype):
    """±inf scores: a +inf negative makes every bound −inf (the partition term is infinite); a −inf joint score
    too; −inf negatives drop out (e^{−inf} = 0). Never NaN (issue 11: infonce/js/smile returned NaN)."""
    inf = math.inf
    k = 4
    base = torch.tensor(_rand_scores(k=k, seed=9), dtype=dtype)
    cases = []
    s = base.clone(); s[0, 1] = inf; cases.append(("posinf negative", s, -inf))
    s = base.clone(); s[2, 2] = -inf; cases.append(("neginf joint", s, -inf))
    s = base.clone(); s[0, 0] = inf; s[0, 1] = inf; cases.append(("inf - inf", s, -inf))
    s = base.clone(); s[:, :] = -inf; cases.append(("all -inf", s, -inf))
    for what, s, want in cases:
        for name, fn in SCORE_FNS.items():
            if name == "smile" and what in ("posinf negative", "inf - inf"):
                continue                                   # clipped: finite, checked below
            v = fn(s)
            assert not torch.isnan(v), (what, name)
            assert float(v) == want, (what, name, float(v))
    s = base.clone(); s[0, 1] = inf
    assert torch.isfinite(B.smile(s, 5.0)) and float(B.smile(s, None)) == -inf
    # −inf negatives drop out exactly
    s = base.clone(); s[1, 3] = -inf
    off = [(i, j) for i in range(k) for j in range(k) if i != j and (i, j) != (1, 3)]
    part = sum(math.exp(float(base[i, j])) for i, j in off)
    dv_exact = float(base.diagonal().double().mean()) - math.log(part / (k * (k - 1)))
    assert float(B.dv(s)) == pytest.approx(dv_exact, rel=1e-5)
    # a lone +inf joint score: DV, NWJ +inf; its InfoNCE row term → 0 (the limit)
    s = base.clone(); s[1, 1] = inf
    assert float(B.dv(s)) == inf and float(B.nwj(s)) == inf
    rows = [0.0 if i == 1 else float(base[i, i]) - math.log(sum(math.exp(float(base[i, j])) for j in range(k)))
            for i in range(k)]
    assert float(B.infonce(s)) == pytest.approx(np.mean(rows) + math.log(k), rel=1e-5)
    nan = base.clone(); nan[0, 1] = math.nan
    assert torch.isnan(B.dv(nan))                          # NaN in, NaN out: never invented, never hidden


def test_smile_clip_must_be_positive():
    s = _rand_scores()
    for bad in (-1.0, 0.0, math.nan):
        with pytest.raises(ValueError, match="clip"):
            B.smile(s, clip=bad)
    with pytest.raises(TypeError, match="clip"):
        B.smile(s, clip="5")
    assert B.smile(s, clip=math.inf) == pytest.approx(float(B.smile(s, None)), rel=1e-12)


# ---- K×M score matrices and joint masks (issue 17 item 4) -----------------------------------------------

def _ref_rect(s, mask):
    """Brute force over a boolean layout: joint = mask True, negatives = mask False (loops, float64)."""
    pos = [s[i, j] for i in range(s.shape[0]) for j in range(s.shape[1]) if mask[i, j]]
    neg = [s[i, j] for i in range(s.shape[0]) for j in range(s.shape[1]) if not mask[i, j]]
    sp = lambda x: np.logaddexp(0.0, x)
    out = dict(dv=np.mean(pos) - math.log(np.mean(np.exp(neg))),
               nwj=np.mean(pos) - np.mean(np.exp(np.array(neg) - 1.0)),
               js_fgan=np.mean(-sp(-np.array(pos))) - np.mean(sp(np.array(neg))),
               smile=np.mean(pos) - math.log(np.mean(np.exp(np.clip(neg, -1.5, 1.5)))))
    rows = [sum(s[i, j] for j in range(s.shape[1]) if mask[i, j]) - math.log(np.sum(np.exp(s[i])))
            for i in range(s.shape[0])]
    out["infonce"] = np.mean(rows) + math.log(s.shape[1])
    return out


@pytest.mark.parametrize("k,m", [(3, 3), (4, 9), (5, 64), (2, 7)])
def test_rectangular_scores_match_brute_force(k, m):
    s = np.random.default_rng(k * m).normal(0, 2, (k, m))
    ref = _ref_rect(s, np.eye(k, m, dtype=bool))
    rtol = 1e-10
    assert B.dv(s) == pytest.approx(ref["dv"], rel=rtol)
    assert B.nwj(s) == pytest.approx(ref["nwj"], rel=rtol)
    assert B.js(s) == pytest.approx(ref["nwj"], rel=rtol)
    assert B.smile(s, 1.5) == pytest.approx(ref["smile"], rel=rtol)
    assert B.infonce(s) == pytest.approx(ref["infonce"], rel=rtol)
    assert float(B._js_fgan_torch(torch.tensor(s))) == pytest.approx(ref["js_fgan"], rel=rtol)
    b = np.random.default_rng(1).normal(size=m)
    shifted = s - b[None, :]
    assert B.tuba(s, b) == pytest.approx(1 + _ref_rect(shifted + 1, np.eye(k, m, dtype=bool))["nwj"] - 1, rel=rtol)


def test_joint_mask_matches_brute_force_and_tfp_convention():
    """A mask with the positive anywhere in the row (TFP's ``joint_sample_mask``), and several joint pairs."""
    rng = np.random.default_rng(3)
    k, m = 4, 10
    s = rng.normal(0, 2, (k, m))
    mask = np.zeros((k, m), dtype=bool)
    mask[np.arange(k), rng.integers(0, m, k)] = True          # one positive per row, at a random column
    ref = _ref_rect(s, mask)
    for name in ("dv", "nwj", "infonce", "smile"):
        fn = (lambda x, joint_mask: B.smile(x, 1.5, joint_mask=joint_mask)) if name == "smile" else getattr(B, name)
        assert fn(s, joint_mask=mask) == pytest.approx(ref[name], rel=1e-10), name
        assert fn(torch.tensor(s), joint_mask=torch.tensor(mask)).item() == pytest.approx(ref[name], rel=1e-10)
    # the default layout is the mask eye(K, M)
    assert B.nwj(s, joint_mask=np.eye(k, m, dtype=bool)) == pytest.approx(float(B.nwj(s)), rel=1e-14)
    # several joint pairs per row: fine for every bound but InfoNCE
    two = mask.copy()
    two[0, (np.argmax(mask[0]) + 1) % m] = True
    assert B.dv(s, joint_mask=two) == pytest.approx(_ref_rect(s, two)["dv"], rel=1e-10)
    with pytest.raises(ValueError, match="exactly one True"):
        B.infonce(s, joint_mask=two)
    with pytest.raises(TypeError, match="boolean"):
        B.nwj(s, joint_mask=mask.astype(int))
    with pytest.raises(ValueError, match="joint_mask must have shape"):
        B.nwj(s, joint_mask=mask[:, :5])
    with pytest.raises(ValueError, match="at least one True"):
        B.dv(s, joint_mask=np.zeros((k, m), dtype=bool))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 60), st.floats(0.1, 300.0), st.integers(0, 2**31 - 1))
def test_infonce_cap_is_log_m(k, extra, spread, seed):
    """InfoNCE ≤ log M for every K×M input (M − 1 negatives per row), as rounded in float32 and float64; the cap
    is reached when the positives dominate their rows."""
    m = k + extra
    s = np.random.default_rng(seed).uniform(-spread, spread, (k, m))
    for dt in (np.float32, np.float64):
        v = B.infonce(s.astype(dt))
        assert v <= np.asarray(math.log(m), dtype=dt)
    dominant = np.full((k, m), -50.0)
    dominant[np.arange(k), np.arange(k)] = 50.0
    assert B.infonce(dominant) == pytest.approx(math.log(m), abs=1e-12)
