"""Contract tests over EVERY registered divergence plus α(a) members (optax alias_test style: one list drives
every check, so registering a divergence tests it at once).

Oracles come from divkit.testing (independent code: brute-force conjugate, float64 discrete divergence).
Tolerance policy (STYLE.md §7): deterministic float64 identities at ~1e-12–1e-10 relative (a few hundred eps:
the closed forms chain 3–5 transcendental calls); grid-based checks at the grid's stated discretisation error.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import divkit as dk
from divkit.legendre import legendre_transform
from divkit.testing import (
    brute_force_conjugate,
    check_fenchel_young,
    discrete_divergence,
    probability_pairs,
    probability_vectors,
)

ALPHAS = [-2.0, -0.5, 0.3, 0.5, 2.0, 3.5]
DIVS = [dk.get(n) for n in dk.names()] + [dk.alpha(a) for a in ALPHAS]
IDS = [d.name for d in DIVS]
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy edge evaluations are intended

U_PTS = np.array([1e-6, 1e-3, 0.05, 0.3, 0.7, 1.0, 1.5, 4.0, 30.0, 1e3, 1e6])


def parametrize_divs(fn):
    return pytest.mark.parametrize("d", DIVS, ids=IDS)(fn)


def f64(d, u):
    """f with the stated limit at u = 0."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        v = np.asarray(d.f(u), dtype=np.float64)
    return np.where(u == 0, d.f_at_zero, v)


def interior_t(d, u=U_PTS):
    """Points t = f'(u) pulled 10% toward the threshold: inside the critic range, off TV's kinks."""
    return 0.9 * np.asarray(d.f_prime(u), dtype=np.float64) + 0.1 * d.threshold


# ------------------------------------------------------------------ constants
@parametrize_divs
def test_f_at_one_and_threshold(d):
    assert float(d.f(np.float64(1.0))) == pytest.approx(d.f_at_one, abs=1e-15)
    assert float(d.f_prime(np.float64(1.0))) == pytest.approx(d.threshold, abs=1e-15)  # TV: sign(0)/2 = 0


@parametrize_divs
def test_limits_at_zero_and_infinity(d):
    # f(0) = lim_{u→0} f(u); lim f(u)/u as u → ∞: compare with f at tiny / huge u (convergence rates are at
    # worst u^{|a|}·log for the α members, hence the loose 1e-2 at 1e-12 / 1e12)
    with np.errstate(all="ignore"):
        near0 = float(d.f(np.float64(1e-12)))
        big = 1e12
        slope = float(d.f(np.float64(big))) / big
    if math.isinf(d.f_at_zero):
        with np.errstate(all="ignore"):
            assert float(d.f(np.float64(1e-300))) > 1e2  # −log u reaches 690 here; u^a (a < 0) overflows
        assert near0 > 20.0
    else:
        assert near0 == pytest.approx(d.f_at_zero, rel=1e-2, abs=1e-2)
    if math.isinf(d.f_over_u_at_inf):
        assert slope > 5.0
    else:
        assert slope == pytest.approx(d.f_over_u_at_inf, rel=1e-2, abs=1e-2)


# ------------------------------------------------------------------ Fenchel–Young
@parametrize_divs
@settings(max_examples=30)
@given(u=st.one_of(st.just(0.0), st.floats(1e-8, 1e6)), t=st.floats(-50.0, 50.0))
def test_fenchel_young_inequality(d, u, t):
    check_fenchel_young(d, np.array([u]), np.array([t]), rtol=1e-12, atol=1e-12)


@parametrize_divs
def test_fenchel_young_equality_at_f_prime(d):
    u = U_PTS[U_PTS <= 1e3]
    t = np.asarray(d.f_prime(u), dtype=np.float64)
    fu, ft = f64(d, u), np.asarray(d.conjugate(t), dtype=np.float64)
    gap = fu + ft - u * t
    # exact identity; cancellation of terms of size |u t| (and |t|, inside Jeffreys' ω(1 − t)) leaves ~10 eps
    # of the largest term
    scale = np.abs(fu) + np.abs(ft) + np.abs(u * t) + np.abs(t) + 1.0
    assert np.all(np.abs(gap) <= 1e-12 * scale), (u, gap)
    check_fenchel_young(d, u, t)


# ------------------------------------------------------------------ the exact conjugate vs brute force
@parametrize_divs
def test_conjugate_equals_brute_force_sup(d):
    t = interior_t(d, np.geomspace(1e-5, 1e5, 17))
    if math.isfinite(d.critic_range.lo):  # below the critic range: the sup sits at u = 0
        t = np.concatenate([t, d.critic_range.lo - np.array([0.5, 3.0])])
    got = np.asarray(d.conjugate(t), dtype=np.float64)
    ref = brute_force_conjugate(d, t)  # grid 0, 1, 1e-9..1e9 (20k) + bounded refinement
    # ref ≤ f* always; equality to the refinement's accuracy: Brent in x to ~1e-8·u, so the value to
    # ~f''·(1e-8·u)² ≪ 1e-10 relative
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


