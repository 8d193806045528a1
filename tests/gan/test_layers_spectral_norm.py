import copy

import pytest
import torch
from torch import nn

from gan.layers import (
    apply_spectral_norm,
    frozen_power_iteration,
    power_iteration_,
    remove_spectral_norm,
    spectral_norm,
)
from gan.stabilisers import GeneratorEMA


def _critic(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(spectral_norm(nn.Linear(3, 16)), nn.LeakyReLU(0.2), spectral_norm(nn.Linear(16, 1)))


@pytest.mark.parametrize("layer", [lambda: nn.Linear(7, 5), lambda: nn.Linear(3, 9), lambda: nn.Conv2d(3, 6, 3),
                                   lambda: nn.ConvTranspose2d(4, 2, 4)])
def test_top_singular_value_is_one_after_power_iterations(layer):
    torch.manual_seed(1)
    m = spectral_norm(layer())
    power_iteration_(m, 500)
    m.eval()
    m(torch.randn(1, *( (m.in_features,) if isinstance(m, nn.Linear) else (m.in_channels, 6, 6))))
    w = m.weight.movedim(1, 0) if isinstance(m, nn.ConvTranspose2d) else m.weight   # output axis first
    w = w.reshape(w.shape[0], -1)
    # power iteration converges geometrically in (σ2/σ1)²; 500 steps on random weights reach float32 rounding:
    # 1e-4 relative is ~1000 float32 eps on a 7×5 SVD
    assert torch.linalg.svdvals(w)[0].item() == pytest.approx(1.0, rel=1e-4)
    w_orig = m.weight_orig.movedim(1, 0) if isinstance(m, nn.ConvTranspose2d) else m.weight_orig
    w_orig = w_orig.reshape(w.shape)
    assert (w_orig / torch.linalg.svdvals(w_orig)[0] - w).abs().max() < 1e-5


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(3, 6, 3), lambda: nn.ConvTranspose2d(4, 2, 4)])
def test_matches_torch_parametrization_after_convergence(make):
    torch.manual_seed(2)
    ours, ref = make(), make()
    ref.load_state_dict(ours.state_dict())
    spectral_norm(ours)
    power_iteration_(ours, 500)
    torch.nn.utils.parametrizations.spectral_norm(ref, n_power_iterations=500)
    x = torch.randn(1, ours.in_channels, 5, 5)
    ref.train()
    ref(x)                      # torch iterates on access in train mode: 500 iterations
    ours.eval(), ref.eval()
    # both converge to the same top singular vector of the same matrix; float32 after 500 iterations
    assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_u_is_a_buffer_kept_between_steps_and_saved():
    m = _critic()
    lin = m[0]
    assert "0.weight_u" in dict(m.named_buffers()) and "0.weight_v" in dict(m.named_buffers())
    assert "0.weight_orig" in dict(m.named_parameters()) and "0.weight" not in dict(m.named_parameters())
    u0 = lin.weight_u.clone()
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    m(torch.randn(4, 3))
    # one more iteration from the stored u: equals doing it by hand from u0's successor
    assert not torch.equal(u0, lin.weight_u)
    sd = m.state_dict()
    m2 = _critic(seed=5)
    m2.load_state_dict(sd)
    assert torch.equal(m2[0].weight_u, lin.weight_u)


def test_one_power_iteration_per_critic_step_with_separate_real_and_fake_forwards():
    m = _critic()
    m.train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    start = [m[0].weight_sn_iterations, m[2].weight_sn_iterations]
    steps = 5
    for _ in range(steps):
        opt.zero_grad()
        v_real = m(torch.randn(8, 3))       # forward 1
        v_fake = m(torch.randn(8, 3))       # forward 2, same step
        m(torch.randn(2, 3))                # forward 3, same step (e.g. a penalty)
        (v_fake.mean() - v_real.mean()).backward()
        opt.step()
    m(torch.randn(2, 3))  # first forward of the next step: the last update triggers one iteration
    assert [m[0].weight_sn_iterations - start[0], m[2].weight_sn_iterations - start[1]] == [steps, steps]


def test_eval_and_frozen_do_not_iterate_and_iteration_matches_algorithm_1():
    m = _critic()
    lin = m[0]
    n = lin.weight_sn_iterations
    m.eval()
    m(torch.randn(2, 3))
    with torch.no_grad():
        lin.weight_orig.add_(0.1)  # in-place like an optimizer step (bumps the version counter)
    m(torch.randn(2, 3))
    assert lin.weight_sn_iterations == n
    m.train()
    with frozen_power_iteration(m):
        m(torch.randn(2, 3))
    assert lin.weight_sn_iterations == n
    u, w = lin.weight_u.clone(), lin.weight_orig.detach()
    m(torch.randn(2, 3))
    v1 = torch.nn.functional.normalize(w.t() @ u, dim=0)
    u1 = torch.nn.functional.normalize(w @ v1, dim=0)
    assert torch.allclose(lin.weight_u, u1, atol=1e-7) and torch.allclose(lin.weight_v, v1, atol=1e-7)
    assert torch.allclose(lin.weight, w / torch.dot(u1, w @ v1), atol=1e-7)


