"""A small f-GAN on ring8 on the CPU (about a minute): `gan.demo_ring8(out_dir)`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from .config import TrainConfig
from .trainer import Trainer

if TYPE_CHECKING:
    import os


def demo_ring8(out_dir: str | os.PathLike = "out/gan_ring8", steps: int = 1000, seed: int = 0, divergence: str = "gan",
               generator_loss: str = "nonsaturating", progress: bool = False, overwrite: bool = False) -> dict:
    """Train an MLP f-GAN on ring8 and write `out_dir/samples.png` (+ samples.npy, metrics.jsonl, summary.json).

    `out_dir` must be empty, missing, or hold an earlier run of this same demo (replaced, so `make demo` can
    be rerun); anything else is refused unless `overwrite=True`.
    Returns the summary dict (modes captured, HQ fraction, reverse KL on 2,500 samples) with "plot": path.
    """
    cfg = TrainConfig(data="ring8", divergence=divergence, generator_loss=generator_loss, steps=steps, seed=seed,
                      batch_size=256, hidden=128, layers=2, z_dim=8, lr_g=1e-3, lr_d=1e-3, betas_g=(0.5, 0.999),
                      betas_d=(0.5, 0.999), log_every=100, sample_every=0, checkpoint_every=0, progress=progress,
                      out=str(out_dir))
    previous = Path(out_dir) / "config.json"
    try:
        same_demo = json.loads(previous.read_text(encoding="utf-8")) == cfg.validate().to_dict()
    except (OSError, ValueError):
        same_demo = False
    summary = Trainer(cfg, overwrite=overwrite or same_demo).fit()
    summary["plot"] = str(Path(out_dir) / "samples.png")
    return summary
