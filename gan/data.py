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
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import torch

if TYPE_CHECKING:
    import numpy.typing as npt

    from .config import TrainConfig
    from .dataset_adapter import DatasetAdapter


FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


class Mixture:
    """Equal-weight isotropic Gaussian mixture in 2-D. means: (K, 2); std: scalar."""

    def __init__(self, name: str, means: npt.ArrayLike, std: float) -> None:
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

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (n, 2) float32, y (n,) int64 component index); the same random draws as `sample`."""
        means = torch.as_tensor(self.means, dtype=torch.float32)
        k = torch.randint(len(means), (n,), generator=generator)
        return means[k] + self.std * torch.randn(n, 2, generator=generator), k

    def sample_rows(self, n: int, lo: int, hi: int, labelled: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows lo:hi of `sample_labelled(n)` (the same draws; only those rows are built): (x, y or None)."""
        means = torch.as_tensor(self.means, dtype=torch.float32)
        k = torch.randint(len(means), (n,))[lo:hi]
        x = means[k] + self.std * torch.randn(n, 2)[lo:hi]
        return x, (k if labelled else None)

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

    def __init__(self, name: str, images: npt.ArrayLike | torch.Tensor,
                 labels: npt.ArrayLike | torch.Tensor | None = None) -> None:
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        if images.dim() != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        self.name = name
        self.images = images
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.shape = tuple(images.shape[1:])

    class_names = None  # folder data with class sub-folders: the folder name of each label

    def __len__(self):
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """1 + the largest label (0 without labels)."""
        return 0 if self.labels is None else int(self.labels.max()) + 1

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.images[torch.randint(len(self.images), (n,), generator=generator)]

    def sample_rows(self, n: int, lo: int, hi: int, labelled: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows lo:hi of `sample(n)` / `sample_labelled(n)`: the n indices are drawn, only lo:hi gathered."""
        if labelled and self.labels is None:
            self.sample_labelled(1)  # raises the no-labels error
        i = torch.randint(len(self.images), (n,))[lo:hi]
        return self.images[i], (self.labels[i] if labelled else None)

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
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

    def __init__(self, base: ImageData, k: int = 3):
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

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        i = torch.randint(len(self.base), (self.k * n,), generator=generator).reshape(self.k, n)
        x = self.base.images[i.reshape(-1), 0].reshape(self.k, n, *self.shape[1:]).transpose(0, 1)
        y = self.base.labels[i]                                              # (k, n)
        weights = self.base.num_classes ** torch.arange(self.k)
        return x.contiguous(), (y * weights[:, None]).sum(0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_labelled(n, generator)[0]

    def sample_rows(self, n: int, lo: int, hi: int, labelled: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows lo:hi of `sample_labelled(n)`: all k·n indices drawn, only the slice's images gathered."""
        i = torch.randint(len(self.base), (self.k * n,)).reshape(self.k, n)[:, lo:hi]
        b = hi - lo
        x = self.base.images[i.reshape(-1), 0].reshape(self.k, b, *self.shape[1:]).transpose(0, 1).contiguous()
        if not labelled:
            return x, None
        weights = self.base.num_classes ** torch.arange(self.k)
        return x, (self.base.labels[i] * weights[:, None]).sum(0)


# ---------------------------------------------------------------- IDX (LeCun's MNIST format)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
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


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
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


def idx_images(directory: str | os.PathLike, split: str = "train", name: str = "idx") -> ImageData:
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


def fashion_mnist(path: str | os.PathLike | None = None, split: str = "train") -> ImageData:
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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in `folder` (case-insensitive suffix), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder_layout(path: str | os.PathLike) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """(files, labels, class_names) of an image folder.

    Flat: the image files directly in `path` (labels None). With class sub-folders (torchvision ImageFolder's
    convention): every sub-folder holding images is a class, classes sorted by name get labels 0, 1, …, each
    class's files found recursively. A folder with images at the top *and* class sub-folders is refused (the top
    images would have no label), as is a folder with no image at all."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"image folder not found: {path}")
    top = _image_files(path)
    subs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    classes = [(d, sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
               for d in subs]
    classes = [(d, fs) for d, fs in classes if fs]
    if top and classes:
        raise ValueError(f"{path} holds both images and class sub-folders ({', '.join(d.name for d, _ in classes[:3])}"
                         f"); put every image in a class folder, or use a folder without sub-folders")
    if top:
        return top, None, None
    if not classes:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {path} or its sub-folders")
    files = [f for _, fs in classes for f in fs]
    labels = [k for k, (_, fs) in enumerate(classes) for _ in fs]
    return files, labels, [d.name for d, _ in classes]


def _open_image(f: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(f)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {f}: {exc}") from None
    return img


def _resize_center_crop(img, size: int):
    """Resize the shorter side to `size` (Pillow bicubic, antialiased), then centre-crop size×size (the DCGAN
    pipeline for CelebA/LSUN); a square image is only resized."""
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    s = size / min(w, h)
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def read_image(f: str | os.PathLike, channels: int, size: int | None = None) -> torch.Tensor:
    """One image file → float32 (channels, H, W) in [−1, 1].

    8-bit files map 0..255 → [−1, 1]; 16-bit greyscale PNGs (Pillow mode I;16) map 0..65535. channels 3: RGB
    (greyscale replicated; an alpha channel is dropped); channels 1: luminance 0.299 R + 0.587 G + 0.114 B
    (ITU-R 601, Pillow's own "L" weights) computed in float from RGB. Errors name the file."""
    f = Path(f)
    img = _open_image(f)
    if size is not None:
        img = _resize_center_crop(img, size)
    if img.mode.startswith("I;16"):
        a = np.asarray(img, dtype=np.float32) / 65535.0
        a = a[..., None].repeat(3, axis=2)
    else:
        a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if channels == 1:
        a = (a @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))) * 2 - 1


