"""Published protocols as `TrainConfig`s.

PACGAN (Lin, Khetan, Fanti, Oh 2018, Table 1; their `synthetic_data_experiments/2D*_GAN&PacGAN/config.py` and
`pacgan_task.py`): generator 4 × 400 (Linear without bias, BatchNorm, ReLU) then Linear 2, z ∈ R² ~ N(0, I);
critic 3 maxout layers (200 units, 5 pieces) then Linear 1 (`gan.models.maxout`, `model="pacgan"`: the critic is
half the generator's width); weights N(0, 0.02²); Adam lr 1e-4, β = (0.8, 0.999) for both players; the GAN loss
with the non-saturating generator loss (their `softplus(−D(G(z)))`); a fixed training set of 100,000 samples
(packs of m samples for PacGANm), batches of 100 packs; 400 epochs = 400,000 iterations; 2,500 samples for the
metrics. Differences that remain: their BatchNorm normalises each of the m generator calls of a pack
separately (100 samples each), ours the 100·m samples of a step together; they shuffle the training set per
epoch, we draw with replacement; their critic and generator steps share one batch, ours draw fresh z for the
generator step (as everywhere in `gan.trainer`).
"""
from __future__ import annotations

from typing import Any

from ..config import TrainConfig

__all__ = ["PACGAN", "PACGAN_STEPS", "pacgan_config"]

PACGAN = dict(model="pacgan", z_dim=2, hidden=400, layers=4, preset="pacgan", train_set=100_000,
              divergence="gan", generator_loss="nonsaturating", eval_samples=2500, n_critic=1)
PACGAN_STEPS = 400_000  # 400 epochs of 1,000 batches


def pacgan_config(pack: int = 1, **overrides: Any) -> TrainConfig:
    """PacGAN's 2-D protocol for PacGAN`pack` (1 = the GAN baseline): batch = 100 packs = 100·pack samples."""
    return TrainConfig(**{**PACGAN, "pack": pack, "batch_size": 100 * pack, "steps": PACGAN_STEPS, **overrides})
