"""gan.data: mixtures follow the VEEGAN/PacGAN protocol; IDX round trip; models' shapes and init."""
import gzip
import math
import os

import numpy as np
import pytest
import torch

from gan import data
from gan.models import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator


def test_ring8_has_eight_distinct_angles_on_unit_circle():
    m = data.ring8()
    ang = np.sort(np.mod(np.arctan2(m.means[:, 1], m.means[:, 0]), 2 * math.pi))
    assert len(m.means) == 8 and m.std == 0.01
    np.testing.assert_allclose(ang, 2 * math.pi * np.arange(8) / 8, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(m.means, axis=1), 1.0, atol=1e-12)
    assert len(np.unique(np.round(ang, 9))) == 8  # the off-by-one bug repeats angle 0


def test_grid25_means_and_std():
    m = data.grid25()
    assert m.std == 0.05
    assert {tuple(r) for r in m.means} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


def test_mixture_samples_are_seeded_and_spread_correctly():
    m = data.ring8()
    torch.manual_seed(0)
    a = m.sample(20000)
    torch.manual_seed(0)
    assert torch.equal(a, m.sample(20000))
    d = torch.cdist(a.double(), torch.as_tensor(m.means))
    k = d.argmin(1)
    counts = torch.bincount(k, minlength=8).double()
    # Multinomial counts: 20000/8 = 2500 each with sd sqrt(20000·(1/8)(7/8)) ≈ 47; 5 sd band.
    assert (counts - 2500).abs().max() < 5 * 47
    resid = a.double() - torch.as_tensor(m.means)[k]
    # std of 40000 N(0, 0.01²) coordinates: relative s.e. 1/sqrt(2·40000) ≈ 0.35 %; allow 2 %.
    assert resid.std().item() == pytest.approx(0.01, rel=0.02)
    s = data.Spiral().sample(500)
    assert s.shape == (500, 2) and torch.isfinite(s).all()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    p = tmp_path / ("a.idx.gz" if compress else "a.idx")
    data.write_idx(p, arr)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = data.read_idx(p)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_idx_reader_against_hand_written_bytes(tmp_path):
    # 2 images of 2×3 ubyte pixels, written byte by byte per the IDX spec (magic 0x00000803).
    raw = bytes([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]))
    ds = data.idx_images(tmp_path)
    assert ds.shape == (1, 2, 3) and ds.labels.tolist() == [7, 3]
    np.testing.assert_allclose(ds.images[1, 0].numpy(), np.arange(6, 12).reshape(2, 3) / 127.5 - 1, rtol=1e-6)
    (tmp_path / "bad").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1]))
    with pytest.raises(ValueError, match="header says"):
        data.read_idx(tmp_path / "bad")
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "missing")


def test_image_folder(tmp_path):
    import matplotlib.image as mpimg

    for i in range(3):
        mpimg.imsave(tmp_path / f"{i}.png", np.full((8, 8), i / 2.0), cmap="gray", vmin=0, vmax=1)
    ds = data.image_folder(tmp_path)
    assert ds.images.shape == (3, 1, 8, 8)
    np.testing.assert_allclose(ds.images[:, 0, 0, 0].numpy(), [-1, 0, 1], atol=0.01)  # 8-bit PNG quantisation


def test_unknown_and_missing_data():
    with pytest.raises(ValueError, match="known: ring8, grid25"):
        data.get("ring9")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        data.fashion_mnist("/nonexistent/fmnist")
    with pytest.raises(ValueError, match="needs a path"):
        data.get("idx")


@pytest.mark.skipif(not os.path.isdir(data.FASHION_MNIST_DIR),
                    reason=f"Fashion-MNIST not installed at {data.FASHION_MNIST_DIR} (Debian dataset-fashion-mnist)")
def test_fashion_mnist_reads():
    ds = data.fashion_mnist()
    assert ds.images.shape == (60000, 1, 28, 28) and ds.labels.max() == 9
    assert ds.images.min() >= -1 and ds.images.max() <= 1


def test_digits_reads():
    pytest.importorskip("sklearn", reason="scikit-learn (optional extra) not installed")
    ds = data.digits()
    assert ds.images.shape == (1797, 1, 8, 8)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_dcgan_shapes_and_init(size):
    torch.manual_seed(0)
    g, d = DCGANGenerator(z_dim=8, channels=3, size=size, width=8), DCGANCritic(channels=3, size=size, width=8)
    x = g(torch.randn(4, 8))
    assert x.shape == (4, 3, size, size) and x.abs().max() <= 1
    assert d(x).shape == (4,)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002  # thousands of N(0, 0.02) draws
    with pytest.raises(ValueError, match="image size must be one of"):
        DCGANGenerator(size=48)


def test_mlp_shapes():
    g, d = MLPGenerator(z_dim=4, hidden=16, layers=2), MLPCritic(hidden=16, layers=2)
    assert d(g(torch.randn(5, 4))).shape == (5,)
