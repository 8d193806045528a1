"""The training loop: alternating critic/generator updates, stabilisers, logging, plots, checkpoints, resumption.

One generator step = `n_critic` critic steps (fresh real batch and fresh z each) then one generator step.
Adam for both players with their own lr and betas (or a `preset`). All randomness of the loop comes from torch's
global RNG (data batches, z, codes, labels, instance noise) and is checkpointed with the models and optimisers,
so on the CPU a run interrupted after any checkpoint and resumed with `resume=True` ends bit-identical to the
uninterrupted run. Plots and metrics use their own `torch.Generator` (fixed noise) and never touch the global RNG.

Stabilisers (flags of `TrainConfig`, docs/stabilisers.md), each composable with every divergence:

- critic step: loss = −F(V) [+ one-sided label smoothing of the real term] + R1 + R2 + WGAN-GP, the critic's
  inputs optionally with instance noise N(0, σ_t²) (σ_t annealed linearly), PacGAN packing and class
  conditioning inside the `Critic` (`gan.models.build`), spectral normalisation with one power iteration per
  critic step (the real and fake forwards share it);
- generator step: the generator loss under the critic (or under the critic unrolled k steps, Metz et al. 2017),
  minus β·Î(G([z, c]); c) by MINE (its statistics network updated first, on the same samples), then the EMA of
  the generator's weights (used for samples and metrics when on);
- scale: DDP under `torchrun` (each rank takes its contiguous slice of the same global batch of
  world_size·batch_size samples, so W processes follow the single-process run with batch W·b; rank 0 writes all
  files), `torch.compile`, bf16 autocast and channels_last on CUDA.

Outputs in `config.out` (the folder's contract and layout: `gan.run_folder`): config.json (resolved),
metrics.jsonl (one strict-JSON object per logged step, "seconds" cumulative over resumes), checkpoint.pt
(latest; atomic), samples_<step>.png (periodic), samples.png and samples.npy (final generator samples:
(eval_samples, 2) for 2-D data, (64, C, H, W) for images), summary.json (final metrics). A new run needs an
empty folder (or `overwrite=True`); `resume=True` needs a checkpoint there, refuses a config that changes
the run (`gan.resume`) and truncates the logs to the checkpoint's step; one process writes a folder at a time.

A NaN or inf loss raises `NonFiniteLossError` naming the step and the loss, before any update with it; the last
checkpoint written is left in place (checkpoints are also refused if any parameter or optimiser state is
non-finite) and failed.json records the message and the step (`gan.run_folder.record_failure`).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import checkpoint as ckpt_mod
from . import data as data_mod
from . import distributed as dist_mod
from . import grad_sync, run_folder
from . import losses as losses_mod
from . import resume as resume_mod
from .config import TrainConfig
from .layers.conditioning import one_hot
from .layers.spectral_norm import power_iteration_, spectral_norm_modules
from .metrics import mode_metrics
from .models.build import build_models
from .run_tools import RunTools
from .stabilisers import (
    GeneratorEMA,
    MINERegulariser,
    add_instance_noise,
    linear_anneal,
    r1_penalty,
    r2_penalty,
    smoothed_p_term,
    unrolled_generator_loss,
    wgan_gp_penalty,
)

if TYPE_CHECKING:
    from .data import DataSet


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


def _finest(x):
    """MSG-GAN generators return a list of images, coarse to fine: the sample is the finest."""
    return x[-1] if isinstance(x, (list, tuple)) else x


class Trainer:
    """Train one GAN per `TrainConfig`. `dataset` (an object with `.sample(n)` and `.shape`; `.sample_labelled`
    and `.num_classes` for conditional runs) overrides `config.data`. `config.out` must be empty or missing
    unless `resume=True` (continue from `out/checkpoint.pt`, which must exist) or `overwrite=True` (delete the
    run there first); `Trainer.from_run(folder)` opens a run read-only for sampling and evaluation. Under
    `torchrun` (WORLD_SIZE > 1) it trains data-parallel.

    Raises:
      gan.run_folder.RunFolderError: the folder breaks the contract (not empty, nothing to resume, locked,
        not writable).
      gan.resume.ResumeConfigError: `resume=True` with a config that changes fields defining the run.
      gan.checkpoint.CorruptCheckpointError / UnsafeCheckpointError: the checkpoint cannot be trusted.
    """

    def __init__(self, config: TrainConfig, dataset: DataSet | None = None, resume: bool = False,
                 overwrite: bool = False, *, _checkpoint: dict | None = None) -> None:
        self.config = cfg = config.validate()
        self.out = Path(cfg.out)
        self.read_only = _checkpoint is not None
        self.overwrite = overwrite and not resume
        self.lock = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            self.dist = dist_mod.init_from_env(device=None if cfg.device == "auto" else cfg.device)
            self.device = self.dist.device
        else:
            self.dist = dist_mod.DistInfo()
            self.device = resolve_device(cfg.device)
        self.is_main = self.dist.is_main
        if self.is_main and not self.read_only:
            self.lock = run_folder.prepare(self.out, resume=resume, overwrite=overwrite)
        try:
            self._build(dataset, resume, _checkpoint)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_run(cls, run: str | os.PathLike, device: str | None = None, dataset: DataSet | None = None) -> Trainer:
        """The trained run in folder `run` (wherever it lies now: the config comes from its checkpoint and `out`
        is set to `run`), opened for `generate` and metrics without writing to or locking the folder.
        `device`: default the run's own, or the CPU when that was CUDA and none is visible here."""
        run = Path(run)
        c = ckpt_mod.load(run / run_folder.CHECKPOINT)
        cfg = TrainConfig.from_dict(c["config"])
        cfg.out, cfg.progress = str(run), False
        if device is None and cfg.device != "cpu" and not torch.cuda.is_available():
            device = "cpu"
        if device is not None:
            cfg.device = device
        return cls(cfg, dataset=dataset, _checkpoint=c)

    def close(self) -> None:
        """Release the run folder's lock (done by `fit` when it returns; a later `fit` takes it again), after
        stopping any DataLoader workers (forked, they hold the lock's descriptor too)."""
        data = getattr(self, "data", None)
        for d in (data, getattr(data, "base", None)):
            if callable(getattr(d, "close_workers", None)):
                d.close_workers()
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def _build(self, dataset, resume: bool, checkpoint: dict | None) -> None:
        cfg = self.config
        saved = checkpoint
        if resume and saved is None:
            saved = ckpt_mod.load(self.out / run_folder.CHECKPOINT, map_location="cpu")
        changes = {} if saved is None else resume_mod.config_changes(saved["config"], cfg, int(saved["step"]))
        seed_everything(cfg.seed)
        self.data = dataset if dataset is not None else data_mod.training_set(cfg)  # train_set > 0: a fixed set
        if not (callable(getattr(self.data, "sample", None)) and hasattr(self.data, "shape")):
            raise TypeError(f"dataset must have .sample(n) and .shape; got {type(self.data).__name__}")
        self.num_classes = int(getattr(self.data, "num_classes", 0)) if cfg.conditional != "none" else 0
        if cfg.conditional != "none" and (self.num_classes < 2 or not hasattr(self.data, "sample_labelled")):
            raise ValueError(f"conditional={cfg.conditional!r} needs labelled data (.sample_labelled and "
                             f"num_classes ≥ 2); {getattr(self.data, 'name', type(self.data).__name__)!r} has "
                             f"{self.num_classes} classes")
        self.loss = losses_mod.get(cfg.divergence, cfg.generator_loss, **losses_mod.config_kwargs(cfg))
        per_sample_penalty = self.loss.needs_critic_penalty or cfg.r1 > 0 or cfg.r2 > 0 or cfg.gradient_penalty > 0
        G, D = build_models(cfg, tuple(self.data.shape), self.num_classes, critic_batchnorm=not per_sample_penalty)
        self.images = len(self.data.shape) == 3
        self.memory_format = (torch.channels_last if cfg.channels_last and self.images else torch.contiguous_format)
        self.G, self.D = G.to(self.device, memory_format=self.memory_format), D.to(self.device,
                                                                                 memory_format=self.memory_format)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas_d))
        self.ema = GeneratorEMA(self.G, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.mine = None
        if cfg.mine_beta > 0:
            self.mine = MINERegulariser(int(np.prod(self.data.shape)), cfg.mine_code_dim, beta=cfg.mine_beta,
                                        critic=cfg.mine_critic, code=cfg.mine_code, hidden=cfg.hidden).to(self.device)
            self.opt_mine = torch.optim.Adam(self.mine.critic.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas_d))
        # the modules the loop calls: DDP and/or compiled wrappers of the same parameters. Penalties, unrolling,
        # MINE and MSG-GAN train data-parallel with gradients averaged by hand instead (gan.grad_sync)
        self.manual_sync = self.dist.distributed and bool(
            cfg.unrolled_steps or cfg.r1 or cfg.r2 or cfg.gradient_penalty or cfg.mine_beta or cfg.msg
            or self.loss.needs_critic_penalty)
        wrap = (lambda m, info: m) if self.manual_sync else dist_mod.wrap_ddp  # noqa: E731
        self.G_run = dist_mod.compile_model(wrap(self.G, self.dist), cfg.compile, cfg.compile_backend)
        self.D_run = dist_mod.compile_model(wrap(self.D, self.dist), cfg.compile, cfg.compile_backend)
        self.critic_has_sn = any(True for _ in spectral_norm_modules(self.D))
        self.step = 0
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cfg.bf16 and self.device.type == "cuda"
                         else contextlib.nullcontext())
        gen = torch.Generator().manual_seed(cfg.seed + 1)  # plots/metrics noise: not the training RNG
        self.z_plot = torch.randn(cfg.eval_samples if not self.images else 64, cfg.z_dim, generator=gen)
        self.ckpt_path = self.out / run_folder.CHECKPOINT
        self.elapsed, self._clock = 0.0, None  # training seconds, cumulative over resumes
        self.saved_threads = None
        # schedule, periodic evaluation, best checkpoint, TensorBoard (gan.run_tools); built before the state is
        # loaded: it keeps the configured learning rates as the base of the schedule
        self.tools = RunTools(self)
        if saved is not None:
            self._load_state(saved, f"{self.ckpt_path}")
            resume_mod.apply_learning_rates(self, changes)
            self.tools.set_learning_rates(self.step)  # a changed lr is the new base of the schedule
        if self.is_main and not self.read_only:
            if self.overwrite:
                run_folder.remove_outputs(self.out)
            if saved is not None:
                run_folder.drop_after(self.out, self.step)
                run_folder.append_event(self.out, "resumes.jsonl", {
                    "step": self.step, "changed": {k: list(v) for k, v in changes.items()}})
                print(resume_mod.describe(self.step, changes), file=sys.stderr)
            run_folder.write_text_atomic(self.out / "config.json",
                                         json.dumps(cfg.to_dict(), indent=2) + "\n")

    # ------------------------------------------------------------------ sampling
    def _global_batch(self) -> int:
        return self.config.batch_size * self.dist.world_size

    def _shard(self, *ts):
        if not self.dist.distributed:
            return ts
        return tuple(None if t is None else dist_mod.shard(t, self.dist) for t in ts)

    def sample_real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(x, y) real batch of this rank (y None unless conditional); the global batch is drawn on every rank."""
        n = self._global_batch()
        # this rank's rows only (the same random draws as the global batch: gan.data.sample_rows)
        x, y = data_mod.sample_rows(self.data, n, *grad_sync.slice_bounds(n, self.dist),
                                    labelled=self.config.conditional != "none")
        x = x.to(self.device, non_blocking=True)
        if self.images:
            x = x.contiguous(memory_format=self.memory_format)
        return x, None if y is None else y.to(self.device)

    def generator_inputs(self, n: int | None = None, z: torch.Tensor | None = None,
                         generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(G's input [z, c, onehot(y)], labels y or None, code c or None). Training draws (n = global batch,
        sharded) come from the global RNG on the device; evaluation passes z and a CPU `generator` for c, y."""
        cfg, dev = self.config, self.device
        if z is None:
            n = self._global_batch() if n is None else n
            z = torch.randn(n, cfg.z_dim, device=dev)
        n = z.shape[0]
        parts, c, y = [z], None, None
        if self.mine is not None:
            c = self.mine.sample_code(n, generator=generator, device=z.device, dtype=z.dtype)
            parts.append(c)
        if cfg.conditional != "none":
            y = torch.randint(self.num_classes, (n,), generator=generator,
                              device="cpu" if generator is not None else z.device).to(z.device)
            parts.append(one_hot(y, self.num_classes, z.dtype))
        zin = torch.cat(parts, dim=1) if len(parts) > 1 else z
        if generator is None:
            zin, y, c = self._shard(zin, y, c)
        return zin, y, c

    def noise_std(self) -> float:
        """σ of the instance noise at the current step (linear anneal to 0 when instance_noise_anneal > 0)."""
        cfg = self.config
        if cfg.instance_noise == 0:
            return 0.0
        if cfg.instance_noise_anneal == 0:
            return cfg.instance_noise
        return linear_anneal(self.step, cfg.instance_noise, cfg.instance_noise_anneal)

    def _noisy(self, x):
        std = self.noise_std()
        if std == 0:
            return x
        if self.dist.distributed:  # this rank's slice of the global batch's noise (add_instance_noise's draw)
            noisy = lambda t: t + std * grad_sync.shard_draw(  # noqa: E731
                lambda s: torch.randn(s, dtype=t.dtype).to(t.device), t.shape, self.dist)
            return [noisy(t) for t in x] if isinstance(x, (list, tuple)) else noisy(x)
        if isinstance(x, (list, tuple)):
            return [add_instance_noise(t, std) for t in x]
        return add_instance_noise(x, std)

    def _critic(self, x, y=None, module=None):
        m = self.D_run if module is None else module
        return m(x) if y is None else m(x, y)

    def _critic_pair(self, x_real, y_real, x_fake, y_fake):
        """(V(real), V(fake)). Under DDP in one forward of the concatenated batch (DDP allows one forward per
        backward); otherwise two forwards, which share one spectral-norm power iteration."""
        if not self.dist.distributed or self.manual_sync or isinstance(x_fake, (list, tuple)):
            return self._critic(x_real, y_real), self._critic(x_fake, y_fake)
        y = None if y_real is None else torch.cat([y_real, y_fake])
        v = self._critic(torch.cat([x_real, x_fake.to(x_real.dtype)]), y)
        return v[:v.shape[0] // 2], v[v.shape[0] // 2:]

    # ------------------------------------------------------------------ one step
    def critic_loss(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> torch.Tensor:
        """−F(V), with one-sided label smoothing of the real term when label_smoothing > 0."""
        a = self.config.label_smoothing
        if a == 0:
            return self.loss.critic_loss(v_real, v_fake)
        div = self.loss.divergence
        return -(smoothed_p_term(div, v_real.reshape(-1), a).mean() - div.q_term(v_fake.reshape(-1)).mean())

    def penalties(self, x_real: torch.Tensor, y_real: torch.Tensor | None, x_fake: torch.Tensor,
                  y_fake: torch.Tensor | None) -> torch.Tensor | float:
        """R1 + R2 + WGAN-GP (+ the wgan_gp loss's own penalty); gradients through the uncompiled critic."""
        cfg = self.config
        x_fake = _finest(x_fake).detach()
        on_real = lambda x: self._critic(x, y_real, self.D)  # noqa: E731
        on_fake = lambda x: self._critic(x, y_fake, self.D)  # noqa: E731
        total = 0.0
        eps_shape = (x_real.shape[0],) + (1,) * (x_real.dim() - 1)
        gp_eps = lambda: None if not self.dist.distributed else grad_sync.shard_draw(  # noqa: E731
            lambda s: torch.rand(s, dtype=x_real.dtype).to(x_real.device), eps_shape, self.dist)  # wgan_gp's draw
        if self.loss.needs_critic_penalty:
            total = total + self.loss.critic_penalty(on_real, x_real, x_fake.to(x_real.dtype), eps=gp_eps())
        if cfg.r1 > 0:
            total = total + r1_penalty(on_real, x_real, cfg.r1)
        if cfg.r2 > 0:
            total = total + r2_penalty(on_fake, x_fake, cfg.r2)
        if cfg.gradient_penalty > 0:
            total = total + wgan_gp_penalty(on_real, x_real, x_fake.to(x_real.dtype), cfg.gradient_penalty,
                                            eps=gp_eps())
        return total

    def train_step(self) -> dict:
        """n_critic critic updates then one generator update. Returns {"loss_d": float, "loss_g": float}."""
        cfg = self.config
        for _ in range(cfg.n_critic):
            x_real, y_real = self.sample_real()
            zin, y_fake, _ = self.generator_inputs()
            if cfg.compile and self.critic_has_sn:
                power_iteration_(self.D)  # the compiled graph skips the hook's iteration
            with self.autocast:
                with torch.no_grad():
                    x_fake = self.G_run(zin)
                v_real, v_fake = self._critic_pair(self._noisy(x_real), y_real, self._noisy(x_fake), y_fake)
            loss_d = self.critic_loss(v_real.float(), v_fake.float())
            loss_d = loss_d + self.penalties(x_real, y_real, x_fake, y_fake)
            ld = loss_d.item()
            if not math.isfinite(ld):
                raise NonFiniteLossError(self.step + 1, "critic loss", ld)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self._sync_grads(self.D)
            self.opt_d.step()
            self.loss.after_critic_step(self.D)
        zin, y_fake, code = self.generator_inputs()
        self.D.requires_grad_(False)  # no critic-parameter gradients in the generator step
        try:
            with self.autocast:
                x_fake = self.G_run(zin)
                if cfg.unrolled_steps:
                    x_real, _ = self.sample_real()
                    objective = lambda vr, vf: -self.loss.critic_loss(vr.float(), vf.float())  # noqa: E731
                    loss_g = unrolled_generator_loss(
                        self.D, objective, lambda v: self.loss.generator_loss(v.float()), x_real, x_fake,
                        cfg.unrolled_steps, cfg.unrolled_lr or cfg.lr_d,
                        optimizer=self.opt_d if cfg.unrolled_optimizer == "adam" else None,
                        grad_reduce=(lambda g: grad_sync.mean_over_ranks(g, self.dist)) if self.manual_sync else None)
                else:
                    # under DDP the critic's gradients are not wanted here: call the bare module, not the wrapper
                    critic = self.D if self.dist.distributed else None
                    loss_g = self.loss.generator_loss(self._critic(self._noisy(x_fake), y_fake, critic).float())
            if self.mine is not None:
                x_flat = _finest(x_fake).flatten(1)  # bf16 → float32; float32/float64 kept
                loss_g = loss_g + self._mine_term(x_flat.to(torch.promote_types(x_flat.dtype, torch.float32)), code)
            lg = loss_g.item()
            if not math.isfinite(lg):
                raise NonFiniteLossError(self.step + 1, "generator loss", lg)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self._sync_grads(self.G)
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G)
        self.step += 1
        return {"loss_d": ld, "loss_g": lg, **self.loss.log_values()}

    def _mine_term(self, x_flat: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """One step of MINE's statistics network on (G([z, c]), c), then −β·Î for the generator's loss."""
        if self.dist.distributed:  # the score matrix pairs the whole global batch
            x_flat, code = grad_sync.gather_batch(x_flat, self.dist), grad_sync.gather_batch(code, self.dist)
        loss_t = self.mine.statistics_loss(x_flat.detach(), code)
        if not math.isfinite(loss_t.item()):
            raise NonFiniteLossError(self.step + 1, "MINE statistics-network loss", loss_t.item())
        self.opt_mine.zero_grad(set_to_none=True)
        loss_t.backward()
        self._sync_grads(self.mine.critic)
        self.opt_mine.step()
        return self.mine.generator_term(x_flat, code)

    def _sync_grads(self, module) -> None:
        """Under manual data parallelism, every gradient of `module` ← its mean over ranks (gan.grad_sync)."""
        if self.manual_sync:
            grad_sync.average_gradients(module, self.dist)
            grad_sync.broadcast_buffers(module, self.dist)

    # ------------------------------------------------------------------ loop
    def fit(self, stop_after: int | None = None) -> dict:
        """Train until `config.steps` generator steps (or until step `stop_after`, returning without the
        final outputs, as an interrupted run would). Returns the final summary (or {} if stopped early)."""
        cfg = self.config
        if self.read_only:
            raise RuntimeError("this Trainer was opened read-only (Trainer.from_run); resume the run to train it")
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, disable=not cfg.progress, desc=f"{cfg.divergence}")
        except ImportError:  # pragma: no cover
            bar = None
        if not self.is_main:
            bar = None
        if self.is_main and self.lock is None:
            self.lock = run_folder.RunLock(self.out)
        self._clock = time.perf_counter()
        try:
            return self._fit(bar, stop_after)
        except NonFiniteLossError as exc:
            if self.is_main:  # the folder says why the run stopped (gan compare reuses it as a finished result)
                run_folder.record_failure(self.out, str(exc), cfg.steps, exc.step)
            raise
        finally:
            self.elapsed, self._clock = self.seconds(), None
            self.close()

    def seconds(self) -> float:
        """Training seconds so far, cumulative over resumes (wall clock of `fit`, restored from checkpoints)."""
        return self.elapsed + (time.perf_counter() - self._clock if self._clock is not None else 0.0)

    def _fit(self, bar, stop_after):
        cfg = self.config
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") if self.is_main else _NullLog() as log:
            while self.step < cfg.steps:
                losses = self.train_step()
                if bar is not None:
                    bar.update(1)
                s = self.step
                if cfg.log_every and (s % cfg.log_every == 0 or s == cfg.steps):
                    log.write(run_folder.dumps({"step": s, **losses, "seconds": round(self.seconds(), 3)}) + "\n")
                    log.flush()
                    if bar is not None:
                        bar.set_postfix(loss_d=f"{losses['loss_d']:.3g}", loss_g=f"{losses['loss_g']:.3g}")
                self.tools.after_step(s, losses)
                if cfg.sample_every and s % cfg.sample_every == 0 and self.is_main:
                    self.plot_samples(self.out / f"samples_{s:07d}.png")
                if cfg.checkpoint_every and s % cfg.checkpoint_every == 0 and self.is_main:
                    self.save()
                if stop_after is not None and s >= stop_after:
                    if bar is not None:
                        bar.close()
                    self.tools.close()
                    return {}
            if bar is not None:
                bar.close()
            self.tools.close()
            if not self.is_main:
                return {}
            self.save()
            summary = self.finish()
        return summary

    # ------------------------------------------------------------------ outputs
    @torch.no_grad()
    def generate(self, z: torch.Tensor | None = None, n: int | None = None, seed: int | None = None) -> torch.Tensor:
        """Generator samples (eval mode, no grad) on the CPU in float32, from the EMA generator when
        ema_decay > 0. z (n, z_dim) or n (+ optional seed); MINE codes and class labels (uniform) are drawn
        from a generator seeded by `seed` (default config.seed + 4)."""
        gen = torch.Generator().manual_seed(self.config.seed + 2 if seed is None else seed)
        if z is None:
            z = torch.randn(n or self.config.eval_samples, self.config.z_dim, generator=gen)
        else:
            gen.manual_seed(self.config.seed + 4 if seed is None else seed)
        zin, _, _ = self.generator_inputs(z=z, generator=gen)
        G = self.ema.ema if self.ema is not None else self.G
        was = G.training
        G.eval()
        try:
            out = torch.cat([_finest(G(c.to(self.device))).float().cpu() for c in zin.split(4096)])
        finally:
            G.train(was)
        return out

    def plot_samples(self, path: str | os.PathLike) -> None:
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
        run_folder.save_npy_atomic(self.out / "samples.npy", x.numpy())
        self.plot_samples(self.out / "samples.png")
        summary = {"steps": self.step, "divergence": self.config.divergence,
                   "generator_loss": self.config.generator_loss}
        if hasattr(self.data, "means"):
            m = mode_metrics(x, self.data.means, self.data.std)
            summary.update({k: m[k] for k in ("modes", "hq_fraction", "reverse_kl")})
        run_folder.write_text_atomic(self.out / "summary.json", run_folder.dumps(summary, indent=2) + "\n")
        return summary

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        s = {"format": ckpt_mod.FORMAT, "step": self.step, "config": self.config.to_dict(),
             "generator": self.G.state_dict(), "critic": self.D.state_dict(),
             "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "rng": ckpt_mod.rng_state(),
             "elapsed": self.seconds(), "threads": torch.get_num_threads()}
        if self.ema is not None:
            s["ema"] = self.ema.state_dict()
        if self.mine is not None:
            s["mine"], s["opt_mine"] = self.mine.state_dict(), self.opt_mine.state_dict()
        s["tools"] = self.tools.state_dict()
        return s

    def save(self, path: str | os.PathLike | None = None) -> None:
        """Write the checkpoint atomically; refused (NonFiniteLossError) if any floating tensor of it — weights,
        buffers, optimiser moments, EMA, MINE — holds NaN or inf, so the last checkpoint left is a good one."""
        state = self.state()
        bad = _first_non_finite({k: v for k, v in state.items() if k != "rng"})
        if bad is not None:
            raise NonFiniteLossError(self.step, bad, float("nan"))
        ckpt_mod.save_atomic(state, path or self.ckpt_path)

    def load(self, path: str | os.PathLike) -> None:
        """Load models, optimisers, RNG states and step from the checkpoint at `path`."""
        self._load_state(ckpt_mod.load(path, map_location=self.device), path)

    def _load_state(self, c: dict, path) -> None:
        self.G.load_state_dict(c["generator"])
        self.D.load_state_dict(c["critic"])
        self.opt_g.load_state_dict(c["opt_g"])
        self.opt_d.load_state_dict(c["opt_d"])
        for key, obj in (("ema", self.ema), ("mine", self.mine), ("opt_mine", getattr(self, "opt_mine", None))):
            if obj is not None:
                if key not in c:
                    raise ValueError(f"{path} has no {key!r} state but this run uses it (a different config?)")
                obj.load_state_dict(c[key])
        ckpt_mod.set_rng_state(c["rng"])
        self.step = int(c["step"])
        self.elapsed = float(c.get("elapsed", 0.0))
        self.saved_threads = c.get("threads")  # torch threads of the run that wrote the checkpoint
        self.tools.load_state_dict(c.get("tools"), self.step)


def _first_non_finite(tree, prefix: str = "") -> str | None:
    """Dotted name of the first floating tensor in a nested dict/list holding NaN or inf, else None."""
    if isinstance(tree, torch.Tensor):
        return prefix if tree.is_floating_point() and not torch.isfinite(tree).all() else None
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    for k, v in items:
        bad = _first_non_finite(v, f"{prefix}.{k}" if prefix else str(k))
        if bad is not None:
            return bad
    return None


def train(config: TrainConfig, resume: bool = False, dataset: DataSet | None = None, overwrite: bool = False) -> dict:
    """Build a `Trainer` and run it to the end; returns the summary dict."""
    return Trainer(config, dataset=dataset, resume=resume, overwrite=overwrite).fit()


class _NullLog(contextlib.nullcontext):
    """Stands in for metrics.jsonl on ranks other than 0."""

    def __enter__(self):
        return self

    def write(self, _):
        return 0

    def flush(self):
        return None
