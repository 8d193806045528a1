"""Issue 11, the contract: wherever the true value is finite and representable, return it to a few ulps;
+inf only where it is infinite; never NaN, never a negative divergence, never −inf.

Every claim is checked against mpmath at 50 digits (`divkit.testing.mp`), over wide log-uniform ranges
(hypothesis) and at the issue's reproducers (named regression tests), float64 and float32, numpy and torch.

Tolerance policy (the bounds the docstrings state):
- float64: 1e-12 relative (the paths reach ~1e-15; the slack covers the exp of an exponent of size ~700,
  whose absolute error eps·700 ≈ 1.6e-13 becomes a relative error of the result);
- float32: 1e-5 relative, inputs representable in float32 (so the reference is computed at those inputs);
- subnormal results: relative accuracy is impossible below the smallest normal number (fewer significant
  bits), so the bound there is an absolute floor of the dtype's smallest normal (`tiny`).
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td
from hypothesis import given, settings
from hypothesis import strategies as st

import divkit as dk
from divkit.testing import mp as ref

ALPHAS = [-1.5, -0.5, 0.3, 0.5, 0.7, 2.0, 2.5, 3.0]
DIVS = [dk.get(n) for n in dk.names()] + [dk.alpha(a) for a in ALPHAS]
IDS = [d.name for d in DIVS]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
TINY = {np.float64: float(np.finfo(np.float64).tiny), np.float32: float(np.finfo(np.float32).tiny)}


def assert_close(got, want, dtype=np.float64, what=""):
    """The contract for one value: NaN never; inf iff the truth exceeds the dtype's max; else within the
    relative tolerance, with the absolute floor `tiny` for subnormal truths."""
    got = float(got)
    big = float(np.finfo(dtype).max)
    assert not math.isnan(got), f"{what}: NaN (truth {mp.nstr(want, 17)})"
    if want == mp.inf or abs(want) > mp.mpf(big):
        assert got == (math.inf if want > 0 else -math.inf), f"{what}: {got} but the truth {mp.nstr(want, 8)} overflows"
        return
    w = float(want)
    assert math.isfinite(got), f"{what}: {got}, truth {w!r} is representable"
    assert abs(got - w) <= RTOL[dtype] * abs(w) + TINY[dtype], f"{what}: got {got!r}, truth {w!r}"


def log_uniform(lo_exp, hi_exp):
    return st.floats(lo_exp, hi_exp).map(lambda e: 10.0 ** e)


def near_one(max_exp=-0.31):
    """u = 1 + x, x = ±10^e down to 1e-300 (the generators' cancellation zone)."""
    return st.tuples(st.floats(-300, max_exp), st.sampled_from([-1.0, 1.0])).map(lambda t: 1.0 + t[1] * 10.0 ** t[0])


# ------------------------------------------------------------------ generators f(u)
@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=80)
@given(u=st.one_of(log_uniform(-300, 300), near_one()))
def test_generator_exact_float64(d, u):
    want = ref.f(d, u)
    assert_close(d.f(np.float64(u)), want, np.float64, f"{d.name}.f({u!r})")
    assert_close(d.f(torch.tensor(u, dtype=torch.float64)), want, np.float64, f"{d.name}.f torch")


@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=40)
@given(u=st.one_of(log_uniform(-37, 37), near_one(-0.31)))
def test_generator_exact_float32(d, u):
    u32 = np.float32(u)
    want = ref.f(d, float(u32))
    assert_close(d.f(u32), want, np.float32, f"{d.name}.f({u32!r}) numpy f32")
    assert_close(d.f(torch.tensor(float(u32), dtype=torch.float32)), want, np.float32, f"{d.name}.f torch f32")


def test_alpha_generator_near_one_regression():
    # issue 11: alpha(0.3).f(1 + 2⁻³⁰) had huge relative error ((u^a − 1) − a(u − 1) cancels)
    u = 1.0 + 2.0 ** -30
    assert_close(dk.alpha(0.3).f(np.float64(u)), ref.f(dk.alpha(0.3), u))


