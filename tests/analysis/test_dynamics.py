"""Games, update rules, simulate and spectral radii against the closed forms of REFERENCE.md §4.

Tolerance policy: linear maps are iterated exactly up to float64 rounding, so per-step ratios are checked to
1e-12 relative; finite-difference step matrices of linear maps are exact up to rounding (h = 1e-5 gives
~1e-11 absolute); symbolic results are checked for exact equality with sympy.
"""
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis
from analysis import games, optim, spectral

ETA = sp.Symbol("eta", positive=True)
G = games.Bilinear()
lrs = st.floats(0.01, 1.5)
starts = st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=30)
@given(lr=lrs, x0=starts, y0=starts)
def test_simultaneous_radius_grows_by_exactly_sqrt_1_plus_lr2_every_step(lr, x0, y0):
    tr = analysis.simulate(G, "simultaneous", lr=lr, steps=50, x0=x0, y0=y0)
    r = np.hypot(tr.x, tr.y)
    np.testing.assert_allclose(r[1:] / r[:-1], np.sqrt(1 + lr ** 2), rtol=1e-12)


def test_seed_update_rule_is_x_plus_lr_y_then_y_minus_lr_x():
    tr = analysis.simulate(G, "simultaneous", lr=0.1, steps=1, x0=1.0, y0=2.0)
    assert tr.x[1] == pytest.approx(1 + 0.1 * 2) and tr.y[1] == pytest.approx(2 - 0.1 * 1)


@settings(max_examples=30)
@given(lr=st.floats(0.01, 1.99), x0=starts, y0=starts)
def test_alternating_conserves_x2_plus_lr_xy_plus_y2_and_stays_bounded(lr, x0, y0):
    # invariant derived with sympy (M^T S M = S for the alternating map): Q = x^2 + lr*x*y + y^2 (x moves first)
    tr = analysis.simulate(G, "alternating", lr=lr, steps=400, x0=x0, y0=y0)
    Q = tr.x ** 2 + lr * tr.x * tr.y + tr.y ** 2
    np.testing.assert_allclose(Q, Q[0], rtol=1e-9)
    # Q >= (1 - lr/2)(x^2 + y^2) bounds the orbit
    assert np.all(tr.x ** 2 + tr.y ** 2 <= Q[0] / (1 - lr / 2) * (1 + 1e-9))


def test_alternating_invariant_symbolic_and_unbounded_beyond_2():
    M = spectral.symbolic_step_matrix(G, "alternating", ETA)
    S = sp.Matrix([[1, ETA / 2], [ETA / 2, 1]])
    assert sp.simplify(M.T * S * M - S) == sp.zeros(2, 2)
    assert analysis.spectral_radius(G, "alternating", 1.9) == pytest.approx(1.0, abs=1e-9)
    assert analysis.spectral_radius(G, "alternating", 2.1) > 1.5


def test_symbolic_radii_match_reference_table():
    gam = sp.Rational(1, 2)
    assert sp.simplify(analysis.spectral_radius(G, "simultaneous", ETA, symbolic=True) - sp.sqrt(1 + ETA ** 2)) == 0
    assert sp.simplify(analysis.spectral_radius(G, "extragradient", ETA, symbolic=True)
                       - sp.sqrt(1 - ETA ** 2 + ETA ** 4)) == 0
    for rule, opt in (("consensus", {"gamma": gam}), ("sga", {"lam": gam})):
        r = analysis.spectral_radius(G, rule, ETA, symbolic=True, **opt)
        assert sp.simplify(r - sp.sqrt((1 - ETA * gam) ** 2 + ETA ** 2)) == 0


@pytest.mark.parametrize("lr", np.linspace(0.05, 0.5, 10))
def test_optimistic_radius_formula_for_lr_up_to_half(lr):
    expected = np.sqrt((1 + np.sqrt(1 - 4 * lr ** 2)) / 2)
    assert analysis.spectral_radius(G, "optimistic", lr) == pytest.approx(expected, abs=1e-8)


def test_optimistic_converges_iff_lr_below_1_over_sqrt3():
    edge = 1 / np.sqrt(3)
    assert analysis.spectral_radius(G, "optimistic", edge - 1e-3) < 1
    assert analysis.spectral_radius(G, "optimistic", edge + 1e-3) > 1
    assert analysis.spectral_radius(G, "optimistic", edge) == pytest.approx(1, abs=1e-7)