def test_gradient_flows_to_weight_orig_not_through_u():
    m = _critic()
    m.train()
    m(torch.randn(4, 3)).sum().backward()
    assert m[0].weight_orig.grad is not None and torch.isfinite(m[0].weight_orig.grad).all()
    assert not m[0].weight_u.requires_grad


def test_ema_copies_not_averages_power_iteration_buffers():
    g = _critic()
    ema = GeneratorEMA(g, decay=0.5)
    opt = torch.optim.SGD(g.parameters(), lr=0.5)
    g.train()
    for _ in range(3):
        opt.zero_grad()
        g(torch.randn(4, 3)).sum().backward()
        opt.step()
        g(torch.randn(4, 3))  # power iteration for the new weights
        old_u = ema.ema[0].weight_u.clone()
        ema.update(g)
        assert torch.equal(ema.ema[0].weight_u, g[0].weight_u)   # copied
        assert not torch.allclose(ema.ema[0].weight_u, 0.5 * (old_u + g[0].weight_u))  # not averaged
        assert ema.ema[0].weight_u.norm().item() == pytest.approx(1.0, abs=1e-6)


def test_remove_and_errors_and_deepcopy():
    m = spectral_norm(nn.Linear(4, 3))
    copy.deepcopy(m)(torch.randn(1, 4))
    with pytest.raises(ValueError, match="already applied"):
        spectral_norm(m)
    with pytest.raises(ValueError, match="no parameter named 'bogus'"):
        spectral_norm(nn.Linear(2, 2), name="bogus")
    with pytest.raises(ValueError, match="2 dimensions"):
        spectral_norm(nn.Linear(2, 2), name="bias")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        spectral_norm("linear")
    power_iteration_(m, 300)
    w = m.weight_orig.detach().clone()
    remove_spectral_norm(m)
    assert isinstance(m.weight, nn.Parameter)
    assert torch.linalg.svdvals(m.weight)[0].item() == pytest.approx(1.0, rel=1e-4)
    assert torch.allclose(m.weight * torch.linalg.svdvals(w)[0], w, atol=1e-5)


def test_float64_and_dtype_preserved():
    m = spectral_norm(nn.Linear(4, 3).double())
    assert m.weight_u.dtype == torch.float64
    assert m(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64


def _train(model, opt, steps, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        opt.zero_grad()
        v = model(torch.randn(8, 3, generator=g))
        v2 = model(torch.randn(8, 3, generator=g))
        (v.mean() - v2.mean()).backward()
        opt.step()


@pytest.mark.parametrize("sync_before_save", [False, True])
def test_resume_from_state_dict_is_bit_identical(sync_before_save):
    full = _critic()
    opt = torch.optim.Adam(full.parameters(), lr=1e-2)
    _train(full, opt, 2, seed=1)
    if sync_before_save:
        full(torch.randn(1, 3))   # checkpoint taken after the iteration for the new weights
    state = {"m": copy.deepcopy(full.state_dict()), "o": copy.deepcopy(opt.state_dict())}
    _train(full, opt, 2, seed=2)

    resumed = _critic(seed=9)
    resumed.load_state_dict(state["m"])
    opt2 = torch.optim.Adam(resumed.parameters(), lr=1e-2)
    opt2.load_state_dict(state["o"])
    _train(resumed, opt2, 2, seed=2)
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert "0.weight_sn_stale" in state["m"] and bool(state["m"]["0.weight_sn_stale"]) is (not sync_before_save)
    # strict loading into a plain SN model accepts the flag
    _critic().load_state_dict(state["m"], strict=True)


def test_apply_spectral_norm_to_a_whole_critic():
    from gan.layers import SelfAttention2d
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), SelfAttention2d(8), nn.Flatten(),
                          nn.Linear(8 * 4 * 4, 1))
    apply_spectral_norm(model)
    names = {n for n, _ in model.named_parameters()}
    assert {"0.weight_orig", "2.f.weight_orig", "2.g.weight_orig", "2.h.weight_orig", "4.weight_orig"} <= names
    assert "1.weight" in names          # BatchNorm untouched
    apply_spectral_norm(model)          # idempotent
    assert model(torch.randn(2, 3, 4, 4)).shape == (2, 1)


def test_power_iteration_and_sigma_stay_float32_under_bf16_autocast():
    torch.manual_seed(0)
    a, b = spectral_norm(nn.Linear(16, 16)), spectral_norm(nn.Linear(16, 16))
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    x = torch.randn(4, 16)
    for opt in (opt_a, opt_b):
        opt.zero_grad()
    a(x).sum().backward(); opt_a.step()
    b(x).sum().backward(); opt_b.step()
    a(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        b(x)
    # identical weights; the iteration under autocast must match float32 to rounding (bf16 would give ~1e-2)
    assert b.weight_u.dtype == torch.float32
    assert torch.allclose(a.weight_u, b.weight_u, atol=1e-6)
    assert torch.allclose(a.weight, b.weight, atol=1e-6)
