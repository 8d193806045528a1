"""Inception-v3 (the FID network) from a local weights file, with the reference preprocessing contract.

No weights ship with this project and none can be downloaded; the two files users hold both load here:

- a **state dict** `.pth` of pytorch-fid (`pt_inception-2015-12-05-6726825d.pth`) or torch-fidelity
  (`weights-inception-2015-12-05-6726825d.pth`): the TF graph's Inception-v3 ported to PyTorch, the layout of
  `FIDInceptionV3` below (torchvision's Inception3 names, the FID variant of blocks 5b–7c: average pools that do not
  count padding, a max pool in the last block's pool branch, a 1008-way `fc`, BatchNorm eps 1e-3);
- a **TorchScript** `.pt` of StyleGAN2-ADA / clean-fid (`inception-2015-12-05.pt`), called as
  `model(img, return_features=True)` on uint8 images at their native size, resizing inside.

The contract (torch-fidelity's and StyleGAN's; the TF FID code's): images in [−1, 1] are quantised to uint8 as
`floor(127.5·x + 128)` clipped to [0, 255] (the data's own 8-bit values come back exactly), grey is repeated to three
channels, the *network* resizes to 299 × 299 with TF1's `resize_bilinear` (align_corners=False, no half-pixel
centres: source coordinate = destination · in/out, `tf1_resize_bilinear`) and maps to (x − 128)/128. Features are
the 2048-d pool after `Mixed_7c`; class probabilities for IS are softmax(pool · fcᵀ) without the bias
(torch-fidelity's `logits_unbiased`, StyleGAN's `no_output_bias=True`). pytorch-fid differs in its resize
(torch bilinear with half-pixel centres on [0, 1] floats): its FIDs differ slightly from TF/torch-fidelity's.
"""
from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    import numpy.typing as npt

INPUT_SIZE = 299
FORMATS = "a pytorch-fid/torch-fidelity state dict (.pth) or a StyleGAN/clean-fid TorchScript file (.pt)"


def _tf1_axis(n_in: int, n_out: int, like: torch.Tensor):
    """Source indices (floor, floor + 1 clamped) and weights of TF1's half_pixel_centers=False grid on one axis."""
    src = torch.arange(n_out, dtype=torch.float32, device=like.device) * torch.tensor(n_in / n_out,
                                                                                      dtype=torch.float32)
    lo = src.floor().long()
    return lo, (lo + 1).clamp(max=n_in - 1), (src - lo.to(torch.float32)).to(like.dtype)


def tf1_resize_bilinear(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """TensorFlow 1 `tf.image.resize_bilinear(x, size, align_corners=False)` (half_pixel_centers=False) of
    (B, C, H, W) floats: output pixel (i, j) samples the input at (i·H/h, j·W/w) (float32 coordinates), bilinear
    between the floor and floor + 1 (clamped to the last row/column), rows interpolated first."""
    if x.dim() != 4 or not x.is_floating_point():
        raise ValueError("x must be a float (B, C, H, W) tensor; got dtype " + str(x.dtype) + " of shape "
                         + str(x.shape))
    h_out, w_out = int(size[0]), int(size[1])
    ylo, yhi, dy = _tf1_axis(x.shape[2], h_out, x)
    xlo, xhi, dx = _tf1_axis(x.shape[3], w_out, x)
    top, bottom = x.index_select(2, ylo), x.index_select(2, yhi)
    tl, tr = top.index_select(3, xlo), top.index_select(3, xhi)
    bl, br = bottom.index_select(3, xlo), bottom.index_select(3, xhi)
    top, bottom = tl + (tr - tl) * dx, bl + (br - bl) * dx
    return top + (bottom - top) * dy[:, None]


def quantise_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [−1, 1] (B, 1 or 3, H, W) → uint8 RGB (B, 3, H, W): floor(127.5·x + 128) clipped (StyleGAN's
    `(x * 127.5 + 128).clamp(0, 255).to(torch.uint8)`); an 8-bit image stored as p/127.5 − 1 maps back to p."""
    x = torch.as_tensor(images)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (B, 1 or 3, H, W); got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        q = x
    else:
        q = (x.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return q.expand(-1, 3, -1, -1) if q.shape[1] == 1 else q


# ---------------------------------------------------------------- the FID Inception-v3 (state-dict layout)

class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)  # TF's pool ignores the padding


def _max3(x):
    return F.max_pool2d(x, 3, stride=1, padding=1)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        d = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(self.branch7x7dbl_2(d))))
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """`max_pool=False`: Mixed_7b (average pool branch); True: Mixed_7c, whose TF graph max-pools there."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _max3(x) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3. `forward(img)`: uint8-valued (B, 3, H, W) (uint8 or float 0..255, any H, W) →
    (B, 2048) pool features, resizing with `tf1_resize_bilinear` inside; `trunk(x)`: the network on already
    resized, normalised (B, 3, 299, 299) input; `logits_unbiased(pool)` = pool · fcᵀ (B, 1008)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))          # (B, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)                                           # (B, 64, 73, 73)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)   # (B, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))                          # (B, 288, 35, 35)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))  # (B, 768, 17, 17)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))                          # (B, 2048, 8, 8)
        return x.mean(dim=(2, 3))                                                  # (B, 2048)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = tf1_resize_bilinear(img.to(torch.float32), [299, 299])  # INPUT_SIZE (TorchScript reads no globals)
        return self.trunk((x - 128) / 128)

    def logits_unbiased(self, pool: torch.Tensor) -> torch.Tensor:
        return pool @ self.fc.weight.T


