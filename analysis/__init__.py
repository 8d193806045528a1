"""analysis: saddle-point dynamics of games, gradient saturation of GAN losses, divergence fits, and the figures.

    import analysis
    from analysis import games
    tr = analysis.simulate(games.Bilinear(), "extragradient", lr=0.1, steps=200, x0=1.0, y0=0.0)
    analysis.spectral_radius(games.Bilinear(), "optimistic", 0.1)
"""
from divkit._version import __version__ as __version__  # one version for the one distribution that ships analysis

from . import games, optim
from .simulate import Trajectory, simulate
from .spectral import spectral_radius, step_matrix

__all__ = ["games", "optim", "simulate", "Trajectory", "spectral_radius", "step_matrix"]