def test_gan_generator_large_u_regression():
    # issue 11: gan.f(e^30) was 1.2e-3 off (u log u − (u+1) log1p(u) cancels); now u·f(1/u) (self-dual)
    u = math.exp(30.0)
    assert_close(dk.get("gan").f(np.float64(u)), ref.f(dk.get("gan"), u))


# ------------------------------------------------------------------ discrete terms q·f(p/q)
@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=80)
@given(p=log_uniform(-322, 0), q=log_uniform(-322, 0))
def test_integrand_exact_float64(d, p, q):
    want = ref.term(d, p, q)
    got = d.integrand(np.array([p]), np.array([q]))[0]
    assert_close(got, want, np.float64, f"{d.name} term p={p!r} q={q!r}")
    got_t = d.integrand(torch.tensor([p], dtype=torch.float64), torch.tensor([q], dtype=torch.float64))[0]
    assert_close(got_t, want, np.float64, f"{d.name} torch term")


@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=60)
@given(q=log_uniform(-300, 0), x=st.tuples(st.floats(-300, -0.31), st.sampled_from([-1.0, 1.0])))
def test_integrand_exact_near_p_equals_q(d, q, x):
    # p = q(1 + x) in float64: the log1p / series regime, where a rounded ratio p/q would lose everything
    p = q * (1.0 + x[1] * 10.0 ** x[0])
    if not 0 < p <= 1:
        return
    assert_close(d.integrand(np.array([p]), np.array([q]))[0], ref.term(d, p, q), np.float64,
                 f"{d.name} near term p={p!r} q={q!r}")


@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=40)
@given(p=log_uniform(-44, 0), q=log_uniform(-44, 0))
def test_integrand_exact_float32(d, p, q):
    p32, q32 = np.float32(p), np.float32(q)
    want = ref.term(d, float(p32), float(q32))
    assert_close(d.integrand(np.array([p32]), np.array([q32]))[0], want, np.float32, f"{d.name} f32 term")
    got_t = d.integrand(torch.tensor([float(p32)]), torch.tensor([float(q32)]))[0]
    assert got_t.dtype == torch.float32
    assert_close(got_t, want, np.float32, f"{d.name} torch f32 term")


EXTREMES = [0.0, 5e-324, 1e-320, 1e-300, 1e-200, 1e-10, 0.3, 0.5, 1 - 1e-16, 1.0]


@pytest.mark.parametrize("d", DIVS, ids=IDS)
def test_integrand_grid_of_extremes(d):
    # every pair of special values: NaN never, −inf never, the truth (or +inf exactly when it overflows)
    p, q = np.meshgrid(EXTREMES, EXTREMES)
    got = d.integrand(p.ravel(), q.ravel())
    for a, b, g in zip(p.ravel(), q.ravel(), got):
        assert_close(g, ref.term(d, a, b), np.float64, f"{d.name} term p={a!r} q={b!r}")


def test_integrand_gradients_finite_at_extremes():
    # down to 1e-100: every partial derivative (at most ~(p/q)² ≤ 1e200) is representable there; below,
    # e.g. ∂/∂p [q log(q/p)] = −q/p overflows truly
    grid = [1e-100, 1e-60, 1e-10, 0.3, 0.5, 1 - 1e-16, 1.0]
    pt = torch.tensor(grid, dtype=torch.float64, requires_grad=True)
    qt = torch.tensor(grid[::-1], dtype=torch.float64, requires_grad=True)
    for d in DIVS:
        pt.grad = qt.grad = None
        v = d.integrand(pt, qt)
        v[torch.isfinite(v)].sum().backward()
        assert torch.isfinite(pt.grad).all() and torch.isfinite(qt.grad).all(), d.name


# ------------------------------------------------------------------ probability vectors: the reproducers
def test_vectors_where_p_over_q_overflows_regression():
    # issue 11 item 1: [.5, .5] ‖ [1, 1e-320] gave kl inf, reverse_kl −inf, js/gan/neyman/alpha NaN, tv inf
    p, q = np.array([0.5, 0.5]), np.array([1.0, 1e-320])
    for d in DIVS:
        want = ref.discrete(p, q, d)
        assert_close(dk.divergence(p, q, d), want, np.float64, d.name)
        assert_close(dk.divergence(torch.tensor(p), torch.tensor(q), d), want, np.float64, d.name + " torch")
    assert float(dk.divergence(p, q, "kl")) == pytest.approx(367.7204732649271, rel=1e-14)
    assert float(dk.divergence(p, q, "squared_hellinger")) == pytest.approx(0.5857864376269049, rel=1e-14)


