"""Autoencoder critics for BEGAN (Berthelot et al. 2017): V(x) = mean |x − AE(x)|, one value per sample.

- vectors (B, d): an MLP encoder d → hidden (× layers, ELU) → code, and its mirror back to d (ELU hidden
  layers, linear output);
- images (B, C, S, S): the DCGAN critic's convolutional body (no BatchNorm) ending in a `code`-channel 1×1
  map, then a DCGAN generator from the code back to C×S×S (tanh output: the data lie in [−1, 1]).

The output is the per-sample L1 reconstruction error (η = 1 of the paper), a raw critic output of shape (B,)
that `gan.losses.BEGANLoss` consumes; ELU follows the paper's model.
"""
from __future__ import annotations

import torch
from torch import nn

from .dcgan import DCGANCritic, DCGANGenerator


def _elu_mlp(d_in: int, d_out: int, hidden: int, layers: int) -> nn.Sequential:
    if layers < 1 or hidden < 1:
        raise ValueError(f"need layers >= 1 and hidden >= 1, got layers={layers}, hidden={hidden}")
    mods, d = [], d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ELU()]
        d = hidden
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class AutoencoderCritic(nn.Module):
    """x (B, d) or (B, C, S, S) → V (B,) = mean over the sample's entries of |x − AE(x)|.

    Args:
      shape: one sample's shape, (d,) or (C, S, S) with S ∈ {28, 32, 64}.
      hidden, layers: MLP width and depth (vectors); width: DCGAN base channels (images).
      code: bottleneck size (BEGAN's embedding h; the paper uses 64 for 64×64 faces).
    """

    def __init__(self, shape: tuple, hidden: int = 128, layers: int = 3, width: int = 64, code: int = 64):
        super().__init__()
        self.shape = tuple(shape)
        if len(self.shape) == 1:
            d = self.shape[0]
            self.encoder = _elu_mlp(d, code, hidden, layers)
            self.decoder = _elu_mlp(code, d, hidden, layers)
        elif len(self.shape) == 3:
            c, h, w = self.shape
            body = DCGANCritic(c, h, width, batchnorm=False)
            last = body.net[-1]
            self.encoder = nn.Sequential(*body.net[:-1], nn.Conv2d(last.in_channels, code, last.kernel_size),
                                         nn.Flatten())
            self.decoder = DCGANGenerator(code, c, h, width)
        else:
            raise ValueError(f"AutoencoderCritic needs samples of shape (d,) or (C, H, W), got {self.shape}")

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x)).reshape(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.reconstruct(x)).abs().flatten(1).mean(1)
