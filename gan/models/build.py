"""Build the generator and the critic of one training run from a `TrainConfig` (architecture + stabilisers).

The critic the trainer calls is a `Critic`: V(x, y) = net(pack_m(cond(x, y))) where

- cond: with ``conditional="concat"`` the one-hot label is appended to every sample (a feature for vectors,
  K constant channels for images; Mirza & Osindero 2014); with ``"projection"`` the label enters at the end,
  D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018), φ the critic's body;
- pack_m: PacGAN packing of m consecutive samples (Lin et al. 2018), so the critic's input is m times wider
  and it returns B/m values;
- net: the MLP (2-D data), DCGAN (optionally with a SAGAN block) or MSG-GAN critic;

and spectral normalisation (Miyato et al. 2018) is applied to every Linear/Conv/Embedding layer of the critic
(``spectral_norm``) and of the generator (``spectral_norm_g``). The generator's input is
[z, c, onehot(y)]: z (z_dim), the MINE code c (``mine_code_dim`` when ``mine_beta`` > 0), the one-hot label when
conditional.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..layers.conditioning import ProjectionDiscriminator, concat_condition
from ..layers.msg import MSGDiscriminator, MSGGenerator, image_pyramid
from ..layers.packing import pack
from ..layers.spectral_norm import apply_spectral_norm
from .autoencoder import AutoencoderCritic
from .dcgan import DCGANCritic, DCGANGenerator
from .maxout import PacGANCritic, PacGANGenerator
from .mlp import MLPCritic, MLPGenerator

if TYPE_CHECKING:
    from ..config import TrainConfig

__all__ = ["Critic", "build_models", "generator_input_dim", "model_kind"]


class _SumPool(nn.Module):
    """(B, C, H, W) -> (B, C): sum over positions (the SNGAN/projection-discriminator feature pooling)."""

    def forward(self, h):
        return h.sum(dim=(2, 3)) if h.dim() == 4 else h


class Critic(nn.Module):
    """V(x[, y]) = net(pack_m(cond(x, y))): (B, ...) samples (and (B,) int labels when conditional) -> (B/m,).

    With ``msg=True`` the net is an MSG-GAN critic: a tensor x (real images) is turned into its image pyramid,
    a list (the generator's multi-scale outputs) is passed as it is."""

    def __init__(self, net: nn.Module, m: int = 1, conditional: str = "none", num_classes: int = 0,
                 msg_scales: int = 0):
        super().__init__()
        self.net, self.m, self.conditional, self.num_classes, self.msg_scales = net, m, conditional, num_classes, msg_scales

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.msg_scales:
            return self.net(x if isinstance(x, (list, tuple)) else image_pyramid(x, self.msg_scales))
        if self.conditional != "none" and y is None:
            raise ValueError("this critic is conditional: pass the labels y (B,)")
        if self.conditional == "concat":
            x = concat_condition(x, y, self.num_classes)
        if self.m > 1:
            x = pack(x, self.m)
        return self.net(x, y) if self.conditional == "projection" else self.net(x)


def model_kind(config: TrainConfig, shape: tuple) -> str:
    """'mlp', 'dcgan' or 'msg' for data of per-sample `shape`."""
    kind = config.model if config.model != "auto" else ("mlp" if len(shape) == 1 else "dcgan")
    if config.msg:
        if len(shape) != 3:
            raise ValueError(f"msg (MSG-GAN) needs images (C, H, W), got samples of shape {shape}")
        return "msg"
    return kind


def generator_input_dim(config: TrainConfig, num_classes: int = 0) -> int:
    """z_dim + (mine_code_dim if the MINE regulariser is on) + (K if conditional)."""
    return (config.z_dim + (config.mine_code_dim if config.mine_beta > 0 else 0)
            + (num_classes if config.conditional != "none" else 0))


def _autoencoder_critic(config) -> bool:
    """Does the configured loss want an autoencoder critic (BEGAN)? Asked of the loss object."""
    from ..losses import config_kwargs, get

    return get(config.divergence, config.generator_loss, **config_kwargs(config)).autoencoder_critic


def build_models(config: TrainConfig, shape: tuple, num_classes: int = 0, critic_batchnorm: bool = True,
                 generator: torch.Generator | None = None) -> tuple[nn.Module, nn.Module]:
    """(generator, Critic) for data of per-sample `shape` ((d,) → MLP, (C, H, W) → DCGAN or MSG-GAN).

    critic_batchnorm: allow BatchNorm in the DCGAN critic (False when a per-sample gradient penalty is used:
    BatchNorm couples the samples of a batch, Gulrajani et al. 2017 §4). `generator` seeds the spectral-norm
    power-iteration vectors (None: torch's global RNG)."""
    kind = model_kind(config, shape)
    conditional, m = config.conditional, config.pack
    if conditional != "none" and num_classes < 2:
        raise ValueError(f"conditional={conditional!r} needs labelled data with ≥ 2 classes; got {num_classes}")
    if kind == "msg" and (m > 1 or conditional != "none" or config.self_attention):
        raise ValueError("msg (MSG-GAN) does not combine with pack, conditional or self_attention here")
    if conditional == "projection" and m > 1:
        raise ValueError("conditional='projection' does not combine with pack > 1 (use conditional='concat')")
    k_in = num_classes if conditional == "concat" else 0
    autoencoder = _autoencoder_critic(config)
    if autoencoder and (kind == "msg" or conditional == "projection" or config.self_attention):
        raise ValueError("the BEGAN autoencoder critic does not combine with msg, conditional='projection' or "
                         "self_attention here")
    nz = generator_input_dim(config, num_classes)
    if kind == "pacgan":  # PacGAN's 2-D networks (gan.models.maxout): G layers × hidden, D 3 maxout × hidden/2
        if len(shape) != 1 or conditional != "none" or config.self_attention:
            raise ValueError("model 'pacgan' is for unconditional vector data (ring8, grid25)")
        G = PacGANGenerator(nz, shape[0], config.hidden, config.layers)
        net = PacGANCritic(m * shape[0], max(config.hidden // 2, 1), 3, 5)
    elif kind == "mlp":
        if len(shape) != 1:
            raise ValueError(f"model 'mlp' needs vector data, got samples of shape {shape}")
        if config.self_attention:
            raise ValueError("self_attention needs image models (DCGAN); the data here are vectors")
        G = MLPGenerator(nz, shape[0], config.hidden, config.layers)
        if autoencoder:
            body = AutoencoderCritic((m * (shape[0] + k_in),), config.hidden, config.layers)
        else:
            body = MLPCritic(m * (shape[0] + k_in), config.hidden, config.layers)
        if conditional == "projection":
            net = ProjectionDiscriminator(nn.Sequential(*body.net[:-1]), config.hidden, num_classes)
        else:
            net = body
    else:
        if len(shape) != 3:
            raise ValueError(f"model {kind!r} needs images (C, H, W), got samples of shape {shape}")
        c, h, w = shape
        if kind == "msg":
            if h != w or h not in (8, 16, 32, 64):
                raise ValueError(f"MSG-GAN needs square power-of-two images (32 or 64), got {h}×{w}; "
                                 f"pass --image-size 32")
            G, net = MSGGenerator(nz, c, h, config.width), MSGDiscriminator(c, h, config.width)
        else:
            if h != w or h not in (28, 32, 64):
                raise ValueError(f"DCGAN needs 28×28, 32×32 or 64×64 images, got {h}×{w}; pass --image-size 32")
            G = DCGANGenerator(nz, c, h, config.width, attention_res=config.self_attention)
            if autoencoder:
                body = AutoencoderCritic((m * (c + k_in), h, w), width=config.width)
            else:
                body = DCGANCritic(m * (c + k_in), h, config.width, batchnorm=critic_batchnorm,
                                   attention_res=config.self_attention)
            if conditional == "projection":
                feats = nn.Sequential(*body.net[:-1], _SumPool())
                width = body.net[-1].in_channels
                net = ProjectionDiscriminator(feats, width, num_classes)
            else:
                net = body
    D = Critic(net, m, conditional, num_classes, msg_scales=net.n_scales if kind == "msg" else 0)
    if config.spectral_norm:
        apply_spectral_norm(D, generator=generator)
    if config.spectral_norm_g:
        apply_spectral_norm(G, generator=generator)
    return G, D
