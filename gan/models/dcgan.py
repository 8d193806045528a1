"""DCGAN generator and critic (Radford, Metz & Chintala 2016) for 28×28, 32×32 and 64×64 images.

G: z (B, z_dim) → 1×1 → ConvTranspose(k=s0) to s0×s0 (s0 = 7 for 28, 4 for 32/64) → stride-2 transposed convs
(k=4, p=1) doubling the side, BatchNorm + ReLU between, Tanh at the end → (B, C, size, size) in [−1, 1].
D: the mirror: stride-2 convs (k=4, p=1) with LeakyReLU(0.2) (BatchNorm after the first), a final conv of
kernel s0 to 1×1 → raw critic output V (B,) (no sigmoid). Init: conv weights N(0, 0.02), BatchNorm weight
N(1, 0.02), biases 0 (the DCGAN paper, Sec. 4).

``attention_res=r`` inserts a SAGAN self-attention block (`gan.layers.SelfAttention2d`, the identity at init)
after the layer whose feature maps are r×r (r ∈ the model's intermediate sides, e.g. 8 or 16 for 32×32 images;
SAGAN places it at 32×32 of 128×128 images), in G and D alike.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers.self_attention import SelfAttention2d

_SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}  # size → (start side s0, number of stride-2 layers)


def _plan(size: int):
    if size not in _SIZES:
        raise ValueError(f"image size must be one of {sorted(_SIZES)}, got {size!r}")
    return _SIZES[size]


def _sides(size: int) -> list[int]:
    """Sides of the intermediate feature maps, small to large (G's order; D's is the reverse)."""
    s0, n = _plan(size)
    return [s0 * 2 ** i for i in range(n)]


def _check_attention(size: int, attention_res: int) -> None:
    if attention_res and attention_res not in _sides(size):
        raise ValueError(f"attention_res must be 0 (none) or an intermediate feature-map side of a {size}×{size} "
                         f"DCGAN, one of {_sides(size)}; got {attention_res!r}")


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation in place: conv/linear weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (B, z_dim) → images (B, channels, size, size) in [−1, 1]. width: channels of the last hidden layer."""

    def __init__(self, z_dim: int = 100, channels: int = 1, size: int = 32, width: int = 64, attention_res: int = 0):
        super().__init__()
        s0, n_up = _plan(size)
        _check_attention(size, attention_res)
        self.z_dim, self.size = z_dim, size
        ch = width * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        side = s0
        for _ in range(n_up - 1):
            if side == attention_res:
                layers.append(SelfAttention2d(ch))
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
            side *= 2
        if side == attention_res:
            layers.append(SelfAttention2d(ch))
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANCritic(nn.Module):
    """images (B, channels, size, size) → raw critic output V (B,)."""

    def __init__(self, channels: int = 1, size: int = 32, width: int = 64, batchnorm: bool = True,
                 attention_res: int = 0):
        super().__init__()
        s0, n_down = _plan(size)
        _check_attention(size, attention_res)
        ch = width
        layers = [nn.Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        side = size // 2
        for _ in range(n_down - 1):
            if side == attention_res:
                layers.append(SelfAttention2d(ch))
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batchnorm)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
            side //= 2
        if side == attention_res:
            layers.append(SelfAttention2d(ch))
        layers.append(nn.Conv2d(ch, 1, s0, 1, 0))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0])