@pytest.mark.parametrize("rule,rate", [
    ("extragradient", lambda h: np.sqrt(1 - h ** 2 + h ** 4)),
    ("optimistic", lambda h: np.sqrt((1 + np.sqrt(1 - 4 * h ** 2)) / 2)),
])
def test_trajectories_contract_at_the_predicted_rate(rule, rate):
    lr = np.array([0.1, 0.3, 0.45])
    tr = analysis.simulate(G, rule, lr=lr, steps=600, x0=1.0, y0=0.5)
    r = np.hypot(tr.x, tr.y)
    slope = np.exp((np.log(r[600]) - np.log(r[300])) / 300)  # asymptotic per-step factor
    np.testing.assert_allclose(slope, rate(lr), rtol=2e-3)  # transient of the subdominant eigenvalue


@pytest.mark.parametrize("gamma", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("rule,key", [("consensus", "gamma"), ("sga", "lam")])
def test_consensus_and_sga_converge_iff_lr_below_2gamma_over_1_plus_gamma2(rule, key, gamma):
    edge = 2 * gamma / (1 + gamma ** 2)
    assert analysis.spectral_radius(G, rule, 0.98 * edge, **{key: gamma}) < 1
    assert analysis.spectral_radius(G, rule, 1.02 * edge, **{key: gamma}) > 1
    tr = analysis.simulate(G, rule, lr=0.5 * edge, steps=2000, x0=1.0, y0=1.0, **{key: gamma})
    assert np.hypot(tr.x[-1], tr.y[-1]) < 1e-3


@pytest.mark.parametrize("beta", [-0.8, -0.5, -0.2])
def test_negative_momentum_converges_where_positive_diverges(beta):
    lr = (1 + beta)  # inside the region eta < 2(1 + beta)
    assert analysis.spectral_radius(G, "momentum", lr, beta=beta) < 1
    assert analysis.spectral_radius(G, "momentum", lr, beta=-beta) > 1
    assert analysis.spectral_radius(G, "momentum", 2 * (1 + beta) * 1.02, beta=beta) > 1
    tr = analysis.simulate(G, "momentum", lr=lr, steps=3000, x0=1.0, y0=1.0, beta=beta)
    assert np.hypot(tr.x[-1], tr.y[-1]) < 1e-4
    tr = analysis.simulate(G, "momentum", lr=lr, steps=300, x0=1.0, y0=1.0, beta=-beta)
    assert np.hypot(tr.x[-1], tr.y[-1]) > 10


def test_simultaneous_momentum_never_converges():
    for beta in (-0.5, -0.1, 0.3):
        for lr in (0.05, 0.3, 1.0):
            assert analysis.spectral_radius(G, "momentum", lr, beta=beta, alternating=False) > 1


def test_matrix_bilinear_scales_lr_by_singular_values():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))  # square: a (3, 2) A leaves a null direction with factor exactly 1
    smax = np.linalg.svd(A, compute_uv=False).max()
    for rule, rho in (("simultaneous", lambda h: np.sqrt(1 + h ** 2)),
                      ("extragradient", lambda h: np.sqrt(1 - h ** 2 + h ** 4))):
        got = analysis.spectral_radius(games.Bilinear(A), rule, 0.2)
        expected = max(rho(0.2 * s) for s in np.linalg.svd(A, compute_uv=False))
        assert got == pytest.approx(expected, abs=1e-9), rule
    tr = analysis.simulate(games.Bilinear(A), "simultaneous", lr=0.2, steps=5, x0=np.ones((4, 3)), y0=np.ones(3))
    assert tr.x.shape == (6, 4, 3) and tr.y.shape == (6, 4, 3)
    assert smax > 0


def test_quadratic_bilinear_contracts_under_gda_when_strongly_monotone():
    g = games.QuadraticBilinear(0.5, 1.0, 0.5)
    assert analysis.spectral_radius(g, "simultaneous", 0.1) < 1
    assert analysis.spectral_radius(games.QuadraticBilinear(-0.1, 1, -0.1), "extragradient", 0.1) > 1
    # symbolic = numeric
    r = analysis.spectral_radius(g, "simultaneous", sp.Rational(1, 10), symbolic=True)
    assert float(r) == pytest.approx(analysis.spectral_radius(g, "simultaneous", 0.1), abs=1e-10)


def test_simulate_batches_points_and_learning_rates_by_broadcasting():
    x0 = np.linspace(-1, 1, 5)[:, None]
    lr = np.array([0.1, 0.2, 0.3])
    tr = analysis.simulate(G, "extragradient", lr=lr, steps=7, x0=x0, y0=0.5)
    assert tr.x.shape == (8, 5, 3)
    one = analysis.simulate(G, "extragradient", lr=0.2, steps=7, x0=x0[3, 0], y0=0.5)
    np.testing.assert_allclose(tr.x[:, 3, 1], one.x, rtol=0, atol=1e-15)
    sub = analysis.simulate(G, "simultaneous", lr=0.1, steps=10, x0=1.0, y0=0.0, record=4)
    assert list(sub.t) == [0, 4, 8, 10]


