import pytest
import torch
import torch.nn.functional as F

from gan.layers.msg import MSGDiscriminator, MSGGenerator, image_pyramid


def test_generator_outputs_every_scale_and_critic_accepts_real_pyramid():
    torch.manual_seed(0)
    g = MSGGenerator(nz=8, channels=1, resolution=16, ngf=8)
    d = MSGDiscriminator(channels=1, resolution=16, ndf=8)
    outs = g(torch.randn(3, 8))
    assert [tuple(o.shape) for o in outs] == [(3, 1, 4, 4), (3, 1, 8, 8), (3, 1, 16, 16)]
    assert all(o.abs().max() <= 1 for o in outs)
    real = torch.rand(3, 1, 16, 16) * 2 - 1
    assert d(image_pyramid(real, 3)).shape == (3,)
    v = d(outs)
    assert v.shape == (3,)
    v.sum().backward()
    # multi-scale gradients: every intermediate to-RGB output receives a gradient from the critic directly
    for rgb in g.to_rgb:
        assert rgb.weight.grad is not None and rgb.weight.grad.abs().sum() > 0


def test_pyramid_is_repeated_2x2_means():
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    pyr = image_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [4, 8, 16]
    assert torch.equal(pyr[-1], x)
    assert torch.allclose(pyr[0], F.avg_pool2d(x, 4), atol=1e-14)
    assert pyr[1][0, 0, 0, 0].item() == pytest.approx(x[0, 0, :2, :2].mean().item(), rel=1e-14)


def test_msg_errors():
    with pytest.raises(ValueError, match="power of two"):
        MSGGenerator(resolution=28)
    d = MSGDiscriminator(channels=1, resolution=8, ndf=4)
    with pytest.raises(ValueError, match="expected 2 images"):
        d([torch.zeros(1, 1, 8, 8)])
    with pytest.raises(ValueError, match=r"image 0 must have shape \(B, 1, 4, 4\)"):
        d([torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)])
