"""Datasets as seeded samplers: 2-D Gaussian mixtures, a spiral, and images (IDX, sklearn digits, a folder).

Every dataset has `sample(n, generator=None) -> torch.Tensor` drawing from torch's RNG (the global one unless a
`torch.Generator` is given, so a trainer that checkpoints torch's RNG state resumes bit-identically), `shape`
(the shape of one sample), and, for mixtures, `means` (K, 2) and `std` (the VEEGAN/PacGAN protocol, §5 of
REFERENCE.md). Images are float32 in [−1, 1] with shape (C, H, W).

Mixtures:
- ring8: 8 Gaussians, means (cos 2πk/8, sin 2πk/8) for k = 0..7 (k < 8: the classic bug draws 9 angles from
  linspace(0, 2π, 9) and repeats angle 0), std 0.01.
- grid25: means {−4, −2, 0, 2, 4}², std 0.05.
- spiral: t ~ U(0, 1), radius 3t, angle 4πt (two turns), plus N(0, 0.05²) noise; no modes.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import numpy as np
import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


class Mixture:
    """Equal-weight isotropic Gaussian mixture in 2-D. means: (K, 2); std: scalar."""

    def __init__(self, name: str, means, std: float):
        self.name = name
        self.means = np.asarray(means, dtype=np.float64)
        self.std = float(std)
        self.shape = (2,)

    @property
    def num_classes(self) -> int:
        """Labels of `sample_labelled` are the component indices 0 … K − 1."""
        return len(self.means)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 2) float32 samples: uniform component, then mean + std·N(0, I)."""
        return self.sample_labelled(n, generator)[0]

    def sample_labelled(self, n: int, generator: torch.Generator | None = None):
        """(x (n, 2) float32, y (n,) int64 component index); the same random draws as `sample`."""
        means = torch.as_tensor(self.means, dtype=torch.float32)
        k = torch.randint(len(means), (n,), generator=generator)
        return means[k] + self.std * torch.randn(n, 2, generator=generator), k

    def __repr__(self):
        return f"Mixture({self.name!r}, K={len(self.means)}, std={self.std})"


def ring8(radius: float = 1.0, std: float = 0.01, k: int = 8) -> Mixture:
    angles = 2 * math.pi * np.arange(k) / k  # k distinct angles; never linspace(0, 2π, k+1) unsliced
    return Mixture("ring8", radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), std)


def grid25(std: float = 0.05) -> Mixture:
    vals = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    xx, yy = np.meshgrid(vals, vals, indexing="ij")
    return Mixture("grid25", np.stack([xx.ravel(), yy.ravel()], axis=1), std)


class Spiral:
    """Two-turn spiral: radius 3t, angle 4πt, t ~ U(0, 1), isotropic noise `noise`."""

    name = "spiral"
    shape = (2,)

    def __init__(self, noise: float = 0.05):
        self.noise = float(noise)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = torch.rand(n, generator=generator)
        r, a = 3 * t, 4 * math.pi * t
        x = torch.stack([r * torch.cos(a), r * torch.sin(a)], dim=1)
        return x + self.noise * torch.randn(n, 2, generator=generator)


class ImageData:
    """A fixed set of images, sampled uniformly with replacement. images: (N, C, H, W) in [−1, 1]."""

    def __init__(self, name: str, images, labels=None):
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        if images.dim() != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        self.name = name
        self.images = images
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.shape = tuple(images.shape[1:])

    def __len__(self):
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """1 + the largest label (0 without labels)."""
        return 0 if self.labels is None else int(self.labels.max()) + 1

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.images[torch.randint(len(self.images), (n,), generator=generator)]

    def sample_labelled(self, n: int, generator: torch.Generator | None = None):
        """(images (n, C, H, W), labels (n,) int64); the same random draws as `sample`."""
        if self.labels is None:
            raise ValueError(f"dataset {self.name!r} has no labels; conditional training needs labelled data "
                             f"(ring8, grid25, digits, fashion_mnist, idx with a labels file)")
        i = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[i], self.labels[i]