def test_categorical_float32_tiny_probability_regression():
    # issue 11 item 1: float32 q = [1e-40, 1] (subnormal) gave inf; truth 45.36
    p, q = td.Categorical(probs=torch.tensor([0.5, 0.5])), td.Categorical(probs=torch.tensor([1e-40, 1.0]))
    want = ref.discrete([0.5, 0.5], [float(np.float32(1e-40)), 1.0], dk.get("kl"))
    assert_close(dk.divergence(p, q, "kl"), want, np.float32)


def test_neyman_beyond_1e154_regression():
    # issue 11 item 7: [.3, .7] ‖ [1 − 1e-200, 1e-200] gave inf (p²/q overflowed); truth 2.3333
    p, q = np.array([0.3, 0.7]), np.array([1 - 1e-200, 1e-200])
    assert_close(dk.divergence(p, q, "neyman"), ref.discrete(p, q, dk.get("neyman")))


@pytest.mark.parametrize("d", DIVS, ids=IDS)
def test_near_identical_vectors_regression(d):
    # issue 11 item 8: p = [.3, .7], q = [.3 + 1e-7, .7 − 1e-7] gave KL 4e-4 relative error (rel_entr 2e-10).
    # KL / reverse KL / GAN (f'(1) ≠ 0): terms of size ~1e-7 cancel to ~1e-14, so the sum keeps an absolute
    # error ~eps·Σ|p − q| (the conditioning of Σ p log(p/q); rel_entr(...).sum() has the same), here ≤ 1e-22.
    # The others have f'(1) = 0: non-negative terms, so the relative bound holds.
    p, q = np.array([0.3, 0.7]), np.array([0.3 + 1e-7, 0.7 - 1e-7])
    want = ref.discrete(p, q, d)
    got = float(dk.divergence(p, q, d))
    if d.name in ("kl", "reverse_kl", "gan"):
        assert abs(got - float(want)) <= 4 * np.finfo(float).eps * float(np.abs(p - q).sum()) + 1e-12 * abs(float(want))
    else:
        assert_close(got, want, np.float64, d.name)


def test_vector_kl_matches_rel_entr_semantics():
    from scipy.special import rel_entr

    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(50), size=20)
    q = p + rng.normal(scale=1e-9, size=p.shape) * p
    q /= q.sum(-1, keepdims=True)
    p[0, :3] = 0.0  # 0·log 0 = 0
    p[0] /= p[0].sum()
    got = dk.divergence(p, q, "kl")
    want = np.array([float(ref.discrete(a, b, dk.get("kl"))) for a, b in zip(p, q)])
    scale = 4 * np.finfo(float).eps * np.abs(p - q).sum(-1)
    assert np.all(np.abs(got - want) <= scale + 1e-12 * np.abs(want))
    assert np.all(np.abs(got - want) <= np.abs(rel_entr(p, q).sum(-1) - want) + scale)


# ------------------------------------------------------------------ logits: log-space integrand
def test_categorical_logits_regression():
    # issue 11 item 6: logits [0, 0] ‖ [0, −800] gave inf (softmax underflowed); truth 399.307
    p, q = td.Categorical(logits=torch.tensor([0.0, 0.0])), td.Categorical(logits=torch.tensor([0.0, -800.0]))
    got = dk.divergence(p, q, "kl")
    with mp.workdps(50):
        lq = [-mp.log1p(mp.exp(-800)), -800 - mp.log1p(mp.exp(-800))]
        want = mp.fsum(mp.mpf(0.5) * (mp.log(0.5) - l) for l in lq)
    assert_close(got, want, np.float32)


def _bern_dps(l1, l2) -> int:
    """Digits for the textbook two-point sum: it cancels ~|l|/ln 10 digits in 1 − σ(l), and twice the digits
    of |l1 − l2| in the quadratic behaviour near p = q."""
    near = 0 if l1 == l2 else max(0, int(-2 * math.log10(abs(l1 - l2))))
    return 60 + int(abs(l1) + abs(l2)) + near