def _check_channels(channels):
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"channels must be 1, 3 or None (1 if every image is greyscale, else 3); got {channels!r}")


def grey_if_equal(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W) when every pixel has R = G = B (greyscale files, or grey saved as RGB/RGBA as
    matplotlib's imsave does); otherwise `x` unchanged."""
    if x.shape[1] == 3 and torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2]):
        return x[:, :1].contiguous()
    return x


def _check_sizes(files, path) -> None:
    """All files must share one size when no resize is asked for; the error names two files that differ."""
    from PIL import Image

    first = None
    for f in files:
        try:
            with Image.open(f) as img:
                wh = img.size
        except OSError as exc:
            raise ValueError(f"cannot read image {f}: {exc}") from None
        if first is None:
            first = (f, wh)
        elif wh != first[1]:
            raise ValueError(f"images in {path} have different sizes ({first[0].name}: {first[1][0]}×{first[1][1]}, "
                             f"{f.name}: {wh[0]}×{wh[1]}); pass --image-size (image_size=) to resize them all")


def image_folder(path: str | os.PathLike, size: int | None = None, channels: int | None = None) -> ImageData:
    """A folder of png/jpg/jpeg/webp/bmp images read with Pillow → `ImageData` (N, C, H, W) in [−1, 1].

    Layout (`folder_layout`): flat, or one sub-folder per class (labels 0…K−1 in sorted folder-name order,
    `class_names` kept) for conditional training. channels: None keeps colour (3 unless every image is
    greyscale, then 1); 1 or 3 forces it (`read_image`). size: resize the shorter side to `size` and
    centre-crop to size×size; without it every image must have the same size.

    Raises FileNotFoundError (no folder / no image), ValueError naming the file (unreadable image) or two
    files of different sizes (mixed sizes without `size`)."""
    _check_channels(channels)
    files, labels, classes = folder_layout(path)
    if size is None:
        _check_sizes(files, path)
    x = torch.stack([read_image(f, channels or 3, size) for f in files])
    ds = ImageData("folder", grey_if_equal(x) if channels is None else x, labels)
    ds.class_names = classes
    return ds


def with_channels(ds: ImageData, channels: int | None) -> ImageData:
    """`ds` with `channels` channels: 1 → 3 replicates, 3 → 1 takes the luminance 0.299 R + 0.587 G + 0.114 B;
    None or the same count returns `ds` itself."""
    _check_channels(channels)
    have = ds.shape[0]
    if channels is None or channels == have:
        return ds
    if have == 1:
        x = ds.images.repeat(1, 3, 1, 1)
    elif have == 3:
        w = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
        x = (ds.images * w).sum(1, keepdim=True)
    else:
        raise ValueError(f"cannot convert {have}-channel images to {channels} channels")
    out = ImageData(ds.name, x, ds.labels)
    out.class_names = ds.class_names
    return out


class Mirrored:
    """Random horizontal flips (p = ½ per sample) of any image dataset, drawn from the same RNG as the samples
    (torch's global one, or `generator`) after them, so a checkpointed run resumes bit-identically. Labels kept."""

    def __init__(self, base: DataSet) -> None:
        if len(tuple(base.shape)) != 3:
            raise ValueError(f"mirror augmentation needs images (C, H, W); the data have samples of shape "
                             f"{tuple(base.shape)}")
        self.base, self.shape, self.name = base, tuple(base.shape), f"{base.name}+mirror"

    def __len__(self):
        return len(self.base)

    def __getattr__(self, name):  # num_classes, class_names, means, images, ... of the base
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def _flip(self, x, generator):
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._flip(self.base.sample(n, generator), generator)

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.base.sample_labelled(n, generator)
        return self._flip(x, generator), y

    def sample_rows(self, n: int, lo: int, hi: int, labelled: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, y = sample_rows(self.base, n, lo, hi, labelled)
        flip = (torch.rand(n) < 0.5)[lo:hi]
        return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x), y

    def __repr__(self):
        return f"Mirrored({self.base!r})"


TOY = {"ring8": ring8, "grid25": grid25, "spiral": Spiral}
IMAGES = ("digits", "fashion_mnist", "idx", "folder", "stacked_fashion_mnist", "stacked_digits")


