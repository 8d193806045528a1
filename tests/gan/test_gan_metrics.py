"""gan.metrics: mode coverage on hand-made samples; FID vs closed forms; KID vs brute force."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gan import data, metrics


def test_mode_metrics_on_hand_made_samples():
    ring = data.ring8()
    mu, s = ring.means, ring.std
    # 3 HQ samples on mode 0, 1 HQ on mode 1, one sample at 2.9σ from mode 2 (HQ), one at 3.1σ (not HQ), one at origin.
    x = np.array([mu[0], mu[0] + [s, 0], mu[0] - [0, 2 * s], mu[1],
                  mu[2] + [2.9 * s, 0], mu[3] + [0, 3.1 * s], [0.0, 0.0]])
    m = metrics.mode_metrics(x, mu, s)
    assert m["modes"] == 3 and m["counts"][:4] == [3, 1, 1, 0]
    assert m["hq_fraction"] == pytest.approx(5 / 7)
    p = np.array([3, 1, 1]) / 5
    assert m["reverse_kl"] == pytest.approx(float(np.sum(p * np.log(8 * p))), rel=1e-12)


def test_reverse_kl_extremes():
    ring = data.ring8()
    balanced = np.repeat(ring.means, 10, axis=0)
    assert metrics.mode_metrics(balanced, ring.means, ring.std)["reverse_kl"] == pytest.approx(0.0, abs=1e-15)
    one = np.repeat(ring.means[:1], 10, axis=0)
    assert metrics.mode_metrics(one, ring.means, ring.std)["reverse_kl"] == pytest.approx(math.log(8), rel=1e-12)
    assert math.isnan(metrics.mode_metrics(np.zeros((5, 2)), ring.means, ring.std)["reverse_kl"])


@given(st.floats(0.1, 3), st.floats(0.1, 3), st.floats(-2, 2))
@settings(max_examples=30)
def test_frechet_distance_closed_form_1d_and_diagonal(s1, s2, dm):
    # Commuting covariances: FID = ‖Δμ‖² + Σ (σ1ᵢ − σ2ᵢ)².
    got = metrics.frechet_distance([dm, 0], np.diag([s1**2, 1.0]), [0, 0], np.diag([s2**2, 4.0]))
    assert got == pytest.approx(dm**2 + (s1 - s2) ** 2 + 1.0, rel=1e-8, abs=1e-10)


def test_frechet_distance_non_commuting_2x2():
    # For 2×2 M = Σ1Σ2 with positive eigenvalues, Tr √M = √(tr M + 2√det M).
    a = np.array([[2.0, 0.7], [0.7, 1.0]])
    b = np.array([[1.0, -0.4], [-0.4, 3.0]])
    m = a @ b
    tr_sqrt = math.sqrt(np.trace(m) + 2 * math.sqrt(np.linalg.det(m)))
    want = 1.0 + np.trace(a) + np.trace(b) - 2 * tr_sqrt
    assert metrics.frechet_distance([1, 0], a, [0, 0], b) == pytest.approx(want, rel=1e-10)


def test_fid_from_features_identical_sets_is_zero():
    f = np.random.default_rng(0).normal(size=(200, 5))
    assert metrics.fid_from_features(f, f) == pytest.approx(0.0, abs=1e-6)


def test_kid_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.2, size=(9, 3))

    def k(a, b):
        return (float(a @ b) / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)
    r = metrics.kid_from_features(x, y[:7], subsets=1, subset_size=7)  # one subset = all samples, permuted
    assert r["kernel_inception_distance_mean"] == pytest.approx(metrics.mmd2_unbiased(x, y[:7]), rel=1e-12)
    with pytest.raises(ValueError, match="subset_size 100 is larger than the number of samples"):
        metrics.kid_from_features(x, y, subsets=1, subset_size=100)  # regression: it silently shrank to 7


def test_fid_kid_with_injected_extractor():
    import torch

    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 1, 4, 4, generator=rng), torch.randn(300, 1, 4, 4, generator=rng) + 1.0

    def mean_pixel(x):
        return x.reshape(len(x), -1).mean(1, keepdim=True)  # (B, 1): mean pixel ~ N(μ, 1/16)

    f = metrics.fid(a, b, mean_pixel, batch_size=128)
    # Means differ by 1, variances equal (1/16 each): FID ≈ 1; sampling error of the means ~ 2·0.25/√300.
    assert f == pytest.approx(1.0, abs=0.1)
    key = "kernel_inception_distance_mean"
    assert metrics.kid(a, a, mean_pixel, subsets=3, subset_size=100)[key] < \
        metrics.kid(a, b, mean_pixel, subsets=3, subset_size=100)[key]


def test_small_classifier_learns_and_gives_features():
    import torch

    from gan.features import classifier_extractor, train_classifier

    # Two classes: bright vs dark 8×8 images with noise; a working classifier separates them.
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=g)
    x = (y.float() * 2 - 1)[:, None, None, None] * 0.5 + 0.3 * torch.randn(256, 1, 8, 8, generator=g)
    model, acc = train_classifier(x, y, epochs=3, batch_size=64)
    assert acc > 0.95
    f = classifier_extractor(model)(x[:10])
    assert f.shape == (10, 128) and torch.isfinite(f).all()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_inception_extractor_loads_a_torchscript_file_with_the_clean_fid_calling_convention(tmp_path):
    """A stand-in TorchScript module with StyleGAN's call, model(x, return_features=True), records what the loader
    feeds it: uint8 values of 3 channels at the images' own size (the network resizes), 2048-d features back."""
    import torch
    from torch import nn

    from gan.features import inception_extractor

    class StandIn(nn.Module):
        def forward(self, x: torch.Tensor, return_features: bool = False,
                    no_output_bias: bool = False) -> torch.Tensor:
            assert return_features
            x = x.to(torch.float32)
            stats = torch.stack([x.amin(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3)),
                                 torch.full_like(x[:, 0, 0, 0], float(x.shape[1] * 1000 + x.shape[2]))], 1)
            return torch.cat([stats, torch.zeros(x.shape[0], 2045)], 1)

    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(StandIn()).save(str(path))
    extract = inception_extractor(path)
    imgs = torch.tensor([-1.0, 1.0]).repeat(4, 1, 14, 14).reshape(4, 1, 28, 14)  # grey, values −1 and 1
    feats = extract(imgs)
    assert feats.shape == (4, 2048)
    assert torch.allclose(feats[:, 0], torch.zeros(4)) and torch.allclose(feats[:, 1], torch.full((4,), 255.0))
    assert (feats[:, 2] == 3 * 1000 + 28).all()  # 1 channel repeated to 3, native 28 rows: no resize before the net
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        inception_extractor(tmp_path / "missing.pt")