def _bern_ref(d, l1, l2):
    g = ref._generator(d)

    def val(a, b):
        p1, p0 = 1 / (1 + mp.exp(-a)), 1 / (1 + mp.exp(a))
        q1, q0 = 1 / (1 + mp.exp(-b)), 1 / (1 + mp.exp(b))
        return q1 * g(p1 / q1) + q0 * g(p0 / q0)
    return val


@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=30)
@given(l1=st.floats(-700, 700), l2=st.floats(-700, 700))
def test_bernoulli_logits_exact(d, l1, l2):
    p = td.Bernoulli(logits=torch.tensor(l1, dtype=torch.float64))
    q = td.Bernoulli(logits=torch.tensor(l2, dtype=torch.float64))
    got = float(dk.divergence(p, q, d))
    with mp.workdps(_bern_dps(l1, l2)):
        val = _bern_ref(d, l1, l2)
        a, b = mp.mpf(l1), mp.mpf(l2)
        want = val(a, b)
        if want > 1e308:
            assert got == math.inf
            return
        # log-space bound: log p = −softplus(−l) carries an absolute error ≈ eps·(|l| + 1), which moves the
        # result by |∂D/∂l|·eps·(|l| + 1) (mpmath derivative); the per-side terms, each ~|p − q| near p = q,
        # keep eps of their size, ≈ eps·Σ|p_i − q_i| absolute (the conditioning of the sum, as for vectors);
        # plus the relative 1e-12 of the evaluation.
        sens = abs(mp.diff(lambda x: val(x, b), a)) * (abs(a) + 1) + abs(mp.diff(lambda y: val(a, y), b)) * (abs(b) + 1)
        sens += 2 * abs(1 / (1 + mp.exp(-a)) - 1 / (1 + mp.exp(-b)))
        # and r = log p − log q itself carries eps·(|log p| + |log q|), weighted by the side's mass
        for x, y in ((a, b), (-a, -b)):
            lp, lq = -mp.log1p(mp.exp(-x)), -mp.log1p(mp.exp(-y))
            sens += (mp.exp(lp) + mp.exp(lq)) * (abs(lp) + abs(lq))
    tol = 1e-12 * abs(float(want)) + 8 * np.finfo(float).eps * float(sens) + 1e-300
    assert abs(got - float(want)) <= tol, (got, float(want), tol)


def test_bernoulli_logits_regression():
    # issue 11 item 5: Bernoulli(logits=0) ‖ (logits=−800) gave inf; truth 399.307
    got = dk.divergence(td.Bernoulli(logits=torch.tensor(0.0)), td.Bernoulli(logits=torch.tensor(-800.0)), "kl")
    assert float(got) == pytest.approx(399.30685281944005, rel=1e-6)


@pytest.mark.parametrize("d", DIVS, ids=IDS)
@settings(max_examples=40)
@given(p=log_uniform(-300, -1e-9), q=log_uniform(-300, -1e-9))
def test_bernoulli_probs_exact(d, p, q):
    with mp.workdps(60 + ref._extra(p, q)):  # 1 − p needs |log10 p| digits
        g = ref._generator(d)
        one = mp.mpf(1)
        want = mp.mpf(q) * g(mp.mpf(p) / mp.mpf(q)) + (one - q) * g((one - p) / (one - q))
    got = dk.divergence(td.Bernoulli(probs=torch.tensor(p, dtype=torch.float64)),
                        td.Bernoulli(probs=torch.tensor(q, dtype=torch.float64)), d)
    assert_close(got, want, np.float64, f"{d.name} Bern({p!r}) ‖ Bern({q!r})")


def test_bernoulli_tiny_probabilities_regression():
    # issue 11 item 5: KL(Bern(1e-21) ‖ Bern(1.7e-19)) gave −5.1e-21; truth 1.6386e-19 (1 − p rounds to 1)
    got = dk.divergence(td.Bernoulli(torch.tensor(1e-21, dtype=torch.float64)),
                        td.Bernoulli(torch.tensor(1.7e-19, dtype=torch.float64)), "kl")
    assert float(got) == pytest.approx(1.6386e-19, rel=1e-4) and float(got) > 0


