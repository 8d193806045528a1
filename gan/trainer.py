"""The training loop: alternating critic/generator updates, logging, plots, checkpoints, resumption.

One generator step = `n_critic` critic steps (fresh real batch and fresh z each) then one generator step.
Adam for both players with their own lr and betas. All randomness of the loop comes from torch's global RNG
(data batches, z) and is checkpointed with the models and optimisers, so on the CPU a run interrupted after
any checkpoint and resumed with `resume=True` ends bit-identical to the uninterrupted run. Plots and metrics use
their own `torch.Generator` (fixed noise) and never touch the global RNG.

Outputs in `config.out`: config.json (resolved), metrics.jsonl (one JSON object per logged step; the last line
has "final": true), checkpoint.pt (latest; atomic), samples_<step>.png (periodic), samples.png and
samples.npy (final generator samples: (eval_samples, 2) for 2-D data, (64, C, H, W) for images),
summary.json (final metrics).

A NaN or inf loss raises `NonFiniteLossError` naming the step and the loss, before any update with it; the last
checkpoint written is left in place (checkpoints are also refused if any parameter is non-finite).
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt_mod
from . import data as data_mod
from . import losses as losses_mod
from .config import TrainConfig
from .metrics import mode_metrics
from .models import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or inf; `.step` and `.loss_name` say where."""

    def __init__(self, step: int, loss_name: str, value: float):
        self.step, self.loss_name, self.value = step, loss_name, value
        super().__init__(f"non-finite {loss_name} = {value} at step {step}; training stopped, the last good "
                         f"checkpoint is left in place (lower the learning rate or check the data)")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but torch sees no CUDA device")
    return torch.device(name)


def build_models(config: TrainConfig, shape: tuple):
    """Generator and critic for data of per-sample `shape` ((d,) → MLP, (C, H, W) → DCGAN)."""
    kind = config.model if config.model != "auto" else ("mlp" if len(shape) == 1 else "dcgan")
    if kind == "mlp":
        if len(shape) != 1:
            raise ValueError(f"model 'mlp' needs vector data, got samples of shape {shape}")
        return (MLPGenerator(config.z_dim, shape[0], config.hidden, config.layers),
                MLPCritic(shape[0], config.hidden, config.layers))
    if len(shape) != 3:
        raise ValueError(f"model 'dcgan' needs images (C, H, W), got samples of shape {shape}")
    c, h, w = shape
    if h != w or h not in (28, 32, 64):
        raise ValueError(f"DCGAN needs 28×28, 32×32 or 64×64 images, got {h}×{w}; pass --image-size 32")
    # BatchNorm in the critic breaks the per-sample gradient penalty of WGAN-GP (Gulrajani et al. Sec. 4).
    bn = losses_mod.get(config.divergence, config.generator_loss).needs_critic_penalty is False
    return (DCGANGenerator(config.z_dim, c, h, config.width), DCGANCritic(c, h, config.width, batchnorm=bn))