@parametrize_divs
def test_plus_inf_outside_domain_and_unbounded_sup(d):
    dom = d.conjugate_domain
    if math.isinf(dom.hi):
        t = np.array([-1e3, 0.0, 50.0])  # (e^{t−1} itself overflows float64 past t ≈ 710)
        assert np.all(np.isfinite(d.conjugate(t)))
        return
    outside = dom.hi + np.array([1e-9, 0.1, 1.0, 1e3])
    assert np.all(d.conjugate(outside) == np.inf)
    at_hi = float(d.conjugate(np.array([dom.hi]))[0])
    assert math.isfinite(at_hi) == dom.hi_closed
    # and it is +inf for real: the grid sup grows without bound just past hi
    assert brute_force_conjugate(d, np.array([dom.hi + 0.1]), refine=False)[0] > 1e6
    inside = dom.hi - np.array([1e-3, 1.0, 10.0])
    assert np.all(np.isfinite(d.conjugate(inside)))


@parametrize_divs
def test_biconjugate_recovers_f_on_a_grid(d):
    # f** = f for convex lsc f: conjugate (exact) on t = f'(u') for a dense geometric u' grid, then the
    # discrete Legendre transform back to u. Error ≈ ½ f''(u)·(u·δ)² with δ = ln(1e4)/2e5 ≈ 4.6e-5, ≤ 1e-8
    # relative for u ∈ [0.05, 20]; 1e-7 leaves room for the conjugate's own rounding.
    up = np.geomspace(0.01, 100.0, 200_001)
    t = np.unique(np.asarray(d.f_prime(up), dtype=np.float64))
    ft = np.asarray(d.conjugate(t), dtype=np.float64)
    assert np.all(np.isfinite(ft))
    u = np.geomspace(0.05, 20.0, 101)
    fss = legendre_transform(t, ft, u)
    np.testing.assert_allclose(fss, f64(d, u), rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ critic range, activation, fused terms
@parametrize_divs
def test_critic_range_inside_domain(d):
    c, dom = d.critic_range, d.conjugate_domain
    assert c.lo >= dom.lo and c.hi <= dom.hi
    if c.hi == dom.hi and c.hi_closed:
        assert dom.hi_closed
    if c.lo == dom.lo and c.lo_closed:
        assert dom.lo_closed
    # u ≤ 1e3: at u = 1e6, α(−2)'s f'(u) = (u^{−3} − 1)/(−3) rounds onto the open end 1/3
    t = np.asarray(d.f_prime(U_PTS[U_PTS <= 1e3]), dtype=np.float64)
    assert np.all(c.contains(t)) and np.all(dom.contains(t))
    assert c.contains(np.float64(d.threshold))


@parametrize_divs
def test_activation_maps_reals_into_domain(d):
    # strictly inside while 1 − e^{−|v|} is representable (|v| ≤ 30 in float64); beyond, rounding may land on
    # an open end, but never past it
    v = np.linspace(-30, 30, 601)
    assert np.all(d.conjugate_domain.contains(d.activation(v)))
    vb = np.array([-1e4, -700.0, -100.0, 100.0, 700.0, 1e4])
    a = np.asarray(d.activation(vb))
    assert np.all(a <= d.conjugate_domain.hi) and np.all(a >= d.conjugate_domain.lo)


@parametrize_divs
def test_fused_terms_equal_composition(d):
    v = np.linspace(-20, 20, 401)
    a = np.asarray(d.activation(v), dtype=np.float64)
    np.testing.assert_array_equal(np.asarray(d.p_term(v)), a)
    q = np.asarray(d.q_term(v), dtype=np.float64)
    comp = np.asarray(d.conjugate(a), dtype=np.float64)
    # the naive composition is only as good as its conditioning: f* moved by 2 ulps of its argument
    lo = np.asarray(d.conjugate(np.nextafter(np.nextafter(a, -np.inf), -np.inf)), dtype=np.float64)
    hi = np.asarray(d.conjugate(np.nextafter(np.nextafter(a, np.inf), np.inf)), dtype=np.float64)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(comp)
    assert ok.mean() > 0.9
    sens = np.abs(hi - lo)
    np.testing.assert_array_less(np.abs(q - comp)[ok], (1e-10 * np.abs(comp) + 1e-13 + 2 * sens)[ok])
    # at least the well-conditioned part is checked at 1e-10 relative proper
    assert np.mean(sens[ok] <= 1e-10 * (np.abs(comp[ok]) + 1e-3)) > 0.5


EXTREME_V = [-1e4, -1e3, -710.0, -100.0, -88.0, -20.0, -1.0, 0.0, 1.0, 20.0, 88.0, 100.0, 710.0, 1e3, 1e4]


@parametrize_divs
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_fused_terms_finite_with_finite_gradients_torch(d, dtype):
    v = torch.tensor(EXTREME_V, dtype=dtype, requires_grad=True)
    p, q = d.p_term(v), d.q_term(v)
    assert p.dtype == dtype and q.dtype == dtype
    assert torch.isfinite(p).all() and torch.isfinite(q).all(), (p, q)
    (p.sum() - q.sum()).backward()
    assert torch.isfinite(v.grad).all(), v.grad


@parametrize_divs
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda t: t.__name__)
def test_fused_terms_finite_numpy(d, dtype):
    v = np.array(EXTREME_V, dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):
        p, q = np.asarray(d.p_term(v)), np.asarray(d.q_term(v))
    assert p.dtype == dtype and q.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(q))


