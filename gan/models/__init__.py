"""Generators and critics: MLP for 2-D data, DCGAN for 28/32/64-pixel images. Critics return raw V (B,)."""
from .dcgan import DCGANCritic, DCGANGenerator, dcgan_init
from .mlp import MLPCritic, MLPGenerator

__all__ = ["MLPGenerator", "MLPCritic", "DCGANGenerator", "DCGANCritic", "dcgan_init"]