# ------------------------------------------------------------------ Normal closed forms
NORMAL_NAMES = ["kl", "reverse_kl", "jeffreys", "squared_hellinger", "pearson", "neyman"]


def _normal_pair(m1, s1, m2, s2, dtype):
    t = lambda v: torch.tensor(v, dtype=dtype)  # noqa: E731
    return td.Normal(t(m1), t(s1), validate_args=False), td.Normal(t(m2), t(s2), validate_args=False)


@pytest.mark.parametrize("name", NORMAL_NAMES + ["alpha(0.3)", "alpha(2.5)", "alpha(-0.5)"])
@settings(max_examples=60)
@given(s1=log_uniform(-150, 150), s2=log_uniform(-150, 150), z=st.floats(-30, 30))
def test_normal_closed_forms_exact_float64(name, s1, s2, z):
    m1, m2 = z * max(s1, s2), 0.0
    d = dk.get(name)
    want = ref.normal(m1, s1, m2, s2, "alpha" if d.family == "alpha" else name, a=d.params.get("a"))
    for grad in (False, True):  # the no-grad fast path and the autograd path
        p, q = _normal_pair(m1, s1, m2, s2, torch.float64)
        if grad:
            p.scale.requires_grad_()
        got = dk.divergence(p, q, d).detach()
        assert_close(got, want, np.float64, f"{name} N({m1!r},{s1!r}) ‖ N(0,{s2!r}) grad={grad}")


@pytest.mark.parametrize("name", NORMAL_NAMES + ["alpha(0.3)", "alpha(2.5)"])
@settings(max_examples=40)
@given(s1=log_uniform(-18, 18), s2=log_uniform(-18, 18), z=st.floats(-5, 5))
def test_normal_closed_forms_exact_float32(name, s1, s2, z):
    s1, s2 = float(np.float32(s1)), float(np.float32(s2))
    m1 = float(np.float32(z * min(s1, s2)))
    d = dk.get(name)
    want = ref.normal(m1, s1, 0.0, s2, "alpha" if d.family == "alpha" else name, a=d.params.get("a"))
    got = dk.divergence(*_normal_pair(m1, s1, 0.0, s2, torch.float32), d)
    assert got.dtype == torch.float32
    assert_close(got, want, np.float32, f"{name} f32 N({m1!r},{s1!r}) ‖ N(0,{s2!r})")


@pytest.mark.parametrize("case", [
    # issue 11 item 2 / 4: (name, dtype, s1, s2, truth)
    ("kl", torch.float32, 1.0, 1e8, 17.9207),
    ("kl", torch.float64, 1e-9, 1e9, 40.9465),
    ("squared_hellinger", torch.float32, 1.0, 1e-6, 1.99717),
    ("pearson", torch.float32, 1.0, 1e4, 7070.07),
], ids=lambda c: f"{c[0]}-{str(c[1])[6:]}-{c[2]:g}-{c[3]:g}")
def test_normal_large_scale_ratio_regression(case):
    name, dtype, s1, s2, truth = case
    got = float(dk.divergence(*_normal_pair(0.0, s1, 0.0, s2, dtype), name))
    assert got == pytest.approx(truth, rel=1e-5)
    assert_close(got, ref.normal(0.0, s1, 0.0, s2, name), np.float32 if dtype == torch.float32 else np.float64)


def test_normal_jeffreys_large_ratio_float32():
    got = dk.divergence(*_normal_pair(0.0, 1.0, 0.0, 1e8, torch.float32), "jeffreys")
    assert_close(got, ref.normal(0.0, 1.0, 0.0, 1e8, "jeffreys"), np.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["flat", "broadcast", "strided"])