# ------------------------------------------------------------------ discrete divergences with the oracle
@parametrize_divs
@settings(max_examples=25)
@given(pq=probability_pairs(min_size=1, max_size=6))
def test_discrete_divergence_bounds_and_integrand(d, pq):
    p, q = pq
    assert discrete_divergence(p, p, d) == pytest.approx(d.f_at_one, abs=1e-14)
    dpq = discrete_divergence(p, q, d)
    assert dpq >= d.f_at_one - 1e-12  # Jensen: D_f ≥ f(1)
    s = float(np.sum(d.integrand(p, q)))  # FDivergence.integrand agrees with the brute-force oracle
    if math.isinf(dpq):
        assert s == math.inf
    else:
        assert s == pytest.approx(dpq, rel=1e-12, abs=1e-14)


@parametrize_divs
@settings(max_examples=10)
@given(p=probability_vectors(min_size=1, max_size=8))
def test_divergence_of_identical_is_f_one_with_zeros(d, p):
    # zeros in both: the 0·f(0/0) = 0 convention, not NaN
    assert float(np.sum(d.integrand(p, p))) == pytest.approx(d.f_at_one, abs=1e-14)


# ------------------------------------------------------------------ numpy / torch parity and autograd
@parametrize_divs
def test_numpy_torch_parity(d):
    u = U_PTS
    t = interior_t(d)
    v = np.linspace(-20, 20, 81)
    for name, x in [("f", u), ("f_prime", u), ("conjugate", t), ("activation", v), ("p_term", v), ("q_term", v)]:
        fn = getattr(d, name)
        a = np.asarray(fn(x))
        b = fn(torch.from_numpy(x))
        assert isinstance(b, torch.Tensor) and b.dtype == torch.float64, name
        # same formulas in both worlds; Jeffreys' ω differs in the last bits (Halley in torch vs scipy)
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-13, atol=1e-15, err_msg=f"{d.name}.{name}")