class StackedImages:
    """Stacked MNIST-style data (Metz et al. 2017; VEEGAN; PacGAN §5): each sample puts k independent
    single-channel images of `base` on k channels, (k, H, W); with 10 classes and k = 3 there are 10³ = 1000
    modes. The label of a sample is Σ_i y_i·K^i (channel i's class y_i, K = base.num_classes), so
    `num_classes` = K^k. Sampling draws k·n indices at once: channel i of sample j is image idx[i·n + j]."""

    def __init__(self, base: "ImageData", k: int = 3):
        if not isinstance(base, ImageData) or base.shape[0] != 1:
            raise ValueError(f"base must be single-channel ImageData; got {getattr(base, 'shape', type(base))}")
        if base.labels is None:
            raise ValueError("base must have labels (the modes are label tuples)")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int; got {k!r}")
        self.base, self.k, self.name = base, k, f"stacked_{base.name}"
        self.shape = (k, *base.shape[1:])

    @property
    def num_classes(self) -> int:
        return self.base.num_classes ** self.k

    def sample_labelled(self, n: int, generator: torch.Generator | None = None):
        i = torch.randint(len(self.base), (self.k * n,), generator=generator).reshape(self.k, n)
        x = self.base.images[i.reshape(-1), 0].reshape(self.k, n, *self.shape[1:]).transpose(0, 1)
        y = self.base.labels[i]                                              # (k, n)
        weights = self.base.num_classes ** torch.arange(self.k)
        return x.contiguous(), (y * weights[:, None]).sum(0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_labelled(n, generator)[0]


# ---------------------------------------------------------------- IDX (LeCun's MNIST format)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzip, detected from the magic bytes 1f 8b).

    Format: 2 zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64), the number of dimensions d, then d big-endian uint32 sizes, then the data, big-endian, C order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}; known: "
                         + ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES))
    header = 4 + 4 * ndim
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(dims)) if ndim else 1
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: header says {dims} × {dtype.itemsize} bytes but the file holds "
                         f"{len(raw) - header} data bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header, count=count).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file (gzip if `compress` or the name ends in .gz). Inverse of `read_idx`."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(f"array dtype {array.dtype} has no IDX code; use one of {sorted(map(str, codes))}")
    code = codes[key]
    be = array.astype(np.dtype(_IDX_DTYPES[code]).newbyteorder(">"))
    data = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape) + be.tobytes()
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def _find(directory: Path, stem: str) -> Path:
    for cand in (directory / stem, directory / (stem + ".gz")):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"no {stem} or {stem}.gz in {directory}")


def idx_images(directory, split: str = "train", name: str = "idx") -> ImageData:
    """MNIST-layout IDX folder: `{split}-images-idx3-ubyte[.gz]` and `{split}-labels-idx1-ubyte[.gz]`
    (split "train" or "t10k"). Pixels 0..255 → [−1, 1], shape (N, 1, 28, 28)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"data folder not found: {directory}")
    if split not in ("train", "t10k"):
        raise ValueError(f"split must be 'train' or 't10k', got {split!r}")
    imgs = read_idx(_find(directory, f"{split}-images-idx3-ubyte"))
    if imgs.ndim != 3:
        raise ValueError(f"expected (N, H, W) images in {directory}, got shape {imgs.shape}")
    try:
        labels = read_idx(_find(directory, f"{split}-labels-idx1-ubyte"))
    except FileNotFoundError:
        labels = None
    x = imgs.astype(np.float32)[:, None] / 127.5 - 1.0
    return ImageData(name, x, labels)


def fashion_mnist(path=None, split: str = "train") -> ImageData:
    """Fashion-MNIST from the Debian package `dataset-fashion-mnist` (files under /usr/share/datasets/fashion-mnist)
    or any folder with the same IDX files."""
    path = Path(path or os.environ.get("GAN_FASHION_MNIST", FASHION_MNIST_DIR))
    if not path.is_dir():
        raise FileNotFoundError(f"Fashion-MNIST folder {path} not found: install the Debian package "
                                "dataset-fashion-mnist or pass --data-path to a folder with the IDX files")
    return idx_images(path, split, name="fashion_mnist")


def digits(size: int = 8) -> ImageData:
    """scikit-learn's bundled 8×8 digits (1797 images, values 0..16 → [−1, 1]); needs scikit-learn.

    size: 8 (native) or larger, bilinear upsampling (e.g. 32 for a DCGAN)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # optional extra
        raise ImportError("dataset 'digits' needs scikit-learn (pip install scikit-learn)") from exc
    d = load_digits()
    x = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return ImageData("digits", x, d.target)


