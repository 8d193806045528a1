"""Building blocks for GAN models: spectral normalisation, SAGAN self-attention, conditioning (concatenation and
the projection discriminator), PacGAN packing, MSG-GAN multi-scale models. See docs/stabilisers.md."""
from .conditioning import ProjectionDiscriminator, ProjectionHead, concat_condition, one_hot
from .msg import MSGDiscriminator, MSGGenerator, image_pyramid
from .packing import PackedCritic, pack, packed_features, unpack
from .self_attention import SelfAttention2d
from .spectral_norm import (
                            apply_spectral_norm,
                            frozen_power_iteration,
                            power_iteration_,
                            remove_spectral_norm,
                            spectral_norm,
                            spectral_norm_modules,
)

__all__ = ["ProjectionDiscriminator", "ProjectionHead", "concat_condition", "one_hot", "MSGDiscriminator",
           "MSGGenerator", "image_pyramid", "PackedCritic", "pack", "packed_features", "unpack", "SelfAttention2d",
           "apply_spectral_norm", "frozen_power_iteration", "power_iteration_", "remove_spectral_norm", "spectral_norm",
           "spectral_norm_modules"]
