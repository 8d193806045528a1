"""GAN losses on raw critic outputs V: f-GAN for any divkit `FDivergence`, plus WGAN, WGAN-GP, hinge, LSGAN.

Every loss object takes raw critic outputs (no sigmoid) and returns a scalar to *minimise*:

- `critic_loss(v_real, v_fake)`      v_real: (B,) or (B,1) critic outputs on data, v_fake on generator samples.
- `generator_loss(v_fake)`
- `critic_penalty(critic, x_real, x_fake)` extra critic term (WGAN-GP gradient penalty; 0 otherwise).
- `after_critic_step(critic)`         post-update hook (WGAN weight clipping; no-op otherwise).

f-GAN (Nowozin, Cseke & Tomioka 2016, eq. 6): the critic maximises
    F(V) = E_P[g_f(V)] − E_Q[f*(g_f(V))]
so `critic_loss = −(mean p_term(v_real) − mean q_term(v_fake))`, with divkit's fused, stable terms
`p_term = g_f`, `q_term = f* ∘ g_f`. Two generator objectives, named explicitly:

- ``saturating``: the minimax one, the generator minimises F, i.e. minimises −mean q_term(v_fake).
- ``nonsaturating``: the f-GAN paper's alternative (Sec. 3.2): maximise E_Q[g_f(V)], i.e. minimise
  −mean p_term(v_fake). For the `gan` divergence g_f(v) = log σ(v) so this is −log D = softplus(−v) exactly
  (Goodfellow et al. 2014's "−log D trick"; other libraries call it "vanilla": we don't).

Baselines: WGAN (Arjovsky et al. 2017; clip weights to [−c, c]), WGAN-GP (Gulrajani et al. 2017, eq. 3,
λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates), hinge (Lim & Ye 2017; Miyato et al. 2018), least squares
(Mao et al. 2017, a=0, b=c=1 with ½ factors).

All losses are finite (with finite gradients) for critic outputs up to |v| = 1e4 in float32 and bfloat16:
the f-GAN ones inherit that from divkit's fused terms; the baselines are polynomial or relu in v.
"""
from __future__ import annotations

from typing import Callable

import torch

import divkit
from divkit.fdiv import FDivergence

GENERATOR_LOSSES = ("saturating", "nonsaturating")


def _flat(v: torch.Tensor) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"critic outputs must be a torch.Tensor, got {type(v).__name__}")
    return v.reshape(-1)


