"""Class conditioning for G and D: concatenation (Mirza & Osindero 2014) and the projection discriminator
(Miyato & Koyama 2018).

- Concatenation: G gets [z, onehot(y)] (or [z, embed(y)]); D gets [x, onehot(y)] for vectors, or x with
  K constant one-hot channels appended for images (B, C, H, W) -> (B, C + K, H, W).
- Projection (Miyato & Koyama 2018, eq. 3): with a feature extractor φ: x -> (B, F),

      D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩,

  ψ a linear head F -> 1 and embed a (K, F) class embedding. Their derivation: the optimal log-ratio
  log p(y|x)/q(y|x) of softmax class models is an inner product with a class vector, so the label enters by
  projection rather than by concatenation at the input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .spectral_norm import spectral_norm as _sn

__all__ = ["one_hot", "concat_condition", "ProjectionHead", "ProjectionDiscriminator"]


def _check_labels(y, num_classes):
    if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"labels y must be an integer tensor of shape (B,); got {getattr(y, 'dtype', type(y))}")
    if y.dim() != 1:
        raise ValueError(f"labels y must have shape (B,); got {tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}]; got range [{int(y.min())}, {int(y.max())}]")


def one_hot(y: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B,) int -> (B, K) float one-hot."""
    _check_labels(y, num_classes)
    return F.one_hot(y.long(), num_classes).to(dtype)


def concat_condition(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[x, onehot(y)]: (B, D) -> (B, D + K), or (B, C, H, W) -> (B, C + K, H, W) with constant label maps."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y need the same batch size; got {x.shape[0]} and {y.shape[0]}")
    oh = one_hot(y, num_classes, x.dtype).to(x.device)
    if x.dim() == 2:
        return torch.cat([x, oh], dim=1)
    if x.dim() == 4:
        return torch.cat([x, oh[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
    raise ValueError(f"x must have shape (B, D) or (B, C, H, W); got {tuple(x.shape)}")


class ProjectionHead(nn.Module):
    """ψ(h) + ⟨embed(y), h⟩ on features h of shape (B, F); returns (B,)."""

    def __init__(self, features: int, num_classes: int, spectral_norm: bool = False):
        super().__init__()
        if features < 1 or num_classes < 1:
            raise ValueError(f"features and num_classes must be ≥ 1; got {features}, {num_classes}")
        self.num_classes = num_classes
        self.psi = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, std=features ** -0.5)
        if spectral_norm:
            _sn(self.psi)
            _sn(self.embed)  # Miyato & Koyama apply SN to the embedding too

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_labels(y, self.num_classes)
        return self.psi(h).squeeze(-1) + (self.embed(y.long()) * h).sum(-1)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩ with φ = ``features`` (a module giving (B, F))."""

    def __init__(self, features: nn.Module, feature_dim: int, num_classes: int, spectral_norm: bool = False):
        super().__init__()
        self.phi = features
        self.head = ProjectionHead(feature_dim, num_classes, spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.phi(x)
        if h.dim() != 2:
            raise ValueError(f"features must return (B, F); got shape {tuple(h.shape)}")
        return self.head(h, y)