@pytest.mark.parametrize("method", sorted(optim.RULES))
def test_torch_matches_numpy_for_every_rule(method):
    x0 = np.linspace(-1, 1, 6)
    g = games.DiracGAN("saturating")
    a = analysis.simulate(g, method, lr=0.2, steps=20, x0=x0, y0=0.3)
    b = analysis.simulate(g, method, lr=0.2, steps=20, x0=torch.tensor(x0), y0=torch.tensor(0.3, dtype=torch.float64))
    assert isinstance(b.x, torch.Tensor) and b.x.dtype == torch.float64
    np.testing.assert_allclose(b.x.numpy(), a.x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.y.numpy(), a.y, rtol=1e-12, atol=1e-14)


@pytest.mark.cuda
def test_simulate_on_cuda_stays_on_device():
    x0 = torch.linspace(-1, 1, 1000, device="cuda")
    tr = analysis.simulate(G, "optimistic", lr=0.1, steps=10, x0=x0, y0=torch.zeros((), device="cuda"))
    assert tr.x.device.type == "cuda" and tr.x.shape == (11, 1000)


# ------------------------------------------------------------------------------------------ Dirac-GAN
g_sym, s_sym = sp.Symbol("gamma", positive=True), sp.Symbol("sigma", positive=True)
F1, F2 = sp.Rational(1, 2), -sp.Rational(1, 4)  # f'(0), f''(0) for f(t) = -log(1 + e^-t)


def _same(eigs, expected):
    a = sorted(eigs, key=sp.default_sort_key)
    b = sorted((sp.simplify(e) for e in expected), key=sp.default_sort_key)
    return all(sp.simplify(u - v) == 0 for u, v in zip(a, b)) and len(a) == len(b)


@pytest.mark.parametrize("loss", ["saturating", "nonsaturating"])
def test_dirac_gan_eigenvalues_per_variant(loss):
    assert _same(games.DiracGAN(loss).eigenvalues(), [sp.I * F1, -sp.I * F1])
    for reg in ("r1", "r2"):
        root = sp.sqrt(g_sym ** 2 / 4 - F1 ** 2)
        assert _same(games.DiracGAN(loss, reg).eigenvalues(), [-g_sym / 2 + root, -g_sym / 2 - root])
    root = sp.sqrt(F2 ** 2 * s_sym ** 4 - F1 ** 2)
    assert _same(games.DiracGAN(loss, "instance_noise").eigenvalues(), [F2 * s_sym ** 2 + root,
                                                                        F2 * s_sym ** 2 - root])
    assert _same(games.DiracGAN(loss, "consensus").eigenvalues(),
                 [-g_sym * F1 ** 2 + sp.I * F1, -g_sym * F1 ** 2 - sp.I * F1])


def test_dirac_wgan_is_the_bilinear_game_and_clips():
    assert _same(games.DiracGAN("wgan").eigenvalues(), [sp.I, -sp.I])
    tr = analysis.simulate(games.DiracGAN("wgan", clip=0.5), "simultaneous", lr=0.1, steps=200, x0=0.1, y0=3.0)
    assert np.abs(tr.x).max() <= 0.5


def test_dirac_gan_discrete_simultaneous_radius():
    h = 0.3
    for reg_free in ("saturating", "nonsaturating"):
        assert analysis.spectral_radius(games.DiracGAN(reg_free), "simultaneous", h) == pytest.approx(
            np.sqrt(1 + h ** 2 * 0.25), abs=1e-9)


@pytest.mark.parametrize("name,slope", [("gan", 0.5), ("kl", np.exp(-1)), ("js", 0.25)])
def test_dirac_gan_with_divkit_divergence_rotates_at_q_term_slope(name, slope):
    # V = p_term(0) - q_term(psi*theta): eigenvalues +-i q_term'(0); gan's q_term = softplus -> 1/2
    eig = games.DiracGAN(name).eigenvalues()
    assert sorted(abs(complex(e)) for e in eig) == pytest.approx([slope, slope], abs=1e-11)
    assert analysis.spectral_radius(games.DiracGAN(name), "simultaneous", 0.2) == pytest.approx(
        np.sqrt(1 + 0.04 * slope ** 2), abs=1e-8)