@pytest.mark.parametrize("block", [None, 5, "torch"])
def test_normal_kl_batches_mix_every_branch(dtype, layout, block, monkeypatch):
    # the no-grad KL runs one fused branch over a batch and recomputes the flagged entries (|d| below the
    # near threshold, d < −0.98) on their own: a batch mixing every regime — d = 0, |d| just below and just
    # above the flag (0.012 float32, 1e-3 float64), ordinary, σ1/σ2 = 1e-20 and 1e15 — must give, entry by
    # entry, the mpmath value (the same contract as the scalar tests), whatever the memory layout and however
    # the CPU kernel splits the batch into blocks (block=5: flagged entries in several blocks)
    # block="torch": the torch-ops kernel (what non-CPU devices run), here on CPU tensors
    from divkit.closed_form import normal as cfn

    if block == "torch":
        monkeypatch.setattr(cfn, "_kl_normal_np", cfn._kl_normal_torch)
    elif block is not None:
        monkeypatch.setattr(cfn, "_CHUNK", block)
    near = 0.012 if dtype == torch.float32 else 1e-3
    ratios = [1.0, 1 + 1e-6, 1 - near * 0.999, 1 + near * 0.999, 1 - near * 1.001, 1 + near * 1.001, 0.5, 3.0,
              1e-20, 1e15, 0.019, 0.021]
    s2 = [1.0, 2.0, 0.3]
    cast = np.float32 if dtype == torch.float32 else np.float64
    rows = [[float(cast(r * b)) for r in ratios] for b in s2]          # σ1, shape (3, 12)
    # μ1 = 0 on the first two rows, so the σ part (where the flagged entries differ) is the whole value
    m1 = [[0.0 if i < 2 else float(cast(0.25 * k - 1.0)) for k in range(len(ratios))] for i in range(len(s2))]
    s1t, m1t = torch.tensor(rows, dtype=dtype), torch.tensor(m1, dtype=dtype)
    s2t = torch.tensor(s2, dtype=dtype)[:, None]
    if layout == "broadcast":  # q's parameters broadcast along the batch: stride-0 views
        s2t = s2t.expand(3, len(ratios))
    elif layout == "strided":  # a non-contiguous view of p's parameters
        s1t, m1t = s1t.t().contiguous().t(), m1t.t().contiguous().t()
        s2t = s2t.expand(3, len(ratios))
    p = td.Normal(m1t, s1t, validate_args=False)
    q = td.Normal(torch.zeros((), dtype=dtype), s2t, validate_args=False)
    got = dk.divergence(p, q, "kl")
    assert got.dtype == dtype and got.shape == (3, len(ratios))
    for i, b in enumerate(s2):
        for j in range(len(ratios)):
            want = ref.normal(m1[i][j], rows[i][j], 0.0, float(cast(b)), "kl")
            assert_close(got[i, j], want, cast, f"kl {layout} [{i},{j}] σ1={rows[i][j]!r} σ2={b!r}")


# ------------------------------------------------------------------ MultivariateNormal
@pytest.mark.parametrize("name", ["kl", "reverse_kl", "squared_hellinger", "pearson", "alpha(0.3)"])
@settings(max_examples=25)
@given(e=st.lists(st.floats(-6, 6), min_size=3, max_size=3), shift=st.floats(-3, 3))
def test_mvn_closed_forms_exact_diagonal(name, e, shift):
    # diagonal covariances: the reference factorises into univariate mpmath closed forms
    s = [10.0 ** x for x in e]
    d = dk.get(name)
    loc = torch.tensor([shift, 0.0, 0.0], dtype=torch.float64)
    p = td.MultivariateNormal(loc, scale_tril=torch.diag(torch.tensor(s, dtype=torch.float64)))
    q = td.MultivariateNormal(torch.zeros(3, dtype=torch.float64), scale_tril=torch.eye(3, dtype=torch.float64))
    with mp.workdps(50):
        if name in ("kl", "reverse_kl"):
            want = mp.fsum(ref.normal(shift if i == 0 else 0.0, s[i], 0.0, 1.0, name) for i in range(3))
        else:
            a = {"squared_hellinger": 0.5, "pearson": 2.0}.get(name, d.params.get("a"))
            la = mp.fsum(mp.log1p(ref.normal(shift if i == 0 else 0.0, s[i], 0.0, 1.0, "alpha", a=a)
                                  * mp.mpf(a) * (mp.mpf(a) - 1)) for i in range(3))
            want = {"squared_hellinger": -2 * mp.expm1(la), "pearson": mp.expm1(la)}.get(
                name, mp.expm1(la) / (mp.mpf(a) * (mp.mpf(a) - 1)))
    got = dk.divergence(p, q, d)
    # The stated MVN bound: the eigenvalues μ_i of L⁻¹(Σ0 − Σ1)L⁻ᵀ carry an absolute error ≈ eps·(1 + max|μ|)
    # (Σ0 − Σ1 is formed from the factors L Lᵀ, each entry rounded), which moves the series terms g(μ) ~ μ²/2
    # of the |μ| ≤ ½ eigenvalues by ≈ eps·(1 + max|μ|)·|μ|; the log-det part (σ ratios far from 1) is exact.
    # Plus 1e-12 relative. (Both directions: reverse KL and the affinities use μ' = 1/(1 + μ) − 1 too.)
    w = float(want)
    s2 = np.array(s) ** 2
    mu = np.maximum(np.abs(s2 - 1.0), np.abs(1.0 / s2 - 1.0))
    sens = 16 * np.finfo(float).eps * (1.0 + mu.max()) * mu[mu <= 0.5].sum()
    if w > 1e300:
        assert float(got) == math.inf or float(got) > 1e300
    else:
        assert abs(float(got) - w) <= 1e-12 * abs(w) + sens + 1e-300, (float(got), w)


