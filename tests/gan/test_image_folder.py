"""Real image data: Pillow folders (every suffix, RGB kept, class folders, errors naming the file), --channels,
--mirror, and the map-style Dataset adapter (DataLoader workers, a resumable stream)."""
import numpy as np
import pytest
import torch
from PIL import Image

from gan import data
from gan.config import TrainConfig
from gan.dataset_adapter import DatasetAdapter, ImageFolderDataset
from gan.trainer import Trainer

RNG = np.random.default_rng(0)


def _rgb(n, h=32, w=32):
    return RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _write(folder, arrays, suffix=".png", mode=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a, mode=mode).save(folder / f"{i:03d}{suffix}")


def test_eight_rgb_pngs_load_as_three_channels_exactly(tmp_path):
    a = _rgb(8)
    _write(tmp_path, a)
    ds = data.image_folder(tmp_path)
    assert ds.images.shape == (8, 3, 32, 32) and ds.labels is None
    # 8-bit → [−1, 1]: v/255·2 − 1, float32 rounding only (one ulp of 1 is 1.2e-7)
    np.testing.assert_allclose(ds.images.numpy(), a.transpose(0, 3, 1, 2) / 127.5 - 1, atol=3e-7)


@pytest.mark.parametrize("suffix,lossless", [(".png", True), (".bmp", True), (".jpg", False), (".jpeg", False),
                                              (".webp", False), (".PNG", True)])
def test_every_suffix(tmp_path, suffix, lossless):
    ramp = np.linspace(0, 255, 16)
    one = np.stack([np.broadcast_to(ramp, (16, 16)), np.broadcast_to(ramp[:, None], (16, 16)),
                    np.full((16, 16), 128.0)], axis=-1)
    a = np.stack([one, one[::-1], 255 - one]).round().astype(np.uint8)  # smooth: codec-friendly
    _write(tmp_path, a, suffix)
    ds = data.image_folder(tmp_path)
    assert ds.images.shape == (3, 3, 16, 16)
    ref = a.transpose(0, 3, 1, 2) / 127.5 - 1
    # lossy codecs: mean absolute error of a few grey levels (0.03 ≈ 4/255 on the [−1, 1] scale) on ramps
    err = np.abs(ds.images.numpy() - ref)
    assert err.max() < 3e-7 if lossless else err.mean() < 0.03


def test_greyscale_files_give_one_channel_and_channels_forces(tmp_path):
    g = RNG.integers(0, 256, (4, 8, 8), dtype=np.uint8)
    _write(tmp_path / "grey", g, mode="L")
    ds = data.image_folder(tmp_path / "grey")
    assert ds.images.shape == (4, 1, 8, 8)
    np.testing.assert_allclose(ds.images[:, 0].numpy(), g / 127.5 - 1, atol=3e-7)
    three = data.image_folder(tmp_path / "grey", channels=3)
    assert three.images.shape == (4, 3, 8, 8) and torch.equal(three.images[:, 0], three.images[:, 2])
    a = _rgb(2, 8, 8)
    _write(tmp_path / "rgb", a)
    one = data.image_folder(tmp_path / "rgb", channels=1)
    lum = (a.astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(one.images[:, 0].numpy(), lum * 2 - 1, atol=1e-6)
    with pytest.raises(ValueError, match="channels must be 1, 3"):
        data.image_folder(tmp_path / "rgb", channels=2)


def test_sixteen_bit_png(tmp_path):
    a = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "x.png")
    ds = data.image_folder(tmp_path)
    assert ds.shape == (1, 2, 2)
    np.testing.assert_allclose(ds.images[0, 0].numpy(), a / 65535 * 2 - 1, atol=1e-6)


def test_class_subfolders_become_labels(tmp_path):
    for k, name in enumerate(["cat", "ant", "dog"]):
        _write(tmp_path / name, _rgb(k + 1, 8, 8))
    (tmp_path / "empty").mkdir()  # a folder without images is no class
    ds = data.image_folder(tmp_path)
    assert ds.class_names == ["ant", "cat", "dog"]  # sorted names → labels 0, 1, 2
    assert ds.labels.tolist() == [0, 0, 1, 2, 2, 2] and ds.num_classes == 3  # ant 2, cat 1, dog 3
    x, y = ds.sample_labelled(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 3, 8, 8) and y.shape == (5,)