def image_folder(path, size: int | None = None, channels: int = 1) -> ImageData:
    """All *.png files of a folder (matplotlib.image.imread, floats in [0, 1]) → (N, C, H, W) in [−1, 1].

    channels: 1 (luminance 0.299 R + 0.587 G + 0.114 B) or 3; size: resize (bilinear) to size×size if given,
    otherwise all images must share one shape."""
    import matplotlib.image as mpimg

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"image folder not found: {path}")
    files = sorted(path.glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no .png files in {path}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    out = []
    for f in files:
        a = np.asarray(mpimg.imread(f), dtype=np.float32)
        if a.ndim == 2:
            a = a[..., None].repeat(3, axis=2)
        a = a[..., :3]
        if channels == 1:
            a = (a @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
        if size is not None:
            t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        out.append(t)
    shapes = {tuple(t.shape) for t in out}
    if len(shapes) > 1:
        raise ValueError(f"images in {path} have different shapes {sorted(shapes)}; pass size= to resize")
    return ImageData("folder", torch.stack(out) * 2 - 1)


TOY = {"ring8": ring8, "grid25": grid25, "spiral": Spiral}
IMAGES = ("digits", "fashion_mnist", "idx", "folder", "stacked_fashion_mnist", "stacked_digits")


def names() -> list[str]:
    return list(TOY) + list(IMAGES)


def get(name: str, path=None, image_size: int | None = None):
    """Dataset by name: ring8, grid25, spiral, digits, fashion_mnist (path optional), idx (path: a folder with
    MNIST-layout IDX files), folder (path: a folder of PNGs), stacked_fashion_mnist / stacked_digits (three
    images on three channels: 1000 modes)."""
    if not isinstance(name, str):
        raise TypeError(f"data name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in TOY:
        return TOY[key]()
    if key == "digits":
        return digits(image_size or 8)
    if key in ("stacked_fashion_mnist", "stacked_digits"):
        base = get(key[len("stacked_"):], path, image_size)
        return StackedImages(base, 3)
    if key in ("fashion_mnist", "idx", "folder"):
        if key != "fashion_mnist" and path is None:
            raise ValueError(f"data {name!r} needs a path (--data-path)")
        ds = fashion_mnist(path) if key == "fashion_mnist" else (
            idx_images(path) if key == "idx" else image_folder(path, size=image_size))
        if image_size and ds.shape[-1] != image_size:
            ds = ImageData(ds.name, torch.nn.functional.interpolate(ds.images, size=(image_size, image_size),
                                                                    mode="bilinear", align_corners=False), ds.labels)
        return ds
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(names())}")


class FixedSample:
    """A fixed training set of `n` samples drawn once from `base` (seeded by `seed`, its own generator), then
    sampled uniformly with replacement: the finite-training-set protocol of PacGAN's 2-D experiments (a fixed
    100,000-sample set; they shuffle it per epoch, this draws i.i.d. indices). Means, std and shape are base's."""

    def __init__(self, base, n: int, seed: int = 0):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n (the training-set size) must be a positive int, got {n!r}")
        self.base, self.n = base, n
        self.x = base.sample(n, generator=torch.Generator().manual_seed(seed))
        self.shape, self.name = tuple(base.shape), f"{getattr(base, 'name', 'data')}[{n}]"
        for attr in ("means", "std"):
            if hasattr(base, attr):
                setattr(self, attr, getattr(base, attr))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.x[torch.randint(self.n, (n,), generator=generator)]


def training_set(config):
    """The dataset a run trains on: `get(config.data, ...)`, as a `FixedSample` of `config.train_set` samples
    (seeded by config.seed + 5, apart from the training RNG) when train_set > 0."""
    ds = get(config.data, config.data_path, config.image_size)
    n = getattr(config, "train_set", 0)
    return FixedSample(ds, n, seed=config.seed + 5) if n else ds