def test_mvn_float32_small_scale_regression():
    # issue 11 item 3: float32 scale_tril 1e-4·I vs I gave inf; truth 26.1310
    p = td.MultivariateNormal(torch.zeros(3), scale_tril=1e-4 * torch.eye(3))
    q = td.MultivariateNormal(torch.zeros(3), scale_tril=torch.eye(3))
    want = mp.mpf(3) * ref.normal(0.0, float(np.float32(1e-4)), 0.0, 1.0, "kl")
    assert_close(dk.divergence(p, q, "kl"), want, np.float32)


# ------------------------------------------------------------------ fused loss terms: kl.q_term
def test_kl_q_term_exact_in_the_window_below_overflow_regression():
    # issue 11 item 10: kl.q_term(80.0) in float32 gave 7.9e30 for e^79 = 2.04e34 (tangent from log(max) − 20)
    from divkit._array import exp_cut

    kl = dk.get("kl")
    for dtype, npdt in ((torch.float32, np.float32), (torch.float64, np.float64)):
        c = exp_cut(dtype)
        v = np.linspace(c - 25.0, c + 1.0 - 1e-3, 50)
        got = kl.q_term(torch.tensor(v, dtype=dtype))
        for vi, gi in zip(v, got):
            vi = float(npdt(vi))
            assert_close(gi, mp.exp(mp.mpf(vi) - 1), npdt, f"q_term({vi})")
    assert float(kl.q_term(np.float32(80.0))) == pytest.approx(math.exp(79.0), rel=1e-6)
    v = torch.tensor([c + 2.0, 1e4, 3e38], dtype=torch.float32, requires_grad=True)
    out = kl.q_term(v)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(v.grad).all() and (v.grad > 0).all()
    assert (out[1:] >= out[:-1]).all()  # monotone continuation


EDGE_DELTAS = [1e-3, 0.1, 1.0, 4.5, 20.0]  # v = log(max) − δ: the window the old continuation got wrong


