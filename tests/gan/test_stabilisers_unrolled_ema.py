import pytest
import torch
from torch import nn

import divkit as dk
from gan.layers import spectral_norm
from gan.stabilisers import GeneratorEMA, unrolled_critic_params, unrolled_generator_loss

DIV = dk.get("gan")


def critic_objective(v_real, v_fake):
    return DIV.p_term(v_real).mean() - DIV.q_term(v_fake).mean()


def generator_loss(v_fake):  # non-saturating: minimise −E_Q[g_f(V)]
    return -DIV.p_term(v_fake).mean()


def _setup(sn=False):
    torch.manual_seed(0)
    gen = nn.Linear(2, 2).double()
    critic = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    if sn:
        spectral_norm(critic[0])
    z = torch.randn(6, 2, dtype=torch.float64)
    x_real = torch.randn(6, 2, dtype=torch.float64) + 1.0
    return gen, critic, z, x_real


def _loss(gen, critic, z, x_real, k, lr=0.5):
    return unrolled_generator_loss(critic, critic_objective, generator_loss, x_real, gen(z), k, lr).squeeze()


def _central_differences(loss, params, h=1e-6):
    """(loss(p + h e_i) − loss(p − h e_i)) / 2h for every entry of every parameter, one tensor per parameter."""
    out = []
    for p in params:
        fd = torch.empty_like(p)
        for i in range(p.numel()):
            with torch.no_grad():
                p.view(-1)[i] += h
            up = loss().item()
            with torch.no_grad():
                p.view(-1)[i] -= 2 * h
            down = loss().item()
            with torch.no_grad():
                p.view(-1)[i] += h
            fd.view(-1)[i] = (up - down) / (2 * h)
        out.append(fd)
    return out


@pytest.mark.parametrize("k", [1, 3])
def test_unrolled_gradient_matches_finite_differences(k):
    gen, critic, z, x_real = _setup()
    loss = lambda: _loss(gen, critic, z, x_real, k)  # noqa: E731
    grads = torch.autograd.grad(loss(), list(gen.parameters()))
    for g, fd in zip(grads, _central_differences(loss, gen.parameters())):
        # central differences in float64: truncation O(h²) ~ 1e-12, rounding ~ eps/h ~ 1e-10
        assert torch.allclose(g, fd, atol=1e-8, rtol=1e-7), (g, fd)


def test_unrolled_zero_steps_is_plain_loss_and_lookahead_changes_gradient():
    gen, critic, z, x_real = _setup()
    plain = generator_loss(critic(gen(z)))
    assert _loss(gen, critic, z, x_real, 0).item() == pytest.approx(plain.item(), rel=1e-15)
    g0 = torch.autograd.grad(_loss(gen, critic, z, x_real, 0), gen.weight)[0]
    g3 = torch.autograd.grad(_loss(gen, critic, z, x_real, 3), gen.weight)[0]
    assert (g0 - g3).abs().max() > 1e-4


def test_unrolled_params_match_manual_sgd_ascent_and_leave_critic_untouched():
    gen, critic, z, x_real = _setup()
    before = {n: p.detach().clone() for n, p in critic.named_parameters()}
    params = unrolled_critic_params(critic, critic_objective, x_real, gen(z).detach(), 2, 0.5)
    manual = [p.detach().clone() for p in critic.parameters()]
    clone = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    for _ in range(2):
        for q, m in zip(clone.parameters(), manual):
            q.data.copy_(m)
        clone.zero_grad()
        critic_objective(clone(x_real), clone(gen(z).detach())).backward()
        manual = [m + 0.5 * q.grad for m, q in zip(manual, clone.parameters())]
    for (n, p), m in zip(params.items(), manual):
        assert torch.allclose(p, m, atol=1e-12)
    for n, p in critic.named_parameters():
        assert torch.equal(p, before[n]) and p.grad is None
    with pytest.raises(ValueError, match="steps"):
        unrolled_critic_params(critic, critic_objective, x_real, gen(z), -1, 0.5)


def _critic_adam(critic, gen, z, x_real, warm_steps):
    """The critic's own Adam after `warm_steps` real steps on its loss (so its moments are non-trivial)."""
    opt = torch.optim.Adam(critic.parameters(), lr=0.05, betas=(0.5, 0.9))
    for _ in range(warm_steps):
        opt.zero_grad()
        (-critic_objective(critic(x_real), critic(gen(z).detach()))).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("warm_steps", [0, 3])
