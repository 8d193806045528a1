"""PacGAN packing (Lin, Khetan, Fanti, Oh 2018): the critic judges m samples jointly.

``pack(x, m)`` turns a batch of B·m samples into B packs of m **consecutive** samples:

    pack b = (x[b·m], x[b·m + 1], ..., x[b·m + m − 1])

concatenated along the feature axis — for vectors (B·m, d) -> (B, m·d) (sample k of the pack occupies
features k·d … (k+1)·d − 1), for images (B·m, C, H, W) -> (B, m·C, H, W) (channels k·C … (k+1)·C − 1). Both
are one ``reshape`` of the contiguous batch. Real samples are packed with real, fake with fake (PacGAN §3);
the critic is built for m times the input width (``packed_features``) and returns one V per pack, so an
f-GAN loss averages over B packs instead of B·m samples. "PacGAN2"/"PacGAN4" are m = 2, 4.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["pack", "unpack", "packed_features", "PackedCritic"]


def _check_m(m):
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"pack size m must be a positive int; got {m!r}")


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B·m, F, ...) -> (B, m·F, ...), grouping consecutive samples; raises if the batch is not divisible by m."""
    _check_m(m)
    if x.dim() < 2:
        raise ValueError(f"pack expects a batch of shape (N, features, ...); got shape {tuple(x.shape)}")
    n = x.shape[0]
    if n % m:
        raise ValueError(f"batch size {n} is not divisible by the pack size m={m}; use a batch that is a multiple of m")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])


def unpack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Inverse of `pack`: (B, m·F, ...) -> (B·m, F, ...)."""
    _check_m(m)
    if x.shape[1] % m:
        raise ValueError(f"feature axis {x.shape[1]} is not divisible by m={m}")
    return x.reshape(x.shape[0] * m, x.shape[1] // m, *x.shape[2:])


def packed_features(features: int, m: int) -> int:
    """Input width of the packed critic: m·features (vector dim or image channels)."""
    _check_m(m)
    return m * features


class PackedCritic(nn.Module):
    """``critic(pack(x, m))``: wraps a critic built for m·F input features; (B·m, F, ...) -> critic's (B, ...)."""

    def __init__(self, critic: nn.Module, m: int):
        super().__init__()
        _check_m(m)
        self.critic, self.m = critic, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(pack(x, self.m))