@pytest.mark.parametrize("dtype", [np.float32, np.float64, torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("delta", EDGE_DELTAS)
def test_safe_exp_and_kl_q_term_exact_up_to_overflow(dtype, delta):
    # issue 11 item 10: exp inside the fused terms is exact wherever e^v is representable (float32: up to
    # log(FLT_MAX) = 88.72); the value and (torch) the first and second derivatives against mpmath, a few ulps
    from divkit._array import ops

    is_t = isinstance(dtype, torch.dtype)
    npdt = (np.float32 if dtype == torch.float32 else np.float64) if is_t else dtype
    v = float(npdt(math.log(float(np.finfo(npdt).max)) - delta))
    want = mp.exp(mp.mpf(v))
    kl = dk.get("kl")
    if not is_t:
        assert_close(ops(np.asarray(v, npdt)).safe_exp(np.asarray(v, npdt)), want, npdt, f"safe_exp({v}) numpy")
        vq = np.asarray(v, npdt) + npdt(1.0)  # q_term(v) = e^{v − 1}
        assert_close(kl.q_term(vq), mp.exp(mp.mpf(float(vq)) - 1), npdt, f"kl.q_term({float(vq)}) numpy")
        return
    x = torch.tensor(v, dtype=dtype, requires_grad=True)
    y = ops(x).safe_exp(x)
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad(g, x)
    for got, what in ((y, "value"), (g, "gradient"), (h, "second derivative")):
        assert_close(got.detach(), want, npdt, f"safe_exp {what} at {v} ({dtype})")
    xq = (x.detach() + 1.0).requires_grad_()
    q = kl.q_term(xq)
    (gq,) = torch.autograd.grad(q, xq)
    wq = mp.exp(mp.mpf(float(xq.detach())) - 1)
    assert_close(q.detach(), wq, npdt, f"kl.q_term({float(xq.detach())})")
    assert_close(gq, wq, npdt, "kl.q_term gradient")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_safe_exp_beyond_overflow_is_finite_with_a_finite_gradient(dtype):
    # beyond overflow no finite value is right: finfo.max/16 (room for a factor or a sum of 16), gradient > 0
    from divkit._array import SATURATION_HEADROOM, exp_max_arg, ops

    c = exp_max_arg(dtype)
    big = torch.finfo(dtype).max / SATURATION_HEADROOM
    x = torch.tensor([c, c + 1.0, 1e4, 3e38 if dtype != torch.float64 else 1e300], dtype=dtype, requires_grad=True)
    y = ops(x).safe_exp(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and (y[1:] == big).all() and y[0] > big
    assert torch.isfinite(x.grad).all() and (x.grad > 0).all()
    inf = ops(x).safe_exp(torch.tensor([math.inf, -math.inf], dtype=dtype))
    assert inf[0] == math.inf and inf[1] == 0.0  # +inf only where the true value is infinite
    xn = x.detach().float().numpy() if dtype != torch.float64 else x.detach().numpy()
    with np.errstate(over="raise"):
        yn = ops(xn).safe_exp(xn)
    assert np.isfinite(yn).all() and (yn[1:] == xn.dtype.type(np.finfo(xn.dtype).max / SATURATION_HEADROOM)).all()


def test_fdiv_lower_bound_averages_saturated_terms_without_overflow():
    # 64 critic outputs of 1e3 (float32): each q_term saturates at finfo.max/16; their plain sum (4·max)
    # overflows, their mean is max/16 itself, so the bound is finite (1e3 − max/16)
    from divkit._array import SATURATION_HEADROOM

    big = torch.full((64,), 1e3, dtype=torch.float32, requires_grad=True)
    v = dk.bounds.fdiv_lower_bound("kl", big, big)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(big.grad).all()
    assert float(v) == pytest.approx(1e3 - float(torch.finfo(torch.float32).max) / SATURATION_HEADROOM, rel=1e-6)


@settings(max_examples=40)
@given(st.lists(st.tuples(log_uniform(-320, 0), log_uniform(-320, 0)), min_size=1, max_size=12))
def test_vector_kl_fast_path_exact_per_term(pairs):
    # the no-grad numpy kernel (log1p where p/q ≥ 1e-3, log of the ratio below) against mpmath: the sum keeps
    # ~eps·Σ|p log(p/q)| absolute (conditioning of the sum), each term 1.5e-13 relative
    p = np.array([a for a, _ in pairs])
    q = np.array([b for _, b in pairs])
    kl = dk.get("kl")
    want = ref.discrete(p, q, kl)
    scale = float(mp.fsum(abs(ref.term(kl, a, b)) for a, b in zip(p, q)))
    for P, Q in ((p, q), (torch.tensor(p), torch.tensor(q))):
        got = float(dk.divergence(P, Q, "kl", validate=False))
        assert not math.isnan(got)
        assert abs(got - float(want)) <= 1e-12 * abs(float(want)) + 8 * np.finfo(float).eps * scale + TINY[np.float64]
