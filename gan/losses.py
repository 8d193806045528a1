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

Baselines: BEGAN (Berthelot et al. 2017; an autoencoder critic, `BEGANLoss`), WGAN (Arjovsky et al. 2017;
clip weights to [−c, c]), WGAN-GP (Gulrajani et al. 2017, eq. 3,
λ E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates), hinge (Lim & Ye 2017; Miyato et al. 2018), least squares
(Mao et al. 2017, a=0, b=c=1 with ½ factors).

All losses are finite (with finite gradients) for critic outputs up to |v| = 1e4 in float32 and bfloat16:
the f-GAN ones inherit that from divkit's fused terms; the baselines are polynomial or relu in v.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

import divkit
from divkit.fdiv import FDivergence

if TYPE_CHECKING:
    from .config import TrainConfig

GENERATOR_LOSSES = ("saturating", "nonsaturating")


def _flat(v: torch.Tensor) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"critic outputs must be a torch.Tensor, got {type(v).__name__}")
    return v.reshape(-1)


class GANLoss:
    """Base class: subclasses implement `critic_loss` and `generator_loss` on raw critic outputs."""

    name = "base"
    needs_critic_penalty = False
    autoencoder_critic = False  # True: the critic's V(x) is a per-sample reconstruction error (BEGAN)

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def critic_penalty(self, critic: Callable, x_real: torch.Tensor, x_fake: torch.Tensor,
                       eps: torch.Tensor | None = None) -> torch.Tensor:
        """Extra critic term; `eps` fixes the random interpolation weights of a gradient penalty (B, 1, ...)."""
        return x_real.new_zeros(())

    def after_critic_step(self, critic: torch.nn.Module) -> None:
        return None

    def log_values(self) -> dict:
        """Extra scalars for the step log (BEGAN's k_t and convergence measure); {} for most losses."""
        return {}

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

    def __init__(self, divergence: FDivergence | str, generator_loss: str = "nonsaturating") -> None:
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

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        return -self.critic_objective(v_real, v_fake)

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
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

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        return _flat(v_fake).mean() - _flat(v_real).mean()

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        return -_flat(v_fake).mean()

    @torch.no_grad()
    def after_critic_step(self, critic: torch.nn.Module) -> None:
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

    def critic_penalty(self, critic: Callable, x_real: torch.Tensor, x_fake: torch.Tensor,
                       eps: torch.Tensor | None = None) -> torch.Tensor:
        from .stabilisers.penalties import wgan_gp_penalty

        return wgan_gp_penalty(critic, x_real, x_fake, self.gp_weight, eps=eps)

    def after_critic_step(self, critic: torch.nn.Module) -> None:
        return None


