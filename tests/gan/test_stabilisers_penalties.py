import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import divkit as dk
from gan.stabilisers import add_instance_noise, linear_anneal, r1_penalty, r2_penalty, smoothed_p_term, wgan_gp_penalty


class Quadratic(nn.Module):
    """V(x) = ½ xᵀ A x: ∇V = A x in closed form."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(a)

    def forward(self, x):
        return 0.5 * ((x @ self.a) * x).sum(1)


def test_r1_r2_match_closed_form_and_are_differentiable():
    torch.manual_seed(0)
    a = torch.randn(3, 3, dtype=torch.float64)
    a = a + a.T
    critic = Quadratic(a.clone())
    x = torch.randn(10, 3, dtype=torch.float64)
    expected = 0.5 * 10.0 * (x @ a).pow(2).sum(1).mean()   # γ/2 · mean ‖A x‖²
    r1 = r1_penalty(critic, x, gamma=10.0)
    assert r1.item() == pytest.approx(expected.item(), rel=1e-12)
    assert r2_penalty(critic, x, gamma=10.0).item() == pytest.approx(expected.item(), rel=1e-12)
    r1.backward()
    # for a general (unconstrained) A, ∇_x V = ½(A + Aᵀ)x: differentiate the closed form in A with autograd
    a2 = a.clone().requires_grad_(True)
    (0.5 * 10.0 * (x @ (0.5 * (a2 + a2.T))).pow(2).sum(1).mean()).backward()
    assert torch.allclose(critic.a.grad, a2.grad, atol=1e-10)


def test_wgan_gp_matches_closed_form_on_linear_critic():
    torch.manual_seed(0)
    w = torch.tensor([3.0, 4.0], dtype=torch.float64)   # ‖∇V‖ = 5 everywhere
    critic = lambda x: x @ w
    real, fake = torch.randn(7, 2, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
    assert wgan_gp_penalty(critic, real, fake, weight=10.0).item() == pytest.approx(10.0 * 16.0, rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        wgan_gp_penalty(critic, real, fake[:3])


def test_wgan_gp_interpolates_per_sample_and_is_finite_at_zero_gradient():
    g = torch.Generator().manual_seed(3)
    seen = []

    def critic(x):
        seen.append(x.detach())
        return 0.0 * x.sum(1)  # zero gradient: the norm's gradient must stay finite
    real, fake = torch.zeros(5, 2, 2), torch.ones(5, 2, 2)
    pen = wgan_gp_penalty(critic, real, fake, generator=g)
    x_hat = seen[0]
    eps = 1 - x_hat[:, 0, 0]
    assert torch.allclose(x_hat, (1 - eps).view(5, 1, 1).expand(5, 2, 2))  # one ε per sample
    assert (eps >= 0).all() and (eps <= 1).all() and eps.std() > 0
    assert pen.item() == pytest.approx(10.0)


def test_instance_noise_and_anneal():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(20000, 1)
    y = add_instance_noise(x, 0.5, generator=g)
    # std of 20000 N(0, 0.25) samples: s.e. of the std ≈ 0.5/√40000 = 0.0025; 4 s.e. band
    assert abs(y.std().item() - 0.5) < 0.01
    assert add_instance_noise(x, 0.0) is x
    assert linear_anneal(0, 0.1, 100) == 0.1 and linear_anneal(50, 0.1, 100) == pytest.approx(0.05)
    assert linear_anneal(500, 0.1, 100) == 0.0
    with pytest.raises(ValueError, match="std"):
        add_instance_noise(x, -1.0)


@given(st.floats(-30, 30))
def test_smoothing_gan_is_bce_with_target_0_9(v):
    t = torch.tensor(v, dtype=torch.float64)
    expected = 0.9 * torch.nn.functional.logsigmoid(t) + 0.1 * torch.nn.functional.logsigmoid(-t)
    got = smoothed_p_term(dk.get("gan"), t, 0.1)
    assert got.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.tensor(0.9, dtype=torch.float64))
    assert got.item() == pytest.approx(-bce.item(), rel=1e-12, abs=1e-12)


@given(st.floats(-30, 30))
def test_smoothing_js_is_the_half_scaled_form(v):
    t = torch.tensor(v, dtype=torch.float64)
    expected = 0.5 * (0.9 * torch.nn.functional.logsigmoid(t) + 0.1 * torch.nn.functional.logsigmoid(-t)) \
        + 0.5 * math.log(2)
    assert smoothed_p_term(dk.get("js"), t, 0.1).item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", ["gan", "js"])
@pytest.mark.parametrize("p,q", [(0.3, 0.7), (2.0, 0.5), (1.0, 1.0)])
def test_smoothed_optimal_critic_is_salimans_d_star(name, p, q):
    """Pointwise maximiser of p·p_α(v) − q·q(v) over a fine grid: σ(v*) = 0.9·p/(p+q)."""
    div = dk.get(name)
    v = torch.linspace(-8, 8, 400001, dtype=torch.float64)
    obj = p * smoothed_p_term(div, v, 0.1) - q * div.q_term(v)
    v_star = v[obj.argmax()]
    # grid step 4e-5 in v: σ changes by ≤ 1e-5 per step
    assert torch.sigmoid(v_star).item() == pytest.approx(0.9 * p / (p + q), abs=2e-5)


def test_smoothing_finite_at_extremes_and_errors():
    for dtype in (torch.float32, torch.bfloat16):
        v = torch.tensor([-1e4, 0.0, 1e4], dtype=dtype, requires_grad=True)
        out = smoothed_p_term(dk.get("gan"), v)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(v.grad).all()
    with pytest.raises(ValueError, match=r"\['gan', 'js'\]"):
        smoothed_p_term(dk.get("kl"), torch.zeros(2))
    with pytest.raises(ValueError, match="alpha"):
        smoothed_p_term(dk.get("gan"), torch.zeros(2), 1.0)
    assert torch.equal(smoothed_p_term(dk.get("gan"), torch.ones(2), 0.0), dk.get("gan").p_term(torch.ones(2)))