def test_unrolled_adam_lookahead_equals_torch_adam_steps_and_leaves_the_optimiser_alone(warm_steps):
    gen, critic, z, x_real = _setup()
    opt = _critic_adam(critic, gen, z, x_real, warm_steps)
    before = {k: {s: (t.clone() if torch.is_tensor(t) else t) for s, t in v.items()} for k, v in opt.state.items()}
    params = unrolled_critic_params(critic, critic_objective, x_real, gen(z).detach(), 3, 0.05, optimizer=opt)
    for p in critic.parameters():  # the optimiser's state is untouched by the look-ahead
        for key, val in before.get(p, {}).items():
            assert torch.equal(opt.state[p][key], val)
    # reference: torch's Adam, continued for 3 steps on a copy of the critic and of the optimiser's state
    clone = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    clone.load_state_dict(critic.state_dict())
    ref = torch.optim.Adam(clone.parameters(), lr=0.05, betas=(0.5, 0.9))
    ref.load_state_dict(opt.state_dict())
    for _ in range(3):
        ref.zero_grad()
        (-critic_objective(clone(x_real), clone(gen(z).detach()))).backward()
        ref.step()
    for (n, p), q in zip(params.items(), clone.parameters()):
        # float64, same formula; only the clamp of v̂ at eps² (inactive here) and rounding order differ
        assert torch.allclose(p, q, atol=1e-12, rtol=1e-10), n


def test_unrolled_adam_gradient_matches_finite_differences():
    gen, critic, z, x_real = _setup()
    opt = _critic_adam(critic, gen, z, x_real, 2)

    def loss():
        return unrolled_generator_loss(critic, critic_objective, generator_loss, x_real, gen(z), 3, 0.05,
                                       optimizer=opt).squeeze()

    grads = torch.autograd.grad(loss(), list(gen.parameters()))
    for g, fd in zip(grads, _central_differences(loss, gen.parameters())):
        # central differences in float64 (as above); Adam's normalisation adds curvature, hence rtol 1e-6
        assert torch.allclose(g, fd, atol=1e-8, rtol=1e-6), (g, fd)


def test_unrolled_adam_rejects_other_optimisers():
    gen, critic, z, x_real = _setup()
    with pytest.raises(TypeError, match="torch.optim.Adam"):
        unrolled_critic_params(critic, critic_objective, x_real, gen(z), 1, 0.1,
                               optimizer=torch.optim.SGD(critic.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="does not hold"):
        unrolled_critic_params(critic, critic_objective, x_real, gen(z), 1, 0.1,
                               optimizer=torch.optim.Adam(list(critic.parameters())[:2]))


def test_unrolled_with_spectral_norm_critic_runs_no_power_iteration():
    gen, critic, z, x_real = _setup(sn=True)
    critic.train()
    n = critic[0].weight_sn_iterations
    u = critic[0].weight_u.clone()
    loss = _loss(gen, critic, z, x_real, 2)
    loss.backward()
    assert critic[0].weight_sn_iterations == n and torch.equal(critic[0].weight_u, u)
    assert torch.isfinite(gen.weight.grad).all()


def test_ema_averages_parameters_and_copies_batchnorm_stats():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ema = GeneratorEMA(g, decay=0.9)
    assert not ema.ema.training and not any(p.requires_grad for p in ema.ema.parameters())
    w0 = g[0].weight.detach().clone()
    with torch.no_grad():
        g[0].weight.add_(1.0)
    g.train()
    g(torch.randn(16, 2))  # changes running stats
    ema.update(g)
    assert torch.allclose(ema.ema[0].weight, 0.9 * w0 + 0.1 * (w0 + 1.0), atol=1e-6)
    assert torch.equal(ema.ema[1].running_mean, g[1].running_mean)
    assert torch.equal(ema.ema[1].running_var, g[1].running_var)
    assert ema.ema[1].num_batches_tracked.item() == g[1].num_batches_tracked.item() == 1
    assert int(ema.updates) == 1
    with pytest.raises(ValueError, match="decay"):
        GeneratorEMA(g, decay=1.0)


def test_ema_warmup_schedule_and_state_dict_roundtrip():
    g = nn.Linear(2, 2)
    ema = GeneratorEMA(g, decay=0.999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)   # (1 + 0)/(10 + 0)
    ema.update(g)
    assert ema.current_decay() == pytest.approx(2 / 11)
    other = GeneratorEMA(nn.Linear(2, 2), decay=0.999, warmup=True)
    other.load_state_dict(ema.state_dict())
    assert int(other.updates) == 1 and torch.equal(other.ema.weight, ema.ema.weight)


def test_ema_recompute_batchnorm_restores_momentum():
    g = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    ema = GeneratorEMA(g)
    batches = [torch.randn(32, 2) for _ in range(3)]
    ema.recompute_batchnorm(batches)
    h = torch.cat([ema.ema[0](b) for b in batches])
    assert torch.allclose(ema.ema[1].running_mean, h.mean(0).detach(), atol=1e-5)
    assert ema.ema[1].momentum == 0.1 and not ema.ema.training
