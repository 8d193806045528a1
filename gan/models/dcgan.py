"""DCGAN generator and critic (Radford, Metz & Chintala 2016) for 28×28, 32×32 and 64×64 images.

G: z (B, z_dim) → 1×1 → ConvTranspose(k=s0) to s0×s0 (s0 = 7 for 28, 4 for 32/64) → stride-2 transposed convs
(k=4, p=1) doubling the side, BatchNorm + ReLU between, Tanh at the end → (B, C, size, size) in [−1, 1].
D: the mirror: stride-2 convs (k=4, p=1) with LeakyReLU(0.2) (BatchNorm after the first), a final conv of
kernel s0 to 1×1 → raw critic output V (B,) (no sigmoid). Init: conv weights N(0, 0.02), BatchNorm weight
N(1, 0.02), biases 0 (the DCGAN paper, Sec. 4).
"""
from __future__ import annotations

import torch
from torch import nn

_SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}  # size → (start side s0, number of stride-2 layers)


def _plan(size: int):
    if size not in _SIZES:
        raise ValueError(f"image size must be one of {sorted(_SIZES)}, got {size!r}")
    return _SIZES[size]


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

    def __init__(self, z_dim: int = 100, channels: int = 1, size: int = 32, width: int = 64):
        super().__init__()
        s0, n_up = _plan(size)
        self.z_dim, self.size = z_dim, size
        ch = width * 2 ** (n_up - 1)
        layers = [nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANCritic(nn.Module):
    """images (B, channels, size, size) → raw critic output V (B,)."""

    def __init__(self, channels: int = 1, size: int = 32, width: int = 64, batchnorm: bool = True):
        super().__init__()
        s0, n_down = _plan(size)
        ch = width
        layers = [nn.Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batchnorm)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, s0, 1, 0))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0])
