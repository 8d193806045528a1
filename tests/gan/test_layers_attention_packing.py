import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gan.layers import PackedCritic, SelfAttention2d, pack, packed_features, unpack


def test_self_attention_is_identity_at_init_and_gamma_gets_gradient():
    torch.manual_seed(0)
    block = SelfAttention2d(16)
    assert block.f.out_channels == 2 and block.g.out_channels == 2 and block.h.out_channels == 16
    assert block.gamma.item() == 0.0
    x = torch.randn(2, 16, 5, 4)
    assert torch.equal(block(x), x)
    loss = (block(x) * torch.randn_like(x)).sum()
    loss.backward()
    assert block.gamma.grad is not None and block.gamma.grad.abs().item() > 0
    # at γ = 0 the convs get no gradient yet (y = x + 0·o): what SAGAN intends
    assert block.h.weight.grad.abs().max().item() == 0.0


def test_self_attention_matches_loop_formula():
    torch.manual_seed(1)
    block = SelfAttention2d(8).double()
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64)
    f = block.f(x).flatten(2)
    g = block.g(x).flatten(2)
    h = block.h(x).flatten(2)
    n = 9
    expected = torch.empty(2, 8, n, dtype=torch.float64)
    for b in range(2):
        for j in range(n):
            s = torch.stack([f[b, :, i] @ g[b, :, j] for i in range(n)])  # s_ij over i
            beta = torch.exp(s - s.max()) / torch.exp(s - s.max()).sum()
            expected[b, :, j] = sum(beta[i] * h[b, :, i] for i in range(n))
    y = block(x)
    assert torch.allclose(y, x + 0.7 * expected.reshape(2, 8, 3, 3), atol=1e-12)
    assert torch.allclose(block.attention(x).sum(-1), torch.ones(2, n, dtype=torch.float64), atol=1e-12)


def test_self_attention_errors_and_spectral_norm():
    with pytest.raises(ValueError, match="channels ≥ 8"):
        SelfAttention2d(4)
    block = SelfAttention2d(8, spectral_norm=True)
    assert hasattr(block.f, "weight_u")
    with pytest.raises(ValueError, match=r"\(B, 8, H, W\)"):
        block(torch.randn(2, 4, 3, 3))


def test_pack_groups_consecutive_samples_vectors_and_images():
    x = torch.arange(6 * 2, dtype=torch.float32).reshape(6, 2)   # sample i = (2i, 2i+1)
    p = pack(x, 3)
    assert p.shape == (2, 6)
    assert torch.equal(p[0], torch.cat([x[0], x[1], x[2]])) and torch.equal(p[1], torch.cat([x[3], x[4], x[5]]))
    img = torch.randn(4, 3, 5, 5)
    pi = pack(img, 2)
    assert pi.shape == (2, 6, 5, 5)
    assert torch.equal(pi[1, 3:6], img[3]) and torch.equal(pi[1, 0:3], img[2])
    assert torch.equal(unpack(pi, 2), img)


def test_packed_critic_input_size_and_output_per_pack():
    m, d = 4, 2
    critic = nn.Sequential(nn.Linear(packed_features(d, m), 8), nn.ReLU(), nn.Linear(8, 1))
    pc = PackedCritic(critic, m)
    out = pc(torch.randn(16, d))
    assert out.shape == (4, 1)
    assert critic[0].in_features == 8
    with pytest.raises(ValueError, match="not divisible by the pack size m=4"):
        pc(torch.randn(10, d))
    with pytest.raises(ValueError, match="positive int"):
        pack(torch.randn(4, 2), 0)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.booleans())
def test_pack_unpack_roundtrip_and_pack_contents(b, m, f, image):
    shape = (b * m, f, 2, 3) if image else (b * m, f)
    x = torch.randn(shape)
    p = pack(x, m)
    assert p.shape[0] == b and p.shape[1] == m * f
    assert torch.equal(unpack(p, m), x)
    for i in range(b):
        for k in range(m):
            assert torch.equal(p[i, k * f:(k + 1) * f], x[i * m + k])