class StyleGANCallingConvention(nn.Module):
    """Wraps a `FIDInceptionV3` with the StyleGAN/clean-fid TorchScript signature
    `forward(img, return_features=False, use_fp16=False, no_output_bias=False)`: pool features, or softmax
    probabilities (B, 1008). `torch.jit.script(StyleGANCallingConvention(net)).save(path)` writes a `.pt` file."""

    def __init__(self, net: FIDInceptionV3):
        super().__init__()
        self.net = net

    def forward(self, img: torch.Tensor, return_features: bool = False, use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        pool = self.net(img)
        if return_features:
            return pool
        logits = self.net.logits_unbiased(pool)
        if not no_output_bias:
            logits = logits + self.net.fc.bias
        return torch.softmax(logits, dim=1)


# ---------------------------------------------------------------- loading and the extractor

def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n or n.endswith("constants.pkl") for n in z.namelist())


def _load_state_dict(path: Path, device) -> FIDInceptionV3:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same one-line message
        raise ValueError(f"{path} is neither {FORMATS}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{path} is neither {FORMATS}: it holds a {type(sd).__name__}, not a dict of tensors")
    sd = {k: v for k, v in sd.items() if not k.startswith("AuxLogits.")}
    net = FIDInceptionV3()
    want = net.state_dict()
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    extra = [k for k in sd if k not in want]
    wrong = [k for k in want if k in sd and sd[k].shape != want[k].shape]
    if missing or extra or wrong:
        raise ValueError(f"{path} is not the FID Inception-v3 state dict ({FORMATS} expected): "
                         f"{len(missing)} missing keys {missing[:3]}, {len(extra)} unexpected {extra[:3]}, "
                         f"{len(wrong)} of another shape {wrong[:3]}")
    net.load_state_dict(sd, strict=False)
    return net.to(device).eval()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class InceptionFeatures:
    """Extractor: images in [−1, 1] (B, 1 or 3, H, W) → (B, 2048) float32 pool features (CPU), through the
    contract of the module docstring; `class_probs(images)` → (B, 1008) (softmax without the fc bias).

    Attributes: `name` ("inception"), `format` ("state_dict" or "torchscript"), `sha256` of the weights file,
    `describe()` → a JSON-able dict for result files."""

    name = "inception"

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu") -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Inception weights not found: {path} (expected {FORMATS})")
        self.path, self.device = path, torch.device(device)
        if _is_torchscript(path):
            with warnings.catch_warnings():  # torch.jit.load is deprecated for new code; the file format is TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    self.model = torch.jit.load(str(path), map_location=self.device).eval()
                except Exception as exc:  # noqa: BLE001
                    raise ValueError(f"{path} looks like TorchScript but does not load ({FORMATS} expected): "
                                     f"{type(exc).__name__}") from None
            self.format = "torchscript"
        else:
            self.model = _load_state_dict(path, self.device)
            self.format = "state_dict"
        self.sha256 = _sha256(path)

    def _input(self, images) -> torch.Tensor:
        return quantise_uint8(torch.as_tensor(images)).to(self.device)

    @torch.no_grad()
    def __call__(self, images: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        x = self._input(images)
        out = self.model(x, return_features=True) if self.format == "torchscript" else self.model(x)
        return out.float().cpu()

    @torch.no_grad()
    def class_probs(self, images: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        x = self._input(images)
        if self.format == "torchscript":
            return self.model(x, no_output_bias=True).double().cpu()
        return torch.softmax(self.model.logits_unbiased(self.model(x)).double(), dim=1).cpu()

    def describe(self) -> dict:
        return {"name": self.name, "format": self.format, "file": str(self.path), "sha256": self.sha256,
                "features": 2048}


def inception_extractor(path: str | os.PathLike, device: str | torch.device = "cpu") -> InceptionFeatures:
    """`InceptionFeatures` from a local weights file in either format (see the module docstring)."""
    return InceptionFeatures(path, device)
