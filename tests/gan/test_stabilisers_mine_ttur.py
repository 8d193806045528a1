import math

import pytest
import torch


@pytest.fixture
def one_thread():
    # tiny networks: intra-op threads only contend on a shared 2-core machine (measured 25× slower with 2)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

from divkit import bounds as dk_bounds
from gan.stabilisers.mine_regulariser import MINERegulariser
from gan.stabilisers.ttur import PRESETS, get_preset, make_optimizers


def test_statistics_network_learns_known_mi(one_thread):
    """x = c + σ·n in 1-D: I(x; c) = ½ log(1 + 1/σ²) (Gaussian channel)."""
    torch.manual_seed(0)
    sigma = 0.5
    true_mi = 0.5 * math.log(1 + 1 / sigma ** 2)   # 0.80 nats
    reg = MINERegulariser(1, 1, beta=1.0, critic="separable", rate=0.05, hidden=32, embed_dim=8)
    opt = torch.optim.Adam(reg.critic.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(300):
        c = reg.sample_code(128, generator=g)
        x = c + sigma * torch.randn(128, 1, generator=g)
        opt.zero_grad()
        reg.statistics_loss(x, c).backward()
        opt.step()
    c = reg.sample_code(2000, generator=g)
    x = c + sigma * torch.randn(2000, 1, generator=g)
    est = reg.estimate(x, c).item()
    # DV with a learned critic is (up to minibatch noise) a lower bound; 300 steps get most of it. The s.e. of
    # the 2000-sample estimate is ~0.03, so the upper band is 3 s.e.
    assert 0.6 * true_mi < est < true_mi + 0.1, est
    c_ind = reg.sample_code(2000, generator=g)
    assert reg.estimate(torch.randn(2000, 1, generator=g), c_ind).item() < 0.1


def test_generator_term_gradient_is_mine_corrected_and_equals_dv_with_rate_one():
    torch.manual_seed(0)
    reg = MINERegulariser(2, 3, beta=0.5, rate=1.0, hidden=16).double()
    c = reg.sample_code(10, dtype=torch.float64)
    x = torch.randn(10, 2, dtype=torch.float64, requires_grad=True)
    # before any statistics step: plain DV
    t0 = reg.generator_term(x, c)
    assert t0.item() == pytest.approx(-0.5 * dk_bounds.dv(reg.critic(x, c)).item(), rel=1e-12)
    reg.statistics_loss(x, c)           # rate 1: moving average = this batch's mean_{i≠j} e^S
    g_reg = torch.autograd.grad(reg.generator_term(x, c), x)[0]
    g_dv = torch.autograd.grad(-0.5 * dk_bounds.dv(reg.critic(x, c)), x)[0]
    # with m equal to the current batch's mean the corrected gradient is the DV gradient (MINE §3.2)
    assert torch.allclose(g_reg, g_dv, atol=1e-12)
    # statistics_loss does not reach x
    x.grad = None
    reg.statistics_loss(x, c).backward()
    assert x.grad is None


def test_mine_regulariser_validation_and_inputs():
    with pytest.raises(ValueError, match="code_dim"):
        MINERegulariser(2, 0)
    with pytest.raises(ValueError, match="beta"):
        MINERegulariser(2, 2, beta=-1)
    with pytest.raises(ValueError, match="code must be"):
        MINERegulariser(2, 2, code="bernoulli")
    reg = MINERegulariser(2, 3, code="uniform", hidden=8)
    c = reg.sample_code(5)
    assert c.shape == (5, 3) and c.abs().max() <= 1
    assert MINERegulariser.generator_input(torch.zeros(5, 4), c).shape == (5, 7)
    cat = MINERegulariser(2, 4, code="categorical", hidden=8).sample_code(4000, generator=torch.Generator().manual_seed(0))
    assert cat.shape == (4000, 4) and torch.equal(cat.sum(1), torch.ones(4000)) and set(cat.unique().tolist()) == {0, 1}
    # uniform over the 4 classes: each count ~ Binomial(4000, 1/4), sd 27; 6 sd = 164
    assert (cat.sum(0) - 1000).abs().max() < 164
    with pytest.raises(ValueError, match="categorical code needs code_dim ≥ 2"):
        MINERegulariser(2, 1, code="categorical")
    with pytest.raises(ValueError, match="same batch size"):
        reg.estimate(torch.zeros(4, 2), c)


def test_ttur_presets():
    s = get_preset("sagan")
    assert (s.lr_d, s.lr_g, s.betas_d, s.betas_g, s.n_critic) == (4e-4, 1e-4, (0.0, 0.9), (0.0, 0.9), 1)
    assert get_preset("TTUR") is s
    assert PRESETS["wgan_gp"].n_critic == 5
    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    opt_g, opt_d = make_optimizers("sagan", g, d)
    assert opt_d.param_groups[0]["lr"] == 4e-4 and opt_g.param_groups[0]["lr"] == 1e-4
    assert opt_d.param_groups[0]["betas"] == (0.0, 0.9)
    with pytest.raises(ValueError, match="known: \\['dcgan', 'pacgan', 'sagan', 'wgan_gp', 'ttur'\\]"):
        get_preset("adam")
