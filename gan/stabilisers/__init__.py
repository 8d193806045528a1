"""GAN training stabilisers as standalone pieces: generator EMA, gradient penalties (R1, R2, WGAN-GP), instance
noise, one-sided label smoothing, the unrolled-GAN generator loss, the MINE regulariser, TTUR presets.
See docs/stabilisers.md."""
from .ema import GeneratorEMA
from .mine_regulariser import MINERegulariser
from .penalties import (
                        SMOOTHABLE,
                        add_instance_noise,
                        gradient_squared_norm,
                        linear_anneal,
                        r1_penalty,
                        r2_penalty,
                        smoothed_p_term,
                        wgan_gp_penalty,
)
from .ttur import PRESETS, OptimPreset, get_preset, make_optimizers
from .unrolled import unrolled_critic_params, unrolled_generator_loss

__all__ = ["GeneratorEMA", "MINERegulariser", "SMOOTHABLE", "add_instance_noise", "gradient_squared_norm",
           "linear_anneal", "r1_penalty", "r2_penalty", "smoothed_p_term", "wgan_gp_penalty", "PRESETS",
           "OptimPreset", "get_preset", "make_optimizers", "unrolled_critic_params", "unrolled_generator_loss"]
