"""Two time-scale update rule (TTUR, Heusel et al. 2017) and other optimiser presets, as plain data.

| preset   | lr D  | lr G  | Adam betas (D and G) | n_critic | source |
|----------|-------|-------|----------------------|----------|--------|
| sagan    | 4e-4  | 1e-4  | (0.0, 0.9)           | 1        | Zhang et al. 2019 §5 (SAGAN, TTUR) |
| dcgan    | 2e-4  | 2e-4  | (0.5, 0.999)         | 1        | Radford et al. 2016 §4 |
| wgan_gp  | 1e-4  | 1e-4  | (0.0, 0.9)           | 5        | Gulrajani et al. 2017, Algorithm 1 |
| pacgan   | 1e-4  | 1e-4  | (0.8, 0.999)         | 1        | Lin et al. 2018, 2-D experiments (also sets the architecture: gan.sweep.presets) |
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

__all__ = ["OptimPreset", "PRESETS", "get_preset", "make_optimizers"]


@dataclass(frozen=True)
class OptimPreset:
    lr_d: float
    lr_g: float
    betas_d: tuple[float, float]
    betas_g: tuple[float, float]
    n_critic: int

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "sagan": OptimPreset(lr_d=4e-4, lr_g=1e-4, betas_d=(0.0, 0.9), betas_g=(0.0, 0.9), n_critic=1),
    "dcgan": OptimPreset(lr_d=2e-4, lr_g=2e-4, betas_d=(0.5, 0.999), betas_g=(0.5, 0.999), n_critic=1),
    "wgan_gp": OptimPreset(lr_d=1e-4, lr_g=1e-4, betas_d=(0.0, 0.9), betas_g=(0.0, 0.9), n_critic=5),
    # PacGAN's 2-D experiments (their config.py: learning_rate 1e-4, beta1 0.8, Blocks' default beta2 0.999)
    "pacgan": OptimPreset(lr_d=1e-4, lr_g=1e-4, betas_d=(0.8, 0.999), betas_g=(0.8, 0.999), n_critic=1),
}


def get_preset(name: str) -> OptimPreset:
    """The preset called ``name`` (case-insensitive; "ttur" is an alias of "sagan")."""
    if not isinstance(name, str):
        raise TypeError(f"preset name must be a str; got {type(name).__name__}")
    key = {"ttur": "sagan"}.get(name.lower(), name.lower())
    if key not in PRESETS:
        raise ValueError(f"unknown optimiser preset {name!r}; known: {sorted(PRESETS) + ['ttur']}")
    return PRESETS[key]


def make_optimizers(preset: OptimPreset | str, generator: torch.nn.Module, critic: torch.nn.Module
                    ) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(Adam for G, Adam for D) configured by the preset."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    opt_g = torch.optim.Adam(generator.parameters(), lr=p.lr_g, betas=p.betas_g)
    opt_d = torch.optim.Adam(critic.parameters(), lr=p.lr_d, betas=p.betas_d)
    return opt_g, opt_d
