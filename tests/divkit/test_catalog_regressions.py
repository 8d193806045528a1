"""Regression tests named after bugs found in the catalog's conjugates (reference: 50-digit mpmath)."""
import mpmath as mp
import numpy as np
import pytest
import torch

import divkit as dk


@pytest.mark.parametrize("t", [-700.0, -30.0, -10.0, -1.0, -0.5, -1e-3, -1e-9])
def test_gan_conjugate_lost_digits_for_very_negative_t(t):
    # was -log(-expm1(t)): 1.7e-4 relative error at t = -30 (expm1 rounds to -1 + tiny); now log1mexp
    with mp.workdps(50):
        exact = float(-mp.log1p(-mp.exp(mp.mpf(t))))  # log1p: 1 - e^-700 is 1 even at 50 digits
    got = float(dk.get("gan").conjugate(np.array(t)))
    assert got == pytest.approx(exact, rel=4e-16, abs=0)  # a few ulps: the formula is now well conditioned


@pytest.mark.parametrize("t", [-40.0, -5.0, 0.0, 0.3])
def test_js_conjugate_uses_log1mexp(t):
    with mp.workdps(50):
        exact = float(-mp.log(2 - mp.exp(2 * mp.mpf(t))) / 2)
    got = float(dk.get("js").conjugate(np.array(t)))
    assert got == pytest.approx(exact, rel=1e-15, abs=1e-300)


def test_gan_conjugate_gradient_finite_in_both_branches():
    t = torch.tensor([-50.0, -1.0, -0.1, -1e-6], dtype=torch.float64, requires_grad=True)
    dk.get("gan").conjugate(t).sum().backward()
    # d/dt [-log(1 - e^t)] = e^t / (1 - e^t)
    expected = torch.exp(t.detach()) / -torch.expm1(t.detach())
    assert torch.allclose(t.grad, expected, rtol=1e-12)


def test_torch_softplus_gradient_at_zero_is_one_half():
    # was max(x, 0) + log1p(e^{-|x|}): autograd gave 1 at x = 0 instead of σ(0) = ½
    from divkit._array import TORCH

    x = torch.tensor([0.0, -1e4, 1e4, 3.0], dtype=torch.float64, requires_grad=True)
    y = TORCH.softplus(x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.sigmoid(x.detach()), rtol=0, atol=1e-15)
    assert torch.isfinite(y).all()
    for dtype in (torch.float32, torch.bfloat16):
        assert torch.isfinite(TORCH.softplus(torch.tensor([-1e4, 1e4], dtype=dtype))).all()
