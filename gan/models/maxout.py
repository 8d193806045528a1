"""Maxout layers and the PacGAN toy-experiment networks (Lin, Khetan, Fanti, Oh 2018, §5.1 and their code).

Maxout (Goodfellow et al. 2013): h_j(x) = max_{k < K} (W x + b)_{jK + k}, i.e. one Linear to out·K units
viewed as (out, K) and maxed over the K pieces.

PacGAN's 2-D experiments (`synthetic_data_experiments/2DGrid_GAN&PacGAN/` of their repository):
- generator: z ∈ R² ~ N(0, I) → 4 × [Linear 400 (no bias) → BatchNorm → ReLU] → Linear 2 (with bias);
- critic: 3 maxout layers of 200 units with 5 pieces → Linear 1, on m·2 inputs (m = pack size);
- every weight ~ N(0, 0.02²), biases 0, BatchNorm γ = 1, β = 0, BatchNorm population statistics updated with
  momentum 0.05 (their `m·0.05 + p·0.95`), ε = 1e-4 (the Blocks default).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Maxout", "PacGANGenerator", "PacGANCritic", "pacgan_init"]


class Maxout(nn.Module):
    """(…, in) → (…, out): max over `pieces` affine maps."""

    def __init__(self, d_in: int, d_out: int, pieces: int = 5, bias: bool = True):
        super().__init__()
        if pieces < 1:
            raise ValueError(f"pieces must be ≥ 1, got {pieces}")
        self.pieces, self.d_out = int(pieces), int(d_out)
        self.linear = nn.Linear(d_in, d_out * pieces, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return y.reshape(*y.shape[:-1], self.d_out, self.pieces).amax(-1)


def pacgan_init(module: nn.Module, std: float = 0.02, generator: torch.Generator | None = None) -> nn.Module:
    """Weights of every Linear ~ N(0, std²), biases 0; BatchNorm γ = 1, β = 0 (in place; returns module)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0.0, std, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


class PacGANGenerator(nn.Module):
    """z (B, z_dim) → x (B, out_dim): `layers` × [Linear(hidden, bias=False), BatchNorm1d, ReLU], Linear(out)."""

    def __init__(self, z_dim: int = 2, out_dim: int = 2, hidden: int = 400, layers: int = 4):
        super().__init__()
        self.z_dim = z_dim
        mods, d = [], z_dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden, eps=1e-4, momentum=0.05), nn.ReLU()]
            d = hidden
        mods.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*mods)
        pacgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PacGANCritic(nn.Module):
    """x (B, in_dim) → V (B,): `layers` maxout layers (hidden units, `pieces` pieces) then Linear 1; raw output."""

    def __init__(self, in_dim: int = 2, hidden: int = 200, layers: int = 3, pieces: int = 5):
        super().__init__()
        mods, d = [], in_dim
        for _ in range(layers):
            mods.append(Maxout(d, hidden, pieces))
            d = hidden
        mods.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*mods)
        pacgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
