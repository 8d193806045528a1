import pytest
import torch
from torch import nn

from gan.layers.conditioning import ProjectionDiscriminator, ProjectionHead, concat_condition, one_hot


def test_projection_formula_shapes_and_label_dependence():
    torch.manual_seed(0)
    phi = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU())
    d = ProjectionDiscriminator(phi, 6, num_classes=3)
    x = torch.randn(5, 3, 2, 2)
    y = torch.tensor([0, 1, 2, 0, 1])
    out = d(x, y)
    assert out.shape == (5,)
    h = phi(x)
    expected = d.head.psi(h).squeeze(-1) + (d.head.embed.weight[y] * h).sum(-1)
    assert torch.allclose(out, expected, atol=1e-6)
    other = d(x, (y + 1) % 3)
    assert (out - other).abs().min() > 0   # the label changes every output
    # the label-free part is the same: differences are exactly the embedding inner products
    assert torch.allclose(out - other, ((d.head.embed.weight[y] - d.head.embed.weight[(y + 1) % 3]) * h).sum(-1),
                          atol=1e-6)
    out.sum().backward()
    assert d.head.embed.weight.grad[y].abs().sum() > 0


def test_projection_with_spectral_norm_and_label_errors():
    head = ProjectionHead(4, 3, spectral_norm=True)
    assert hasattr(head.embed, "weight_u") and hasattr(head.psi, "weight_u")
    assert head(torch.randn(2, 4), torch.tensor([0, 2])).shape == (2,)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        head(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer tensor"):
        head(torch.randn(2, 4), torch.tensor([0.0, 1.0]))


def test_concat_condition_vectors_and_images():
    y = torch.tensor([2, 0])
    assert torch.equal(one_hot(y, 3), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    v = concat_condition(torch.zeros(2, 4), y, 3)
    assert v.shape == (2, 7) and torch.equal(v[:, 4:], one_hot(y, 3))
    img = concat_condition(torch.zeros(2, 1, 5, 5), y, 3)
    assert img.shape == (2, 4, 5, 5)
    assert torch.equal(img[0, 3], torch.ones(5, 5)) and torch.equal(img[0, 1], torch.zeros(5, 5))
    with pytest.raises(ValueError, match="same batch size"):
        concat_condition(torch.zeros(3, 4), y, 3)