class Trainer:
    """Train one GAN per `TrainConfig`. `dataset` (an object with `.sample(n)` and `.shape`) overrides
    `config.data`; `resume=True` continues from `out/checkpoint.pt` when it exists."""

    def __init__(self, config: TrainConfig, dataset=None, resume: bool = False):
        self.config = config.validate()
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(config.device)
        seed_everything(config.seed)
        self.data = dataset if dataset is not None else data_mod.get(config.data, config.data_path, config.image_size)
        self.G, self.D = (m.to(self.device) for m in build_models(config, tuple(self.data.shape)))
        kw = {"clip": config.wgan_clip} if config.divergence == "wgan" else (
            {"gp_weight": config.gp_weight} if config.divergence == "wgan_gp" else {})
        self.loss = losses_mod.get(config.divergence, config.generator_loss, **kw)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=tuple(config.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=tuple(config.betas_d))
        self.step = 0
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if config.bf16 and self.device.type == "cuda"
                         else contextlib.nullcontext())
        gen = torch.Generator().manual_seed(config.seed + 1)  # plots/metrics noise: not the training RNG
        self.z_plot = torch.randn(config.eval_samples if len(self.data.shape) == 1 else 64, config.z_dim,
                                  generator=gen)
        self.ckpt_path = self.out / "checkpoint.pt"
        if resume and self.ckpt_path.exists():
            self.load(self.ckpt_path)
        config.save(self.out / "config.json")

    # ------------------------------------------------------------------ one step
    def train_step(self) -> dict:
        """n_critic critic updates then one generator update. Returns {"loss_d": float, "loss_g": float}."""
        B, dev = self.config.batch_size, self.device
        for _ in range(self.config.n_critic):
            x_real = self.data.sample(B).to(dev, non_blocking=True)
            z = torch.randn(B, self.config.z_dim, device=dev)
            with self.autocast:
                with torch.no_grad():
                    x_fake = self.G(z)
                v_real, v_fake = self.D(x_real), self.D(x_fake)
            loss_d = self.loss.critic_loss(v_real.float(), v_fake.float())
            if self.loss.needs_critic_penalty:
                loss_d = loss_d + self.loss.critic_penalty(self.D, x_real, x_fake.to(x_real.dtype))
            ld = loss_d.item()
            if not math.isfinite(ld):
                raise NonFiniteLossError(self.step + 1, "critic loss", ld)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            self.loss.after_critic_step(self.D)
        z = torch.randn(B, self.config.z_dim, device=dev)
        self.D.requires_grad_(False)  # no critic-parameter gradients in the generator step
        try:
            with self.autocast:
                v = self.D(self.G(z))
            loss_g = self.loss.generator_loss(v.float())
            lg = loss_g.item()
            if not math.isfinite(lg):
                raise NonFiniteLossError(self.step + 1, "generator loss", lg)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        self.step += 1
        return {"loss_d": ld, "loss_g": lg}

    # ------------------------------------------------------------------ loop
    def fit(self, stop_after: int | None = None) -> dict:
        """Train until `config.steps` generator steps (or until step `stop_after`, returning without the
        final outputs, as an interrupted run would). Returns the final summary (or {} if stopped early)."""
        cfg = self.config
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, desc=f"{cfg.divergence}")
        except ImportError:  # pragma: no cover
            bar = None
        t0 = time.perf_counter()
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as log:
            while self.step < cfg.steps:
                losses = self.train_step()
                if bar is not None:
                    bar.update(1)
                s = self.step
                if cfg.log_every and (s % cfg.log_every == 0 or s == cfg.steps):
                    log.write(json.dumps({"step": s, **losses, "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
                    log.flush()
                    if bar is not None:
                        bar.set_postfix(loss_d=f"{losses['loss_d']:.3g}", loss_g=f"{losses['loss_g']:.3g}")
                if cfg.sample_every and s % cfg.sample_every == 0:
                    self.plot_samples(self.out / f"samples_{s:07d}.png")
                if cfg.checkpoint_every and s % cfg.checkpoint_every == 0:
                    self.save()
                if stop_after is not None and s >= stop_after:
                    if bar is not None:
                        bar.close()
                    return {}
            if bar is not None:
                bar.close()
            self.save()
            summary = self.finish()
            log.write(json.dumps({"step": self.step, "final": True, **summary}) + "\n")
        return summary

    # ------------------------------------------------------------------ outputs
    @torch.no_grad()
    def generate(self, z: torch.Tensor | None = None, n: int | None = None, seed: int | None = None) -> torch.Tensor:
        """Generator samples (eval mode, no grad) on the CPU in float32. z (n, z_dim) or n (+ optional seed)."""
        if z is None:
            gen = torch.Generator().manual_seed(self.config.seed + 2 if seed is None else seed)
            z = torch.randn(n or self.config.eval_samples, self.config.z_dim, generator=gen)
        was = self.G.training
        self.G.eval()
        try:
            out = torch.cat([self.G(c.to(self.device)).float().cpu() for c in z.split(4096)])
        finally:
            self.G.train(was)
        return out

    def plot_samples(self, path) -> None:
        from .plots import save_image_grid, save_scatter

        x = self.generate(self.z_plot)
        if x.dim() == 2:
            real = self.data.sample(1000, generator=torch.Generator().manual_seed(self.config.seed + 3))
            save_scatter(path, x.numpy(), real.numpy(), title=f"{self.config.divergence} step {self.step}")
        else:
            save_image_grid(path, x[:64].numpy())

    def finish(self) -> dict:
        """Write samples.npy / samples.png and summary.json; returns the summary (mode metrics for mixtures)."""
        x = self.generate(self.z_plot)
        np.save(self.out / "samples.npy", x.numpy())
        self.plot_samples(self.out / "samples.png")
        summary = {"steps": self.step, "divergence": self.config.divergence,
                   "generator_loss": self.config.generator_loss}
        if hasattr(self.data, "means"):
            m = mode_metrics(x, self.data.means, self.data.std)
            summary.update({k: m[k] for k in ("modes", "hq_fraction", "reverse_kl")})
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {"format": ckpt_mod.FORMAT, "step": self.step, "config": self.config.to_dict(),
                "generator": self.G.state_dict(), "critic": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "rng": ckpt_mod.rng_state()}

    def save(self, path=None) -> None:
        for name, m in (("generator", self.G), ("critic", self.D)):
            for pname, p in m.named_parameters():
                if not torch.isfinite(p).all():
                    raise NonFiniteLossError(self.step, f"{name} parameter {pname}", float("nan"))
        ckpt_mod.save_atomic(self.state(), path or self.ckpt_path)

    def load(self, path) -> None:
        c = ckpt_mod.load(path, map_location=self.device)
        self.G.load_state_dict(c["generator"])
        self.D.load_state_dict(c["critic"])
        self.opt_g.load_state_dict(c["opt_g"])
        self.opt_d.load_state_dict(c["opt_d"])
        ckpt_mod.set_rng_state(c["rng"])
        self.step = int(c["step"])


def train(config: TrainConfig, resume: bool = False, dataset=None) -> dict:
    """Build a `Trainer` and run it to the end; returns the summary dict."""
    return Trainer(config, dataset=dataset, resume=resume).fit()
