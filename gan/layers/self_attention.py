"""SAGAN self-attention block (Zhang, Goodfellow, Metaxas, Odena 2019, §3, eqs. 1-3).

For a feature map x of shape (B, C, H, W) with N = H·W positions,

    f(x) = W_f x,  g(x) = W_g x   (1×1 convs, C -> C/8 channels),   h(x) = W_h x   (1×1 conv, C -> C),
    s_ij = f(x_i)ᵀ g(x_j),   β_{j,i} = exp(s_ij) / Σ_i exp(s_ij)   (softmax over the attended positions i),
    o_j  = Σ_i β_{j,i} h(x_i),
    y    = x + γ · o,   γ a learnable scalar initialised to 0,

so the block is exactly the identity at initialisation and learns how much non-local evidence to add
(SAGAN eq. 3). The paper's implementation also factors h into C -> C/2 followed by a 1×1 conv back to C; the
single C -> C map used here is the equation as printed. ``spectral_norm=True`` wraps f, g, h with
`gan.layers.spectral_norm` (SAGAN applies SN in both G and D).
"""
from __future__ import annotations

import torch
from torch import nn

from .spectral_norm import spectral_norm as _sn

__all__ = ["SelfAttention2d"]


class SelfAttention2d(nn.Module):
    """y = x + γ·softmax-attention(x); (B, C, H, W) -> (B, C, H, W). Needs C ≥ 8 (f, g have C // 8 channels).

    Args:
        channels: C.
        key_channels: channels of f and g (default C // 8, as in SAGAN).
        spectral_norm: apply spectral normalisation to the three 1×1 convs.
    """

    def __init__(self, channels: int, key_channels: int | None = None, spectral_norm: bool = False):
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int; got {channels!r}")
        key_channels = channels // 8 if key_channels is None else key_channels
        if key_channels < 1:
            raise ValueError(f"key_channels = channels // 8 must be ≥ 1 (channels ≥ 8); got channels={channels}")
        self.channels, self.key_channels = channels, key_channels
        self.f = nn.Conv2d(channels, key_channels, 1, bias=False)
        self.g = nn.Conv2d(channels, key_channels, 1, bias=False)
        self.h = nn.Conv2d(channels, channels, 1, bias=False)
        if spectral_norm:
            for conv in (self.f, self.g, self.h):
                _sn(conv)
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """β of shape (B, N, N): β[b, j, i] = weight of position i in the output at position j (rows sum to 1)."""
        f = self.f(x).flatten(2)                       # (B, C/8, N)
        g = self.g(x).flatten(2)                       # (B, C/8, N)
        s = f.transpose(1, 2) @ g                      # (B, N_i, N_j): s_ij = f_iᵀ g_j
        return torch.softmax(s, dim=1).transpose(1, 2)  # softmax over i, then (B, N_j, N_i)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected input (B, {self.channels}, H, W); got shape {tuple(x.shape)}")
        b, c, hh, ww = x.shape
        beta = self.attention(x)                       # (B, N, N)
        h = self.h(x).flatten(2)                       # (B, C, N)
        o = (h @ beta.transpose(1, 2)).reshape(b, c, hh, ww)  # o_j = Σ_i β_ji h_i
        return x + self.gamma * o
