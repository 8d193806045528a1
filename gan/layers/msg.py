"""MSG-GAN: multi-scale gradients (Karnewar & Wang 2020) for DCGAN-style models.

The generator emits an image at every resolution of its up-sampling path (a 1×1 "to-RGB" conv + tanh after each
block): [x_4, x_8, ..., x_R], coarse to fine. The critic consumes them the other way round: a 1×1 "from-RGB"
conv on x_R, then at each down-sampling block the image of the block's resolution is concatenated to the
feature map (the paper's "simple" combine function φ_simple). Real images enter as `image_pyramid(x)`: x
average-pooled by 2, 4, ..., so the critic sees real and fake at the same scales and its gradient reaches every
intermediate generator output directly.

Resolutions are powers of two ≥ 8 (pad 28×28 data to 32×32). Shapes: z (B, nz) -> list of (B, C, 2^k, 2^k) for
k = 2 … log2 R; critic: that list -> (B,) raw critic values V (no activation: f-GAN applies g_f).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["image_pyramid", "MSGGenerator", "MSGDiscriminator"]


def _scales(resolution):
    if not isinstance(resolution, int) or resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two ≥ 8 (pad 28×28 images to 32); got {resolution!r}")
    return int(math.log2(resolution)) - 1  # number of outputs: 4, 8, ..., resolution


def image_pyramid(x: torch.Tensor, n_scales: int) -> list[torch.Tensor]:
    """[avgpool_{2^{n−1}}(x), ..., avgpool_2(x), x]: coarse to fine, each level the 2×2 mean of the next."""
    if x.dim() != 4:
        raise ValueError(f"x must have shape (B, C, H, W); got {tuple(x.shape)}")
    if n_scales < 1 or x.shape[-1] % (2 ** (n_scales - 1)) or x.shape[-2] % (2 ** (n_scales - 1)):
        raise ValueError(f"cannot take {n_scales} scales of a {x.shape[-2]}×{x.shape[-1]} image")
    out = [x]
    for _ in range(n_scales - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out[::-1]


class MSGGenerator(nn.Module):
    """DCGAN generator (ConvTranspose + BatchNorm + ReLU) with a tanh to-RGB output at every resolution."""

    def __init__(self, nz: int = 100, channels: int = 3, resolution: int = 32, ngf: int = 64):
        super().__init__()
        n = _scales(resolution)
        self.nz, self.n_scales = nz, n
        widths = [ngf * 2 ** (n - 1 - i) for i in range(n)]            # 4×4 widest, halving per block
        self.stem = nn.Sequential(nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=False),
                          nn.BatchNorm2d(widths[i + 1]), nn.ReLU(True)) for i in range(n - 1))
        self.to_rgb = nn.ModuleList(nn.Conv2d(w, channels, 1) for w in widths)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        h = self.stem(z.reshape(z.shape[0], self.nz, 1, 1))
        outs = [torch.tanh(self.to_rgb[0](h))]
        for block, rgb in zip(self.blocks, self.to_rgb[1:]):
            h = block(h)
            outs.append(torch.tanh(rgb(h)))
        return outs


class MSGDiscriminator(nn.Module):
    """DCGAN critic (strided convs + LeakyReLU 0.2) that concatenates the image of each scale to its features."""

    def __init__(self, channels: int = 3, resolution: int = 32, ndf: int = 64):
        super().__init__()
        n = _scales(resolution)
        self.n_scales, self.channels, self.resolution = n, channels, resolution
        widths = [ndf * 2 ** i for i in range(n)]                       # full resolution narrowest
        self.from_rgb = nn.Conv2d(channels, widths[0], 1)
        # block i: resolution R/2^i -> R/2^{i+1}; its input carries the image of its resolution (except i = 0)
        self.blocks = nn.ModuleList(
            nn.Conv2d(widths[i] + (channels if i > 0 else 0), widths[i + 1], 4, 2, 1) for i in range(n - 1))
        self.final = nn.Conv2d(widths[-1] + channels, 1, 4, 1, 0)

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        if len(images) != self.n_scales:
            raise ValueError(f"expected {self.n_scales} images (coarse to fine, 4×4 … {self.resolution}×"
                             f"{self.resolution}); got {len(images)}")
        for k, im in enumerate(images):
            side = 4 * 2 ** k
            if im.dim() != 4 or tuple(im.shape[1:]) != (self.channels, side, side):
                raise ValueError(f"image {k} must have shape (B, {self.channels}, {side}, {side}); got {tuple(im.shape)}")
        fine_to_coarse = images[::-1]
        h = F.leaky_relu(self.from_rgb(fine_to_coarse[0]), 0.2)
        for i, block in enumerate(self.blocks):
            if i > 0:
                h = torch.cat([h, fine_to_coarse[i]], dim=1)
            h = F.leaky_relu(block(h), 0.2)
        h = torch.cat([h, fine_to_coarse[-1]], dim=1)
        return self.final(h).reshape(-1)