def test_dirac_gan_regularised_variants_converge_numerically():
    for reg in ("r1", "instance_noise", "consensus"):
        g = games.DiracGAN("saturating", reg, gamma=1.0, sigma=1.0)
        tr = analysis.simulate(g, "simultaneous", lr=0.2, steps=600, x0=1.0, y0=1.0)
        assert np.hypot(tr.x[-1], tr.y[-1]) < 1e-2, reg
    tr = analysis.simulate(games.DiracGAN("saturating"), "simultaneous", lr=0.2, steps=600, x0=1.0, y0=1.0)
    assert np.hypot(tr.x[-1], tr.y[-1]) > 1.0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown update rule.*simultaneous"):
        analysis.simulate(G, "adamw", lr=0.1, steps=3, x0=1.0, y0=1.0)
    with pytest.raises(ValueError, match="unknown loss"):
        games.DiracGAN("hinge-ish")
    with pytest.raises(ValueError, match="regulariser"):
        games.DiracGAN("saturating", "dropout")
    with pytest.raises(ValueError, match="steps"):
        analysis.simulate(G, "simultaneous", lr=0.1, steps=-1, x0=1.0, y0=1.0)
    with pytest.raises(TypeError, match="momentum"):
        optim.get("momentum", gamma=1)
    with pytest.raises(ValueError, match="2-D"):
        games.Bilinear(np.ones(3))


def _gan_stability_wgan_gp(theta, psi, lr, steps, reg=1.0, target=1.0):
    """GAN_stability's Dirac-GAN WGAN_GP field (diracgan/gans.py: v1 = -psi, v2 = theta - reg (|psi| - target)
    sign(psi)), iterated by simultaneous gradient steps (theta += lr v1, psi += lr v2), no clipping."""
    out = [(psi, theta)]
    for _ in range(steps):
        v1, v2 = -psi, theta - reg * (abs(psi) - target) * np.sign(psi)
        theta, psi = theta + lr * v1, psi + lr * v2
        out.append((psi, theta))
    return np.array(out)


def test_wgan_gp_does_not_clip_and_equals_gan_stability():
    g = games.DiracGAN("wgan", "gradient_penalty", gamma=1.0)
    tr = analysis.simulate(g, "simultaneous", lr=0.1, steps=300, x0=0.5, y0=1.5)
    ref = _gan_stability_wgan_gp(1.5, 0.5, 0.1, 300)
    np.testing.assert_allclose(tr.x, ref[:, 0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(tr.y, ref[:, 1], rtol=0, atol=1e-13)
    assert tr.x.min() < -1.4  # psi goes below -1, where clip = 1 would have pinned it
    with pytest.raises(ValueError, match="must not clip"):
        games.DiracGAN("wgan", "gradient_penalty", clip=1.0)
    assert games.DiracGAN("wgan").clip == 1.0  # plain WGAN keeps its weight clipping


def test_gradient_penalty_has_no_linearisation_and_says_so():
    g = games.DiracGAN("saturating", "gradient_penalty")
    for call in (lambda: analysis.spectral_radius(g, "simultaneous", 0.1), g.eigenvalues,
                 lambda: analysis.spectral_radius(g, "simultaneous", sp.Symbol("eta"), symbolic=True)):
        with pytest.raises(ValueError, match="discontinuous at the equilibrium"):
            call()
    with pytest.raises(ValueError) as e:
        g.eigenvalues()
    assert "spectral_radius" not in str(e.value).split("no eigenvalues or spectral radius")[1].split(";")[0] \
        and "simulate" in str(e.value)  # the advice is to iterate, not to call the numeric radius


def test_step_matrix_refuses_a_kink_it_was_not_told_about():
    class Kinked(games.Game):
        name = "kinked"

        def grads(self, x, y):
            return y - abs(x) if not hasattr(x, "abs") else y - x.abs(), x

    with pytest.raises(ValueError, match="not differentiable at the equilibrium"):
        analysis.spectral_radius(Kinked(), "simultaneous", 0.1)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), np.array([0.1, -0.1]),
                                torch.tensor([0.1, float("nan")])])
def test_simulate_refuses_a_learning_rate_that_is_not_positive_and_finite(lr):
    with pytest.raises(ValueError, match="lr must be finite and > 0"):
        analysis.simulate(G, "simultaneous", lr=lr, steps=3, x0=1.0, y0=1.0)


@pytest.mark.parametrize("kw,match", [(dict(gamma=-1.0), "gamma"), (dict(sigma=float("nan")), "sigma"),
                                      (dict(clip=0.0), "clip")])
def test_dirac_gan_refuses_bad_strengths(kw, match):
    with pytest.raises(ValueError, match=match):
        games.DiracGAN("wgan", **kw)