@parametrize_divs
def test_autograd_matches_finite_differences(d):
    u = torch.tensor([0.3, 0.7, 2.5, 6.0], dtype=torch.float64, requires_grad=True)
    t = torch.from_numpy(interior_t(d, np.array([0.3, 0.7, 2.5, 6.0]))).requires_grad_(True)
    v = torch.tensor([-3.0, -0.5, 0.4, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(d.f, (u,), eps=1e-6, atol=1e-6, rtol=1e-6)
    assert torch.autograd.gradcheck(d.conjugate, (t,), eps=1e-6, atol=1e-6, rtol=1e-6)
    assert torch.autograd.gradcheck(d.p_term, (v,), eps=1e-6, atol=1e-6, rtol=1e-6)
    assert torch.autograd.gradcheck(d.q_term, (v,), eps=1e-6, atol=1e-6, rtol=1e-6)
    # and f' is the derivative of f (the pieces agree with each other, not only with themselves)
    (g,) = torch.autograd.grad(d.f(u).sum(), u)
    np.testing.assert_allclose(g.numpy(), d.f_prime(u.detach()).numpy(), rtol=1e-12)


# ------------------------------------------------------------------ α-family limits and errors
def _pairs(seed, n=5, k=6):
    rng = np.random.default_rng(seed)
    return [(rng.dirichlet(np.full(k, 2.0)), rng.dirichlet(np.full(k, 2.0))) for _ in range(n)]


def test_alpha_tends_to_kl_and_reverse_kl():
    # the α generator → u log u − u + 1 (a → 1) and −log u + u − 1 (a → 0): same divergences as kl /
    # reverse_kl. Error: O(|a − 1|)·E_q[u log² u]/2 ≈ 1e-6 for these Dirichlet(2) pairs (ratios within 1e-2..1e2),
    # plus rounding eps·u/|a − 1| ≈ 1e-9; 2e-5 absolute is ≥ 10× that.
    h = 1e-6
    near_kl, near_rkl = dk.alpha(1.0 + h), dk.alpha(h)
    kl, rkl = dk.get("kl"), dk.get("reverse_kl")
    for p, q in _pairs(0):
        assert discrete_divergence(p, q, near_kl) == pytest.approx(discrete_divergence(p, q, kl), abs=2e-5)
        assert discrete_divergence(p, q, near_rkl) == pytest.approx(discrete_divergence(p, q, rkl), abs=2e-5)
    # conjugates follow the linear shift: (f − (u − 1))*(t) = f*(t + 1) − 1 for kl, f*(t − 1) + 1 for reverse kl
    t = np.linspace(-3, 2, 11)
    np.testing.assert_allclose(near_kl.conjugate(t), kl.conjugate(t + 1) - 1, rtol=1e-5, atol=1e-5)
    t = np.linspace(-3, 0.9, 11)
    np.testing.assert_allclose(near_rkl.conjugate(t), rkl.conjugate(t - 1) + 1, rtol=1e-5, atol=1e-5)
    assert dk.alpha(1 - h).f_at_zero == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("a", [0, 1, 0.0, 1.0, float("nan"), float("inf")])
def test_alpha_rejects_excluded(a):
    with pytest.raises(ValueError, match="a must be finite and not 0 or 1"):
        dk.alpha(a)


def test_alpha_rejects_non_numbers():
    with pytest.raises(TypeError):
        dk.alpha("0.5")
    with pytest.raises(TypeError):
        dk.alpha(True)


def test_get_unknown_lists_known_names():
    with pytest.raises(ValueError) as ei:
        dk.get("kullback")
    msg = str(ei.value)
    assert "kullback" in msg
    for n in dk.names():
        assert n in msg
    with pytest.raises(ValueError, match="could not read a"):
        dk.get("alpha(x)")
    with pytest.raises(ValueError):
        dk.get("alpha(1)")
    with pytest.raises(TypeError):
        dk.get(3)


def test_get_roundtrip_and_alpha_by_name():
    for n in dk.names():
        assert dk.get(n).name == n
    assert dk.get("alpha(0.5)").params["a"] == 0.5
    assert dk.get("Reverse-KL") is dk.get("reverse_kl")


def test_alpha_special_members_match_scaled_registered():
    # a = 2: ½·Pearson; a = −1: ½·Neyman; a = ½: 2·squared Hellinger (f differs by a multiple of u − 1)
    for p, q in _pairs(1):
        assert discrete_divergence(p, q, dk.alpha(2.0)) == pytest.approx(
            0.5 * discrete_divergence(p, q, dk.get("pearson")), rel=1e-12)
        assert discrete_divergence(p, q, dk.alpha(-1.0)) == pytest.approx(
            0.5 * discrete_divergence(p, q, dk.get("neyman")), rel=1e-12)
        assert discrete_divergence(p, q, dk.alpha(0.5)) == pytest.approx(
            2.0 * discrete_divergence(p, q, dk.get("squared_hellinger")), rel=1e-12)


def test_jeffreys_conjugate_cancellation_for_negative_t():
    # regression: f*(t) = 1/w + w + t − 2 with w = ω(1 − t) ≈ −t cancelled |t|·eps absolutely (relative error
    # 1.4e-6 at t = −1e12). References from mpmath (50 digits) of 1/w + w + t − 2.
    j = dk.get("jeffreys")
    t = np.array([-9e5, -1e9, -1e12, 5.0, 30.0])
    ref = np.array([-14.710134808706679, -21.723265816223144, -28.631021115900918, 58.607198277506406,
                    3931334297173.042])
    np.testing.assert_allclose(j.conjugate(t), ref, rtol=1e-14)
    np.testing.assert_allclose(j.conjugate(torch.from_numpy(t)).numpy(), ref, rtol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_jeffreys_q_term_cancellation_for_negative_v(dtype):
    # regression: q_term = e^{w+v−1} + w + v − 2 with w = ω(1 − v) ≈ −v lost |v|·eps (5e-5 relative in float32
    # at v = −1e4). Reference: the float64 conjugate (fixed above) at g_f(v) = v; allow 8 ulps of the dtype.
    j = dk.get("jeffreys")
    v = torch.tensor([-1e4, -1e3, -100.0, -10.0, 0.5, 10.0], dtype=dtype)  # (v > 68: safe_exp's tangent)
    ref = j.conjugate(v.double())
    got = j.q_term(v)
    np.testing.assert_allclose(got.double().numpy(), ref.numpy(), rtol=8 * torch.finfo(dtype).eps)
    np.testing.assert_allclose(j.q_term(v.numpy()).astype(np.float64), ref.numpy(), rtol=8 * torch.finfo(dtype).eps)