class GANLoss:
    """Base class: subclasses implement `critic_loss` and `generator_loss` on raw critic outputs."""

    name = "base"
    needs_critic_penalty = False

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def critic_penalty(self, critic: Callable, x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
        return x_real.new_zeros(())

    def after_critic_step(self, critic: torch.nn.Module) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class FGANLoss(GANLoss):
    """f-GAN loss for one `FDivergence` (see module docstring).

    Args:
      divergence: an `FDivergence` or a divkit name ("kl", "pearson", "alpha(0.5)", ...).
      generator_loss: "saturating" or "nonsaturating".

    Example:
      >>> import torch
      >>> loss = FGANLoss("gan", "nonsaturating")
      >>> float(loss.generator_loss(torch.zeros(4)))  # −log σ(0) = log 2
      0.6931...
    """

    def __init__(self, divergence, generator_loss: str = "nonsaturating"):
        if isinstance(divergence, str):
            divergence = divkit.get(divergence)
        if not isinstance(divergence, FDivergence):
            raise TypeError(f"divergence must be an FDivergence or a divkit name, got {type(divergence).__name__}")
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
        self.divergence = divergence
        self.generator_objective = generator_loss
        self.name = divergence.name

    def critic_objective(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        """F(V) = mean g_f(v_real) − mean f*(g_f(v_fake)): a lower bound on D_f(P‖Q) at any critic."""
        d = self.divergence
        return d.p_term(_flat(v_real)).mean() - d.q_term(_flat(v_fake)).mean()

    def critic_loss(self, v_real, v_fake):
        return -self.critic_objective(v_real, v_fake)

    def generator_loss(self, v_fake):
        d = self.divergence
        if self.generator_objective == "saturating":
            return -d.q_term(_flat(v_fake)).mean()
        return -d.p_term(_flat(v_fake)).mean()

    def __repr__(self) -> str:
        return f"FGANLoss({self.name!r}, {self.generator_objective!r})"


class WGANLoss(GANLoss):
    """WGAN (Arjovsky et al. 2017): critic minimises mean V(fake) − mean V(real); weights clipped to [−c, c]."""

    name = "wgan"

    def __init__(self, clip: float = 0.01):
        if not clip > 0:
            raise ValueError(f"clip must be > 0, got {clip!r}")
        self.clip = float(clip)

    def critic_loss(self, v_real, v_fake):
        return _flat(v_fake).mean() - _flat(v_real).mean()

    def generator_loss(self, v_fake):
        return -_flat(v_fake).mean()

    @torch.no_grad()
    def after_critic_step(self, critic):
        for p in critic.parameters():
            p.clamp_(-self.clip, self.clip)


class WGANGPLoss(WGANLoss):
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): WGAN critic loss + λ E[(‖∇D(x̂)‖₂ − 1)²], x̂ = εx + (1−ε)x̃."""

    name = "wgan_gp"
    needs_critic_penalty = True

    def __init__(self, gp_weight: float = 10.0):
        if not gp_weight >= 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight!r}")
        self.gp_weight = float(gp_weight)

    def critic_penalty(self, critic, x_real, x_fake):
        from .stabilisers.penalties import wgan_gp_penalty

        return wgan_gp_penalty(critic, x_real, x_fake, self.gp_weight)

    def after_critic_step(self, critic):
        return None


class HingeLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017): critic E[relu(1 − V_real)] + E[relu(1 + V_fake)]; generator −E[V_fake]."""

    name = "hinge"

    def critic_loss(self, v_real, v_fake):
        return torch.relu(1 - _flat(v_real)).mean() + torch.relu(1 + _flat(v_fake)).mean()

    def generator_loss(self, v_fake):
        return -_flat(v_fake).mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN (Mao et al. 2017, eq. 2 with a=0, b=c=1): critic ½E[(V_real−1)²] + ½E[V_fake²]; generator ½E[(V_fake−1)²].

    Squares are taken in float32 at least (bf16 keeps 8 bits of mantissa but its range holds 1e8 anyway).
    """

    name = "least_squares"

    def critic_loss(self, v_real, v_fake):
        vr, vf = _flat(v_real), _flat(v_fake)
        return 0.5 * ((vr - 1) ** 2).mean() + 0.5 * (vf ** 2).mean()

    def generator_loss(self, v_fake):
        return 0.5 * ((_flat(v_fake) - 1) ** 2).mean()


BASELINES = {"wgan": WGANLoss, "wgan_gp": WGANGPLoss, "hinge": HingeLoss, "least_squares": LeastSquaresLoss}


def names() -> list[str]:
    """All loss names `get` accepts: divkit's divergences (f-GAN) then the baselines."""
    return list(divkit.names()) + list(BASELINES)


def get(name, generator_loss: str = "nonsaturating", **kwargs) -> GANLoss:
    """Loss by name: a divkit divergence name (→ `FGANLoss`, also "alpha(a)") or a baseline
    ("wgan", "wgan_gp", "hinge", "least_squares"; `generator_loss` is ignored for baselines).

    Keyword args go to the baseline constructor (clip=, gp_weight=).
    """
    if isinstance(name, FDivergence):
        return FGANLoss(name, generator_loss)
    if not isinstance(name, str):
        raise TypeError(f"loss name must be a str or FDivergence, got {type(name).__name__}")
    if generator_loss not in GENERATOR_LOSSES:
        raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
    key = name.strip().lower().replace("-", "_")
    if key in BASELINES:
        return BASELINES[key](**kwargs)
    try:
        d = divkit.get(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown loss/divergence {name!r}; known: {', '.join(names())} "
                         f"(and alpha(a) for any a ≠ 0, 1)") from exc
    if kwargs:
        raise TypeError(f"f-GAN loss {name!r} takes no options, got {sorted(kwargs)}")
    return FGANLoss(d, generator_loss)