def names() -> list[str]:
    return list(TOY) + list(IMAGES)


def get(name: str, path: str | os.PathLike | None = None, image_size: int | None = None, channels: int | None = None,
        mirror: bool = False) -> DataSet:
    """Dataset by name: ring8, grid25, spiral, digits, fashion_mnist (path optional), idx (path: a folder with
    MNIST-layout IDX files), folder (path: a folder of png/jpg/jpeg/webp/bmp images, flat or one sub-folder per
    class; `image_folder`), stacked_fashion_mnist / stacked_digits (three images on three channels: 1000 modes).

    channels: force 1 or 3 channels on image data (`with_channels`; default: the data's own); mirror: random
    horizontal flips (`Mirrored`)."""
    if not isinstance(name, str):
        raise TypeError(f"data name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in TOY:
        if channels is not None or mirror:
            raise ValueError(f"channels and mirror apply to image data; {name!r} is 2-D")
        return TOY[key]()
    if key not in IMAGES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(names())}")
    if key in ("stacked_fashion_mnist", "stacked_digits"):
        if channels not in (None, 3):
            raise ValueError(f"stacked data have 3 channels (one digit each); got channels={channels}")
        ds = StackedImages(get(key[len("stacked_"):], path, image_size), 3)
        return Mirrored(ds) if mirror else ds
    if key == "digits":
        ds = digits(image_size or 8)
    else:
        if key != "fashion_mnist" and path is None:
            raise ValueError(f"data {name!r} needs a path (--data-path)")
        ds = fashion_mnist(path) if key == "fashion_mnist" else (
            idx_images(path) if key == "idx" else image_folder(path, size=image_size, channels=channels))
        if image_size and ds.shape[-1] != image_size:
            ds = ImageData(ds.name, torch.nn.functional.interpolate(ds.images, size=(image_size, image_size),
                                                                    mode="bilinear", align_corners=False), ds.labels)
    ds = with_channels(ds, channels)
    return Mirrored(ds) if mirror else ds


def sample_rows(ds: DataSet, n: int, lo: int, hi: int, labelled: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rows lo:hi of a global batch of n samples of `ds` drawn from torch's global RNG: (x, y or None).

    Data sets with a `sample_rows` method build only those rows (a data-parallel rank's slice: image gathers
    and reads for b of the W·b samples) while consuming the same random numbers as the global draw, so that W
    ranks reproduce one process with batch W·b; others are sampled whole and sliced."""
    if hasattr(ds, "sample_rows"):
        return ds.sample_rows(n, lo, hi, labelled)
    if labelled:
        x, y = ds.sample_labelled(n)
        return x[lo:hi], y[lo:hi]
    return ds.sample(n)[lo:hi], None


def from_config(cfg: TrainConfig) -> DataSet:
    """The dataset a `TrainConfig` names: `get(data, data_path, image_size, channels, mirror)`, or, with
    `data_workers` > 0 on folder data, the folder read lazily by that many DataLoader workers
    (`gan.dataset_adapter.DatasetAdapter` over `gan.dataset_adapter.ImageFolderDataset`)."""
    channels, mirror, workers = (getattr(cfg, k, d) for k, d in (("channels", None), ("mirror", False),
                                                                   ("data_workers", 0)))
    if workers:
        if cfg.data.strip().lower() != "folder" or cfg.data_path is None:
            raise ValueError("data_workers > 0 reads an image folder lazily: it needs --data folder --data-path DIR "
                             "(in-memory data sets need no workers)")
        from .dataset_adapter import DatasetAdapter, ImageFolderDataset

        ds = DatasetAdapter(ImageFolderDataset(cfg.data_path, cfg.image_size, channels), num_workers=workers,
                            seed=cfg.seed)
        return Mirrored(ds) if mirror else ds
    return get(cfg.data, cfg.data_path, cfg.image_size, channels, mirror)


class FixedSample:
    """A fixed training set of `n` samples drawn once from `base` (seeded by `seed`, its own generator), then
    sampled uniformly with replacement: the finite-training-set protocol of PacGAN's 2-D experiments (a fixed
    100,000-sample set; they shuffle it per epoch, this draws i.i.d. indices). Means, std and shape are base's."""

    def __init__(self, base: DataSet, n: int, seed: int = 0) -> None:
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


def training_set(config: TrainConfig) -> DataSet:
    """The dataset a run trains on: `from_config(config)`, as a `FixedSample` of `config.train_set` samples
    (seeded by config.seed + 5, apart from the training RNG) when train_set > 0."""
    ds = from_config(config)
    n = getattr(config, "train_set", 0)
    return FixedSample(ds, n, seed=config.seed + 5) if n else ds


if TYPE_CHECKING:
    # What `get`/`from_config` return: every sampler with `sample(n, generator)` (and, for most, `sample_labelled`,
    # `sample_rows`); a documentation alias only, nothing checks it at run time.
    DataSet: TypeAlias = Mixture | Spiral | ImageData | StackedImages | Mirrored | FixedSample | DatasetAdapter