def test_errors_name_the_problem(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        data.image_folder(tmp_path / "empty")
    _write(tmp_path / "mixed", _rgb(1, 8, 8))
    Image.fromarray(_rgb(1, 8, 10)[0]).save(tmp_path / "mixed" / "wide.png")
    with pytest.raises(ValueError, match=r"000\.png: 8×8, wide\.png: 10×8.*--image-size"):
        data.image_folder(tmp_path / "mixed")
    _write(tmp_path / "bad", _rgb(1, 8, 8))
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpg"):
        data.image_folder(tmp_path / "bad")
    _write(tmp_path / "both", _rgb(1, 8, 8))
    _write(tmp_path / "both" / "cls", _rgb(1, 8, 8))
    with pytest.raises(ValueError, match="both images and class sub-folders"):
        data.image_folder(tmp_path / "both")
    with pytest.raises(FileNotFoundError, match="not found"):
        data.image_folder(tmp_path / "nope")


def test_image_size_resizes_shorter_side_and_centre_crops(tmp_path):
    a = np.zeros((40, 64, 3), dtype=np.uint8)
    a[:, 8:56] = 255  # white centre 48 wide; the crop (x 11.25…51.25 of the original) + bicubic support is inside
    Image.fromarray(a).save(tmp_path / "wide.png")
    Image.fromarray(_rgb(1, 20, 20)[0]).save(tmp_path / "small.png")
    ds = data.image_folder(tmp_path, size=32)
    assert ds.shape == (3, 32, 32)
    wide = ds.images[1]  # sorted: small.png, wide.png
    assert float(wide.min()) > 0.9  # the crop is the white centre (bicubic keeps it white up to overshoot clipping)


def test_get_with_channels_and_mirror(tmp_path):
    a = _rgb(6, 8, 8)
    _write(tmp_path, a)
    ds = data.get("folder", tmp_path, channels=1)
    assert ds.shape == (1, 8, 8)
    m = data.get("folder", tmp_path, mirror=True)
    x = m.sample(400, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    base = m.base.sample(400, generator=g)
    flip = torch.rand(400, generator=g) < 0.5
    torch.testing.assert_close(x[flip], base[flip].flip(-1), rtol=0, atol=0)
    torch.testing.assert_close(x[~flip], base[~flip], rtol=0, atol=0)
    assert 150 < int(flip.sum()) < 250  # Binomial(400, ½): ±5 s.d.
    with pytest.raises(ValueError, match="apply to image data"):
        data.get("ring8", mirror=True)


class _Squares(torch.utils.data.Dataset):
    """Item i: a 1×8×8 image of constant value i/N·2 − 1 and label i % 3."""

    def __init__(self, n=10, labelled=True, dtype=torch.float32):
        self.n, self.labelled, self.dtype = n, labelled, dtype

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.dtype == torch.uint8:
            x = torch.full((1, 8, 8), i, dtype=torch.uint8)
        else:
            x = torch.full((1, 8, 8), i / self.n * 2 - 1)
        return (x, i % 3) if self.labelled else x


def _ids(x, n=10):
    return torch.round((x[:, 0, 0, 0] + 1) / 2 * n).long().tolist()


def test_adapter_reads_seeded_epochs_without_replacement():
    ad = DatasetAdapter(_Squares(), seed=3)
    seen = _ids(ad.sample(4)) + _ids(ad.sample(4)) + _ids(ad.sample(4))
    perm0 = torch.randperm(10, generator=torch.Generator().manual_seed(3 * 1000003)).tolist()
    perm1 = torch.randperm(10, generator=torch.Generator().manual_seed(3 * 1000003 + 1)).tolist()
    assert seen == (perm0 + perm1)[:12]
    x, y = ad.sample_labelled(4)
    assert x.shape == (4, 1, 8, 8) and y.dtype == torch.int64
    assert y.tolist() == [i % 3 for i in _ids(x)]


def test_adapter_workers_and_resume_give_the_same_stream():
    plain = DatasetAdapter(_Squares(), seed=0)
    ref = [_ids(plain.sample(3)) for _ in range(7)]
    workers = DatasetAdapter(_Squares(), num_workers=2, seed=0)
    got = [_ids(workers.sample(3)) for _ in range(3)]
    state = workers.state_dict()
    resumed = DatasetAdapter(_Squares(), num_workers=2, seed=0)
    resumed.load_state_dict(state)
    got += [_ids(resumed.sample(3)) for _ in range(4)]
    assert got == ref and state == {"consumed": 9}


def test_adapter_input_checks():
    u8 = DatasetAdapter(_Squares(dtype=torch.uint8))
    assert float(u8.sample(10).max()) <= 1 and u8.shape == (1, 8, 8)
    with pytest.raises(ValueError, match="no labels"):
        DatasetAdapter(_Squares(labelled=False)).sample_labelled(2)

    class _Wide(_Squares):
        def __getitem__(self, i):
            return torch.full((1, 8, 8), 3.0)

    with pytest.raises(ValueError, match=r"\[−1, 1\]"):
        DatasetAdapter(_Wide())
    with pytest.raises(TypeError, match="map-style"):
        DatasetAdapter(object())


def test_trainer_on_a_folder_with_workers_resumes_bit_identically(tmp_path):
    for k in range(2):
        _write(tmp_path / "img" / f"c{k}", _rgb(6, 28, 28))
    base = dict(data="folder", data_path=str(tmp_path / "img"), steps=4, batch_size=4, width=8, z_dim=4,
                log_every=1, sample_every=0, checkpoint_every=2, progress=False, data_workers=1, mirror=True,
                conditional="concat")
    full = Trainer(TrainConfig(**base, out=str(tmp_path / "full")))
    assert isinstance(full.data.base, DatasetAdapter) and full.num_classes == 2 and full.data.shape == (3, 28, 28)
    full.fit()
    cut = Trainer(TrainConfig(**base, out=str(tmp_path / "cut")))
    cut.fit(stop_after=3)  # the last checkpoint is step 2; the stream was read past it
    res = Trainer(TrainConfig(**base, out=str(tmp_path / "cut")), resume=True)
    assert res.step == 2 and res.data.base.consumed == 2 * 4 * 1  # n_critic = 1 real batch per step
    res.fit()
    for k, v in full.G.state_dict().items():
        assert torch.equal(v, res.G.state_dict()[k]), k


def test_lazy_folder_dataset_checks_sizes_as_it_reads(tmp_path):
    _write(tmp_path, _rgb(2, 8, 8))
    Image.fromarray(_rgb(1, 9, 9)[0]).save(tmp_path / "z.png")
    ds = ImageFolderDataset(tmp_path)
    assert ds[0].shape == (3, 8, 8)
    with pytest.raises(ValueError, match="z.png"):
        ds[2]


def test_sample_rows_are_the_slices_of_the_global_draw():
    from gan.data import ImageData, Mirrored, StackedImages, ring8, sample_rows

    imgs = ImageData("x", torch.rand(20, 1, 4, 4) * 2 - 1, torch.arange(20) % 10)
    for ds in (ring8(), imgs, Mirrored(imgs), StackedImages(imgs, 3), DatasetAdapter(_Squares(), seed=1)):
        for labelled in (False, True):
            if isinstance(ds, DatasetAdapter):  # three "ranks", each its own adapter, two global batches of 12
                whole = DatasetAdapter(_Squares(), seed=1)
                ranks = [DatasetAdapter(_Squares(), seed=1) for _ in range(3)]
                for _ in range(2):
                    ref = whole.sample_labelled(12) if labelled else (whole.sample(12), None)
                    parts = [sample_rows(r, 12, 4 * k, 4 * k + 4, labelled) for k, r in enumerate(ranks)]
                    torch.testing.assert_close(torch.cat([p[0] for p in parts]), ref[0], rtol=0, atol=0)
                    assert all(r.consumed == whole.consumed for r in ranks)
                continue
            torch.manual_seed(5)
            ref = ds.sample_labelled(12) if labelled else (ds.sample(12), None)
            for lo in (0, 4, 8):
                torch.manual_seed(5)
                x, y = sample_rows(ds, 12, lo, lo + 4, labelled)
                torch.testing.assert_close(x, ref[0][lo:lo + 4], rtol=0, atol=0)
                assert (y is None) == (not labelled) and (y is None or torch.equal(y, ref[1][lo:lo + 4]))
