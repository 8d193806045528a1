"""gan.losses: f-GAN losses use divkit's terms; the −log D identity; baselines; finiteness at |v| = 1e4."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import divkit
from gan import losses

ALL = losses.names()
FINITE_V = [1e4, -1e4, 0.0, 30.0, -30.0, 1e-3]


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=16))
def test_nonsaturating_gan_is_minus_log_d(vs):
    # −log σ(v) = softplus(−v), exact identity; tolerance: float64 round-off.
    v = torch.tensor(vs, dtype=torch.float64)
    got = losses.get("gan", "nonsaturating").generator_loss(v)
    # exact softplus(−v) = max(−v, 0) + log1p(e^{−|v|}) (torch's softplus returns x itself beyond x > 20)
    want = (torch.clamp(-v, min=0) + torch.log1p(torch.exp(-v.abs()))).mean()
    assert torch.allclose(got, want, rtol=1e-14, atol=1e-15)


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=8), st.lists(st.floats(-30, 30), min_size=1, max_size=8))
def test_gan_critic_loss_is_bce_with_logits(vr, vf):
    # For the gan divergence the critic loss is BCE with logits (labels 1 real, 0 fake), averaged per side.
    vr, vf = torch.tensor(vr, dtype=torch.float64), torch.tensor(vf, dtype=torch.float64)
    got = losses.get("gan").critic_loss(vr, vf)
    def sp(x):
        return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))
    want = sp(-vr).mean() + sp(vf).mean()  # BCE with logits: −log σ(v) on real, −log(1 − σ(v)) on fake
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", divkit.names())
def test_fgan_losses_are_built_from_divkit_terms(name):
    d = divkit.get(name)
    v_r = torch.linspace(-3, 3, 11, dtype=torch.float64)
    v_f = torch.linspace(-2, 4, 7, dtype=torch.float64)
    sat, ns = losses.get(name, "saturating"), losses.get(name, "nonsaturating")
    crit = -(d.p_term(v_r).mean() - d.q_term(v_f).mean())
    assert torch.equal(sat.critic_loss(v_r, v_f), crit) and torch.equal(ns.critic_loss(v_r, v_f), crit)
    assert torch.equal(sat.generator_loss(v_f), -d.q_term(v_f).mean())
    assert torch.equal(ns.generator_loss(v_f), -d.p_term(v_f).mean())


@pytest.mark.parametrize("name", divkit.names())
def test_critic_objective_is_tight_at_the_optimal_critic(name):
    # Two point masses at x=0,1 with P=(0.7,0.3), Q=(0.4,0.6): at T* = f'(p/q) the bound equals D_f.
    # With v such that g_f(v) = T*, the critic objective must equal sum q f(p/q) up to float64 round-off.
    d = divkit.get(name)
    if name == "tv":
        pytest.skip("tv: g_f = ½ tanh v reaches the optimal critic ±½ only at v = ±∞")
    p, q = np.array([0.7, 0.3]), np.array([0.4, 0.6])
    t_star = d.f_prime(p / q)
    v = np.array([_invert(d.activation, t) for t in t_star])
    obj = p @ d.p_term(v) - q @ d.q_term(v)
    assert obj == pytest.approx(float(np.sum(d.integrand(p, q))), rel=1e-9, abs=1e-12)


def _invert(g, t, lo=-40.0, hi=40.0):
    for _ in range(200):  # bisection on the increasing activation
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if g(np.array(mid)) < t else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("gen", losses.GENERATOR_LOSSES)
@pytest.mark.parametrize("name", ALL + ["alpha(0.5)", "alpha(2)"])
def test_all_losses_finite_at_extreme_outputs(name, gen, dtype):
    loss = losses.get(name, gen)
    v = torch.tensor(FINITE_V, dtype=dtype, requires_grad=True)
    w = torch.tensor(FINITE_V[::-1], dtype=dtype, requires_grad=True)
    total = loss.critic_loss(v, w) + loss.generator_loss(w)
    assert torch.isfinite(total.float()), (name, gen, dtype, total)
    total.backward()
    assert torch.isfinite(v.grad.float()).all() and torch.isfinite(w.grad.float()).all()


def test_baselines_match_their_formulas():
    vr, vf = torch.tensor([2.0, -0.5, 0.3]), torch.tensor([-2.0, 0.5, 1.5])
    assert torch.allclose(losses.get("wgan").critic_loss(vr, vf), vf.mean() - vr.mean())
    assert torch.allclose(losses.get("hinge").critic_loss(vr, vf),
                          torch.tensor((0 + 1.5 + 0.7) / 3 + (0 + 1.5 + 2.5) / 3))
    assert torch.allclose(losses.get("least_squares").critic_loss(vr, vf),
                          0.5 * ((vr - 1) ** 2).mean() + 0.5 * (vf ** 2).mean())
    assert torch.allclose(losses.get("least_squares").generator_loss(vf), 0.5 * ((vf - 1) ** 2).mean())
    assert torch.allclose(losses.get("hinge").generator_loss(vf), -vf.mean())


def test_wgan_clips_weights():
    critic = torch.nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.fill_(5.0)
    losses.get("wgan", clip=0.05).after_critic_step(critic)
    assert critic.weight.abs().max().item() == pytest.approx(0.05)


def test_gradient_penalty_zero_for_unit_gradient_and_matches_formula():
    torch.manual_seed(0)
    gp = losses.get("wgan_gp", gp_weight=10.0)
    unit = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([[0.6, 0.8]]))  # ‖∇‖ = 1 everywhere
    x, y = torch.randn(16, 2), torch.randn(16, 2)
    assert gp.critic_penalty(unit, x, y).item() == pytest.approx(0.0, abs=1e-12)
    with torch.no_grad():
        unit.weight.mul_(3.0)  # ‖∇‖ = 3 → 10·(3−1)² = 40
    assert gp.critic_penalty(unit, x, y).item() == pytest.approx(40.0, rel=1e-6)


def test_unknown_names_list_known():
    with pytest.raises(ValueError, match="known: .*pearson.*wgan_gp"):
        losses.get("pearsn")
    with pytest.raises(ValueError, match="generator_loss must be one of"):
        losses.get("kl", "vanilla")
    with pytest.raises(TypeError):
        losses.get(3)
    assert math.isfinite(float(losses.get("alpha(0.5)").critic_loss(torch.zeros(2), torch.zeros(2))))
