"""MLP generator and critic for 2-D data (the VEEGAN/PacGAN toy setting)."""
from __future__ import annotations

import torch
from torch import nn

from divkit.mi.critics import mlp


def _mlp(d_in: int, d_out: int, hidden: int, layers: int, act) -> nn.Sequential:
    # one MLP builder for the project: divkit's (same Linear/activation stack); the toy models need a hidden layer
    if layers < 1 or hidden < 1:
        raise ValueError(f"need layers >= 1 and hidden >= 1, got layers={layers}, hidden={hidden}")
    return mlp(d_in, d_out, hidden, layers, activation=act)


class MLPGenerator(nn.Module):
    """z (B, z_dim) → x (B, out_dim); ReLU hidden layers, linear output."""

    def __init__(self, z_dim: int = 16, out_dim: int = 2, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.z_dim = z_dim
        self.net = _mlp(z_dim, out_dim, hidden, layers, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """x (B, in_dim) → raw critic output V (B,): no sigmoid, the loss applies g_f. LeakyReLU(0.2) hidden layers."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.net = _mlp(in_dim, 1, hidden, layers, lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
