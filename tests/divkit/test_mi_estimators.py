"""MINE, the estimator registry and the critics."""
import math

import pytest
import torch

import divkit as dk
from divkit import bounds as B
from divkit.mi import MINE, ConcatCritic, SeparableCritic, make_critic, make_estimator


def _scores(seed=0, k=8, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(k, k, generator=g, dtype=dtype) * 2


def _grad_of(fn, s):
    t = s.clone().requires_grad_(True)
    fn(t).backward()
    return t.grad


def test_mine_rate_one_gradient_equals_plain_dv_gradient():
    for seed in range(3):
        s = _scores(seed)
        mine = MINE(rate=1.0)
        mine(_scores(seed + 100))  # a previous batch: rate 1 must forget it entirely
        g_mine = _grad_of(lambda t: mine(t).surrogate, s)
        g_dv = _grad_of(B.dv, s)
        # same formula up to rounding: e^{S - lme}/(K(K-1)) vs softmax weights (float64)
        torch.testing.assert_close(g_mine, g_dv, rtol=1e-12, atol=1e-15)


def test_mine_gradient_differs_from_dv_with_a_slow_average():
    mine = MINE(rate=0.01)
    mine(_scores(1) - 3.0)
    g_mine = _grad_of(lambda t: mine(t).surrogate, _scores(2))
    assert not torch.allclose(g_mine, _grad_of(B.dv, _scores(2)), rtol=1e-3)


def test_mine_moving_average_matches_linear_space_recursion():
    r = 0.1
    mine = MINE(rate=r)
    m = None
    k = 8
    off = ~torch.eye(k, dtype=torch.bool)
    for seed in range(6):
        s = _scores(seed)
        out = mine(s)
        batch_mean = torch.exp(s[off]).mean().item()
        m = batch_mean if m is None else (1 - r) * m + r * batch_mean
        assert mine.log_ma.item() == pytest.approx(math.log(m), rel=1e-12)
        # reported value is the DV bound, the surrogate is not (it has no log)
        assert out.value.item() == pytest.approx(float(B.dv(s)), rel=1e-12)
        expected_sur = torch.diagonal(s).mean().item() - torch.exp(s[off]).mean().item() / m
        assert out.surrogate.item() == pytest.approx(expected_sur, rel=1e-10)


def test_mine_finite_at_extreme_scores_float32():
    mine = MINE(rate=0.01)
    for scale in (1e3, -1e3, 1e3):
        s = (torch.full((8, 8), scale) + torch.randn(8, 8)).requires_grad_(True)
        out = mine(s)
        out.surrogate.backward()
        assert torch.isfinite(out.value) and torch.isfinite(out.surrogate) and torch.isfinite(s.grad).all()
        assert torch.isfinite(mine.log_ma)


def test_mine_f_is_nwj_and_evaluate_has_no_side_effect():
    s = _scores(3)
    mf = make_estimator("mine_f")
    assert mf(s).value.item() == pytest.approx(float(B.nwj(s)), rel=1e-12)
    mine = MINE(rate=0.5)
    mine(s)
    before = mine.log_ma.clone()
    assert mine.evaluate(_scores(4)).item() == pytest.approx(float(B.dv(_scores(4))), rel=1e-12)
    assert torch.equal(mine.log_ma, before)


@pytest.mark.parametrize("name", dk.mi.ESTIMATORS)
def test_every_estimator_gives_finite_values_and_gradients(name):
    est = make_estimator(name, y_dim=3, **({"hidden": 8} if name in ("tuba", "interpolated") else {}))
    crit = SeparableCritic(2, 3, hidden=8, embed_dim=4)
    x, y = torch.randn(16, 2), torch.randn(16, 3)
    out = est(crit(x, y), y)
    (-out.surrogate).backward()
    assert torch.isfinite(out.value) and out.value.requires_grad is False
    grads = [p.grad for p in list(crit.parameters()) + list(est.parameters())]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert torch.isfinite(est.evaluate(crit(x, y), y))


def test_concat_critic_scores_every_pair_in_one_pass():
    torch.manual_seed(0)
    c = ConcatCritic(3, 2, hidden=16)
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    s = c(x, y)
    loop = torch.stack([torch.stack([c.f(torch.cat([x[i], y[j]]))[0] for j in range(5)]) for i in range(5)])
    torch.testing.assert_close(s, loop, rtol=1e-6, atol=1e-6)  # float32 matmul order


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_concat_critic_split_first_layer_matches_the_pair_tensor(layers):
    """The first layer is applied to x and y separately; values and parameter gradients must equal the
    straightforward MLP on the materialised (…, K1, K2, dx+dy) pair tensor, batched and rectangular."""
    torch.manual_seed(1)
    c = ConcatCritic(3, 2, hidden=8, layers=layers).double()
    x, y = torch.randn(2, 4, 3, dtype=torch.float64), torch.randn(2, 6, 2, dtype=torch.float64)
    pairs = torch.cat([x[:, :, None, :].expand(2, 4, 6, 3), y[:, None, :, :].expand(2, 4, 6, 2)], dim=-1)
    ref = c.f(pairs).squeeze(-1)
    s = c(x, y)
    assert s.shape == (2, 4, 6)
    torch.testing.assert_close(s, ref, rtol=1e-12, atol=1e-12)
    g_ref = torch.autograd.grad((ref ** 2).sum(), list(c.parameters()))
    g = torch.autograd.grad((s ** 2).sum(), list(c.parameters()))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_separable_critic_is_a_dot_product():
    torch.manual_seed(0)
    c = SeparableCritic(3, 2, hidden=16, embed_dim=4)
    x, y = torch.randn(5, 3), torch.randn(6, 2)
    s = c(x, y)
    assert s.shape == (5, 6)
    torch.testing.assert_close(s[1, 4], (c.g(x[1]) * c.h(y[4])).sum(), rtol=1e-6, atol=1e-6)


def test_bad_names_list_the_known_ones():
    with pytest.raises(ValueError, match="infonce"):
        make_estimator("mien")
    with pytest.raises(ValueError, match="separable"):
        make_critic("bilinear", 2, 2)
    with pytest.raises(ValueError, match="rate"):
        MINE(rate=0.0)
    with pytest.raises(ValueError, match="y_dim"):
        make_estimator("tuba")


def test_make_estimator_rejects_options_it_does_not_take():
    """issue 11: make_estimator silently dropped unknown options (smile(tau=1) ran with τ = 5)."""
    with pytest.raises(ValueError, match=r"'smile' takes the options \['clip'\]; got unknown \['tau'\]"):
        make_estimator("smile", tau=1.0)
    with pytest.raises(ValueError, match="takes the options none"):
        make_estimator("infonce", clip=1.0)
    with pytest.raises(ValueError, match="Estimator instance"):
        make_estimator(MINE(), rate=0.5)
    with pytest.raises(ValueError, match="clip"):
        make_estimator("smile", clip=-1.0)                      # validated when built, not at the first step
    with pytest.raises(ValueError, match="alpha"):
        make_estimator("interpolated", y_dim=2, alpha=2.0)
    assert make_estimator("mine", rate=0.5).rate == 0.5
    s = torch.randn(6, 6, dtype=torch.float64)
    assert make_estimator("smile", clip=1.0).evaluate(s) == dk.bounds.smile(s, 1.0)


def test_every_name_has_a_factory_and_js_is_the_papers_one():
    assert set(dk.mi.ESTIMATORS) == set(dk.mi.estimators.FACTORIES)
    s = torch.randn(6, 6, dtype=torch.float64)
    assert make_estimator("js").evaluate(s) == dk.bounds.nwj(s)            # NWJ(S), Song & Ermon's js_lower_bound
    assert make_estimator("js_shifted").evaluate(s).item() == pytest.approx(dk.bounds.nwj(s + 1.0).item(), rel=1e-14)


def test_gan_toy_models_use_the_one_mlp_builder():
    """issue 11 "one MLP builder": gan's toy MLPs are divkit's `mlp` (same layers, same seeded weights)."""
    from gan.models.mlp import MLPCritic
    torch.manual_seed(0)
    crit = MLPCritic(in_dim=2, hidden=8, layers=2)
    torch.manual_seed(0)
    ref = dk.mi.mlp(2, 1, 8, 2, activation=lambda: torch.nn.LeakyReLU(0.2))
    assert [type(m) for m in crit.net] == [type(m) for m in ref]
    for a, b in zip(crit.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_mine_on_rectangular_scores():
    """K×M scores (M − 1 negatives per row): the reported value is DV, and with rate 1 the surrogate's gradient is
    DV's gradient exactly, as on square batches."""
    s = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    out = MINE(rate=1.0)(s)
    assert torch.isclose(out.value, dk.bounds.dv(s.detach()))
    g_sur, = torch.autograd.grad(out.surrogate, s)
    g_dv, = torch.autograd.grad(dk.bounds.dv(s), s)
    torch.testing.assert_close(g_sur, g_dv, rtol=1e-12, atol=1e-14)
