"""Contract: the stabilisers compose with every registered divergence (one list drives the check)."""
import pytest
import torch
from torch import nn

import divkit as dk
from gan.layers import PackedCritic, apply_spectral_norm, packed_features
from gan.stabilisers import GeneratorEMA, MINERegulariser, add_instance_noise, r1_penalty, unrolled_generator_loss


def _objective(div):
    return lambda vr, vf: div.p_term(vr.reshape(-1)).mean() - div.q_term(vf.reshape(-1)).mean()


@pytest.mark.parametrize("name", dk.names())
def test_sn_pacgan_r1_noise_unrolled_mine_ema_step_for_every_divergence(name):
    torch.manual_seed(0)
    div = dk.get(name)
    m = 2
    G = nn.Sequential(nn.Linear(4 + 2, 16), nn.ReLU(), nn.Linear(16, 2))
    D = PackedCritic(apply_spectral_norm(nn.Sequential(nn.Linear(packed_features(2, m), 16), nn.LeakyReLU(0.2),
                                                       nn.Linear(16, 1))), m)
    reg = MINERegulariser(2, 2, beta=0.1, hidden=8)
    ema = GeneratorEMA(G, decay=0.9)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    opt_t = torch.optim.Adam(reg.critic.parameters(), 1e-3)
    objective = _objective(div)
    for _ in range(2):
        real = torch.randn(16, 2)
        c = reg.sample_code(16)
        fake = G(reg.generator_input(torch.randn(16, 4), c))
        v = D(add_instance_noise(torch.cat([real, fake.detach()]), 0.05))   # one forward: one power iteration
        loss_d = -objective(v[:8], v[8:]) + r1_penalty(D, real, gamma=1.0)
        opt_d.zero_grad(); loss_d.backward(); opt_d.step()
        opt_t.zero_grad(); reg.statistics_loss(fake, c).backward(); opt_t.step()
        loss_g = unrolled_generator_loss(D, objective, lambda vf: -div.p_term(vf.reshape(-1)).mean(), real, fake,
                                         steps=2, lr=0.05) + reg.generator_term(fake, c)
        opt_g.zero_grad(); loss_g.backward(); opt_g.step()
        ema.update(G)
        assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
        assert all(torch.isfinite(p.grad).all() for p in G.parameters())