class HingeLoss(GANLoss):
    """Hinge loss (Lim & Ye 2017): critic E[relu(1 − V_real)] + E[relu(1 + V_fake)]; generator −E[V_fake]."""

    name = "hinge"

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        return torch.relu(1 - _flat(v_real)).mean() + torch.relu(1 + _flat(v_fake)).mean()

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        return -_flat(v_fake).mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN (Mao et al. 2017, eq. 2 with a=0, b=c=1): critic ½E[(V_real−1)²] + ½E[V_fake²]; generator ½E[(V_fake−1)²].

    Squares are taken in float32 at least (bf16 keeps 8 bits of mantissa but its range holds 1e8 anyway).
    """

    name = "least_squares"

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        vr, vf = _flat(v_real), _flat(v_fake)
        return 0.5 * ((vr - 1) ** 2).mean() + 0.5 * (vf ** 2).mean()

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((_flat(v_fake) - 1) ** 2).mean()


class BEGANLoss(GANLoss):
    """BEGAN (Berthelot, Schumm & Metz 2017, eqs. 4–5 and Sec. 3.4): the critic is an autoencoder and its output
    is the per-sample reconstruction loss V(x) = L(x) = mean |x − AE(x)| (η = 1) ≥ 0 (see
    `gan.models.autoencoder.AutoencoderCritic`; `autoencoder_critic = True` makes `build_models` use one).

        L_D = E L(x) − k_t E L(G(z)),   L_G = E L(G(z)),
        k_{t+1} = clip(k_t + λ_k (γ E L(x) − E L(G(z))), 0, 1),
        M = E L(x) + |γ E L(x) − E L(G(z))|   (the convergence measure),

    k_0 = 0, γ = E L(G(z)) / E L(x) the diversity ratio at equilibrium. The k update and M use the critic
    step's batch means (before its parameter update), as in the paper's Algorithm; under DDP the means are
    averaged over ranks first so every rank holds the same k_t. `state_dict()` carries k_t for checkpoints;
    `log_values()` gives {"began_k": k_t, "began_m": M} of the last critic step.

    Example:
      >>> import torch
      >>> loss = BEGANLoss(gamma=0.5, lambda_k=0.1)
      >>> float(loss.critic_loss(torch.tensor([2.0]), torch.tensor([0.4])))  # k_0 = 0: E L(x)
      2.0
      >>> loss.after_critic_step(None); round(loss.k, 6), round(loss.log_values()["began_m"], 6)
      (0.06, 2.6)
    """

    name = "began"
    autoencoder_critic = True

    def __init__(self, gamma: float = 0.5, lambda_k: float = 0.001):
        if not 0 <= gamma <= 1:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
        if not 0 <= lambda_k < 1:
            raise ValueError(f"lambda_k must lie in [0, 1), got {lambda_k!r}")
        self.gamma, self.lambda_k, self.k = float(gamma), float(lambda_k), 0.0
        self._means, self.m = None, float("nan")

    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        lr, lf = _flat(v_real).mean(), _flat(v_fake).mean()
        self._means = torch.stack([lr.detach(), lf.detach()]).float()
        return lr - self.k * lf

    def generator_loss(self, v_fake: torch.Tensor) -> torch.Tensor:
        return _flat(v_fake).mean()

    def after_critic_step(self, critic: torch.nn.Module) -> None:
        if self._means is None:
            return
        means = self._means
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            means = means.clone()
            torch.distributed.all_reduce(means)
            means /= torch.distributed.get_world_size()
        l_real, l_fake = (float(v) for v in means.cpu())
        balance = self.gamma * l_real - l_fake
        self.m = l_real + abs(balance)
        self.k = min(max(self.k + self.lambda_k * balance, 0.0), 1.0)
        self._means = None

    def log_values(self) -> dict:
        return {"began_k": self.k, "began_m": self.m}

    def state_dict(self) -> dict:
        return {"k": self.k}

    def load_state_dict(self, state: dict) -> None:
        self.k = float(state["k"])


BASELINES = {"wgan": WGANLoss, "wgan_gp": WGANGPLoss, "hinge": HingeLoss, "least_squares": LeastSquaresLoss,
             "began": BEGANLoss}


def config_kwargs(cfg: TrainConfig) -> dict:
    """The options of the loss a `TrainConfig` names (clip, gp_weight, BEGAN's gamma and lambda_k)."""
    return {"wgan": {"clip": cfg.wgan_clip}, "wgan_gp": {"gp_weight": cfg.gp_weight},
            "began": {"gamma": cfg.began_gamma, "lambda_k": cfg.began_lambda_k}}.get(
                cfg.divergence.strip().lower().replace("-", "_"), {})


def names() -> list[str]:
    """All loss names `get` accepts: divkit's divergences (f-GAN) then the baselines."""
    return list(divkit.names()) + list(BASELINES)


def get(name: str | FDivergence, generator_loss: str = "nonsaturating", **kwargs: float) -> GANLoss:
    """Loss by name: a divkit divergence name (→ `FGANLoss`, also "alpha(a)") or a baseline
    ("wgan", "wgan_gp", "hinge", "least_squares", "began"; `generator_loss` is ignored for baselines).

    Keyword args go to the baseline constructor (clip=, gp_weight=, gamma=, lambda_k=).
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
