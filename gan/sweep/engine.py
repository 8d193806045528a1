"""Train R GANs of one architecture as one model: parameters, optimiser state and data streams on a run axis.

`BatchedTrainer(configs)` takes R `TrainConfig`s that share the architecture and the loop shape (`batch_key`)
and differ in anything `batch_blockers` accepts: seed, divergence and generator loss (runs are grouped by
loss object), learning rates and Adam betas (per-run tensors), label smoothing, instance noise (and its
anneal), R1 / R2 / gradient-penalty weights (and the wgan_gp loss), WGAN clipping, EMA decay. Spectral
normalisation of the critic and/or the generator (MLP and PacGAN nets, maxout layers included) batches too;
whether it is on is part of the architecture (`batch_key`) — except a normalised critic under WGAN weight
clipping, which trains alone (`batch_blockers` says why). Each run follows exactly the computation of
`gan.trainer.Trainer` on its own config:

- the same initial weights (each run's models are built by `gan.models.build.build_models` after
  `seed_everything(seed)`, as the trainer does, then stacked);
- the same random numbers in the same order: each run owns a `torch.Generator` that starts in the state the
  trainer's global RNG has after building its models, and draws from it what the trainer draws from the
  global RNG — per critic step the real batch (`dataset.sample`), z, the instance noise of the real then the
  fake batch (when σ_t ≠ 0); then z (and noise) of the generator step;
- the same losses (`gan.losses` objects, evaluated per run), the same penalties, Adam per run
  (`gan.sweep.adam.BatchedAdam`, equal to `torch.optim.Adam`), the same EMA, the same evaluation noise and
  metrics (`gan.metrics.mode_metrics` on `eval_samples` samples from z ~ N(0, I) seeded by seed + 1);
- spectral norm: the same power iterations at the same moments as the trainer's hooks
  (`gan.layers.spectral_norm`: the first training-mode forward after a weight update, `StackedNet` on the
  stacked W, u, v). Per step that is, for the critic, one iteration per critic update (in the real forward of
  critic steps 2..n_critic and in the generator step's forward; the real/fake and penalty forwards of one
  step share it), and for the generator one in the first critic step's forward (after the previous step's
  update); never in eval mode (samples, metrics), and the EMA copy uses the live u, v as `GeneratorEMA` does.

So a run's result does not depend on which runs share its batch, and equals the solo run up to the rounding of
batched matmuls (tested in float64 to ≤ 1e-9 after 200 steps, tests/gan/test_sweep.py).

A run whose critic or generator loss becomes non-finite is frozen (its parameters, moments and RNG stay where
the solo trainer would have raised `NonFiniteLossError`) and reported in `failed` with the trainer's message;
the others go on (a frozen run's u, v are not iterated again). `save` / `load` checkpoint the whole batch
(atomic, `gan.checkpoint`; spectral norm's u, v and whether they are current for the saved weights, so a resumed
batch does the iterations of an uninterrupted one; the runs' training seconds, so metrics.jsonl's "seconds" stay
cumulative over resumes, as the trainer's); `finish` writes each run's folder as the trainer would
(config.json, metrics.jsonl, summary.json, samples.npy, samples.png and a trainer-format checkpoint.pt with
``<name>_orig``, ``_u``, ``_v`` and ``_sn_stale`` entries, so `gan eval RUN` and `Trainer(cfg, resume=True)`
work on it).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import torch

from .. import checkpoint as ckpt_mod
from .. import data as data_mod
from .. import losses as losses_mod
from .. import run_folder
from ..config import TrainConfig
from ..losses import FGANLoss, WGANLoss
from ..metrics import mode_metrics
from ..models.build import build_models
from ..stabilisers.penalties import linear_anneal
from ..trainer import NonFiniteLossError, seed_everything
from .adam import BatchedAdam
from .stacked import StackedNet, stack_state_dicts, unstack_state_dict

if TYPE_CHECKING:
    import os

    from ..data import DataSet

__all__ = ["BatchedTrainer", "batch_key", "batch_blockers"]

#: fields every run of one batch must share (the architecture and the shape of the loop)
SHARED_FIELDS = ("data", "data_path", "image_size", "model", "z_dim", "hidden", "layers", "width", "steps",
                 "batch_size", "n_critic", "pack", "device", "eval_samples", "train_set", "spectral_norm",
                 "spectral_norm_g", "eval_every")
#: fields the engine follows per run (each run of a batch may have its own value)
PER_RUN_FIELDS = ("divergence", "generator_loss", "preset", "lr_g", "lr_d", "betas_g", "betas_d", "wgan_clip",
                  "gp_weight", "label_smoothing", "instance_noise", "instance_noise_anneal", "r1", "r2",
                  "gradient_penalty", "ema_decay", "seed", "out")
#: fields that do not change what a toy run computes (how it is shown and saved), or only matter when a field
#: `batch_blockers` refuses is on (images, unrolling, MINE, compile, BEGAN)
INERT_FIELDS = ("progress", "log_every", "sample_every", "checkpoint_every", "channels", "mirror", "data_workers",
                "unrolled_lr", "unrolled_optimizer", "mine_code_dim", "mine_critic", "mine_code", "compile_backend",
                "lr_decay_every", "lr_decay_gamma", "plateau_factor", "began_gamma", "began_lambda_k")
#: fields whose non-default value sends a run to the solo trainer (`batch_blockers`)
BLOCKING_FIELDS = ("self_attention", "unrolled_steps", "mine_beta", "conditional", "msg", "compile", "bf16",
                   "channels_last", "lr_decay", "plateau_patience", "keep_best", "tensorboard")


def batch_key(cfg: TrainConfig) -> tuple:
    """Runs with equal keys can share one batch."""
    return tuple(getattr(cfg, f, None) for f in SHARED_FIELDS)


def batch_blockers(cfg: TrainConfig) -> list[str]:
    """Why `cfg` cannot be trained by the batched engine ([] = it can); each entry names the field."""
    out = []
    for name, off in (("self_attention", 0),
                      ("unrolled_steps", 0), ("mine_beta", 0.0), ("conditional", "none"),
                      ("msg", False), ("compile", False), ("bf16", False), ("channels_last", False)):
        if getattr(cfg, name) != off:
            out.append(f"{name}={getattr(cfg, name)!r}")
    if cfg.data.strip().lower().replace("-", "_") not in data_mod.TOY:
        out.append(f"data={cfg.data!r} (images: the batched engine trains 2-D MLPs)")
    if cfg.model not in ("auto", "mlp", "pacgan"):
        out.append(f"model={cfg.model!r}")
    # run tools the engine does not reproduce per run: the trainer would change the learning rates, keep a
    # best.pt or write TensorBoard events, so a batched run would silently differ from it
    for name, off, what in (("lr_decay", "none", "learning-rate schedules"),
                            ("plateau_patience", 0, "the plateau learning-rate rule"),
                            ("keep_best", None, "best.pt selection"), ("tensorboard", False, "TensorBoard events")):
        if getattr(cfg, name) != off:
            out.append(f"{name}={getattr(cfg, name)!r} ({what} run in the solo trainer only)")
    if getattr(losses_mod.get(cfg.divergence, cfg.generator_loss, **losses_mod.config_kwargs(cfg)),
               "autoencoder_critic", False):
        out.append(f"divergence={cfg.divergence!r} (an autoencoder critic with its own equilibrium state)")
    if cfg.spectral_norm and _clips_weights(cfg):
        # the engine does the trainer's computation, but weight clipping of a normalised critic amplifies the
        # rounding of batched products (1e-16 → 3e-9 in 200 float64 steps at seed 0, n_critic 2), above the
        # 1e-9 the equivalence tests ask for; the other losses stay ≤ 1e-13 (tests/gan/test_sweep_spectral_norm.py)
        out.append(f"spectral_norm=True with divergence={cfg.divergence!r} (weight clipping of a normalised "
                   f"critic is not reproduced to 1e-9)")
    return out


def _clips_weights(cfg: TrainConfig) -> bool:
    """Does the run's loss clip the critic's weights after each update (WGAN without a penalty)?"""
    loss = losses_mod.get(cfg.divergence, cfg.generator_loss, **losses_mod.config_kwargs(cfg))
    return isinstance(loss, WGANLoss) and not loss.needs_critic_penalty


class BatchedTrainer:
    """R runs (`configs`, validated) trained as one model; see the module docstring.

    Args:
      configs: the runs; all share `batch_key` and have no `batch_blockers`.
      dataset: overrides `config.data` (an object with `.sample(n, generator=...)`, `.shape`, mixtures `.means`).
      checkpoint: path of the batch checkpoint (None: no checkpoints); `resume=True` continues from it.
      eval_every: every this many steps record each run's mode metrics (mixtures) in its eval.jsonl, for
        modes-vs-iteration curves (0: the configs' shared `eval_every`; 0 there too: only the final ones).
    """

    def __init__(self, configs: Sequence[TrainConfig], dataset: DataSet | None = None,
                 checkpoint: str | os.PathLike | None = None, resume: bool = False, eval_every: int = 0) -> None:
        configs = [dataclasses.replace(c).validate() for c in configs]
        if not configs:
            raise ValueError("configs is empty: nothing to train")
        keys = {batch_key(c) for c in configs}
        if len(keys) > 1:
            raise ValueError(f"configs must share {', '.join(SHARED_FIELDS)} to be batched; got {len(keys)} "
                             f"different combinations (group them with gan.sweep.plan)")
        for c in configs:
            b = batch_blockers(c)
            if b:
                raise ValueError(f"run {c.out} cannot be batched: {'; '.join(b)}")
        outs = [c.out for c in configs]
        if len(set(outs)) != len(outs):
            raise ValueError("every run needs its own out folder; duplicates: "
                             f"{sorted({o for o in outs if outs.count(o) > 1})}")
        self.configs = configs
        c0 = configs[0]
        self.R = R = len(configs)
        self.device = torch.device("cpu" if c0.device == "auto" and not torch.cuda.is_available() else
                                   ("cuda" if c0.device == "auto" else c0.device))
        # one dataset per run: a fixed training set (train_set > 0) is drawn from the run's own seed
        self.datas = ([dataset] * R if dataset is not None else
                      [data_mod.training_set(c) for c in configs] if c0.train_set else [data_mod.training_set(c0)] * R)
        self.data = self.datas[0]
        self.n, self.z_dim, self.m, self.n_critic = c0.batch_size, c0.z_dim, c0.pack, c0.n_critic
        self.steps_total = c0.steps
        self.eval_every = int(eval_every) or int(c0.eval_every)

        # ---- models: built as the trainer builds them, one run at a time, then stacked
        saved_rng = torch.get_rng_state()
        g_states, d_states, self.gens = [], [], []
        try:
            for c in configs:
                seed_everything(c.seed)
                G, D = build_models(c, tuple(self.data.shape), 0, critic_batchnorm=True)
                g_states.append(G.state_dict())
                d_states.append(D.state_dict())
                gen = torch.Generator()
                gen.set_state(torch.get_rng_state())
                self.gens.append(gen)
        finally:
            torch.set_rng_state(saved_rng)
        self._G_template, self._D_template = G, D
        self.G_net = StackedNet(G.net, "net.")
        self.D_net = StackedNet(D.net.net, "net.net.")
        self.g_param_names = [k for k, _ in G.named_parameters()]
        self.d_param_names = [k for k, _ in D.named_parameters()]
        gs, ds = stack_state_dicts(g_states), stack_state_dicts(d_states)
        dev = self.device
        # spectral norm's "<name>_sn_stale" flags are state of the power iteration, not tensors of the net:
        # StackedNet tracks them per stacked weight (build_models leaves every run's u, v current)
        g_stale, d_stale = _pop_stale_flags(gs, self.G_net), _pop_stale_flags(ds, self.D_net)
        self.gp = {k: gs[k].to(dev).requires_grad_(True) for k in self.g_param_names}
        self.g_buf = {k: v.to(dev) for k, v in gs.items() if k not in self.gp}
        self.dp = {k: ds[k].to(dev).requires_grad_(True) for k in self.d_param_names}
        self.d_buf = {k: v.to(dev) for k, v in ds.items() if k not in self.dp}  # spectral norm's u, v
        self.G_net.sn_set_stale(self.gp, g_stale)
        self.D_net.sn_set_stale(self.dp, d_stale)
        self.dtype = next(iter(self.gp.values())).dtype

        # ---- per-run hyperparameters
        f64 = lambda xs: torch.tensor(xs, dtype=torch.float64, device=dev)  # noqa: E731
        self.opt_g = BatchedAdam(self.gp, f64([c.lr_g for c in configs]), f64([c.betas_g[0] for c in configs]),
                                 f64([c.betas_g[1] for c in configs]))
        self.opt_d = BatchedAdam(self.dp, f64([c.lr_d for c in configs]), f64([c.betas_d[0] for c in configs]),
                                 f64([c.betas_d[1] for c in configs]))
        col = lambda xs: torch.tensor(xs, dtype=self.dtype, device=dev).reshape(-1, 1)  # noqa: E731
        self.smooth = col([c.label_smoothing for c in configs])
        self.r1, self.r2 = col([c.r1 for c in configs]), col([c.r2 for c in configs])
        self.gp_loss_weight = [float(c.gp_weight) if c.divergence == "wgan_gp" else 0.0 for c in configs]
        self.gp_extra = [float(c.gradient_penalty) for c in configs]
        self.is_wgan_gp = [c.divergence == "wgan_gp" for c in configs]
        self.ema_decay = [float(c.ema_decay) for c in configs]
        self.ema = ({k: v.detach().clone() for k, v in self.gp.items()} if any(self.ema_decay) else None)
        self.ema_buf = {k: v.clone() for k, v in self.g_buf.items()} if self.ema is not None else None
        # ---- losses: one object per (divergence, generator loss, options), as the trainer builds them
        self.groups: list[tuple[object, torch.Tensor]] = []
        by_key: dict = {}
        for r, c in enumerate(configs):
            kw = {"clip": c.wgan_clip} if c.divergence == "wgan" else (
                {"gp_weight": c.gp_weight} if c.divergence == "wgan_gp" else {})
            key = (c.divergence, c.generator_loss, tuple(sorted(kw.items())))
            if key not in by_key:
                by_key[key] = (losses_mod.get(c.divergence, c.generator_loss, **kw), [])
            by_key[key][1].append(r)
        for loss, idx in by_key.values():
            self.groups.append((loss, torch.tensor(idx, device=dev)))
        self.alive = torch.ones(R, dtype=torch.bool, device=dev)
        self.failed: list[str | None] = [None] * R
        self.failed_step: list[int | None] = [None] * R  # the step whose loss was non-finite
        self.step = 0
        # training seconds of each run before this batch's current `fit` (cumulative over resumes and over the
        # solo checkpoints a batch continues from, as the trainer's "elapsed"); a batch's runs share its wall time
        self.elapsed = [0.0] * R
        self._clock: float | None = None
        # evaluation noise: the trainer's z_plot (its own generator, seed + 1)
        self.z_plot = torch.stack([torch.randn(c.eval_samples, c.z_dim, generator=torch.Generator().manual_seed(
            c.seed + 1)) for c in configs]).to(dev)
        self.ckpt_path = None if checkpoint is None else Path(checkpoint)
        if resume and self.ckpt_path is not None and self.ckpt_path.exists():
            self.load(self.ckpt_path)

    # ------------------------------------------------------------------ per-run random draws
    def _noise_std(self, c: TrainConfig) -> float:
        if c.instance_noise == 0:
            return 0.0
        if c.instance_noise_anneal == 0:
            return c.instance_noise
        return linear_anneal(self.step, c.instance_noise, c.instance_noise_anneal)

    def _draw(self, real: bool):
        """(x_real (R, n, d) or None, z (R, n, z_dim)) from each run's own generator, in the trainer's order."""
        xs, zs = [], []
        for gen, data in zip(self.gens, self.datas):
            if real:
                xs.append(data.sample(self.n, generator=gen))
            zs.append(torch.randn(self.n, self.z_dim, generator=gen))
        x = torch.stack(xs).to(self.device, self.dtype) if real else None
        return x, torch.stack(zs).to(self.device)

    def _noise(self, shape, stds):
        """Per run: std·N(0, I) of `shape` drawn from the run's generator when std ≠ 0, else no draw."""
        if not any(stds):
            return None
        out = []
        for gen, s in zip(self.gens, stds):
            out.append(s * torch.randn(shape, generator=gen, dtype=self.dtype) if s else
                       torch.zeros(shape, dtype=self.dtype))
        return torch.stack(out).to(self.device)

    # ------------------------------------------------------------------ networks
    def _G(self, z, params=None, train=True, update_stats=True):
        """Training-mode forwards run the spectral-norm power iteration of changed weights (live runs only),
        as the generator's hooks do in the trainer (the first forward of a step after the generator's update)."""
        return self.G_net(self.gp if params is None else params, z, self.g_buf, train, update_stats, self.alive)

    def _D(self, x, params=None):
        """x (R, n, d) → V (R, n/m): PacGAN packs m consecutive samples along the features. Every call is a
        training-mode forward (spectral norm: the first one after a critic update iterates, as in the trainer:
        the real forward of critic steps 2..n_critic and the generator step's forward)."""
        R, n, d = x.shape
        if self.m > 1:
            x = x.reshape(R, n // self.m, self.m * d)
        return self.D_net(self.dp if params is None else params, x, self.d_buf, active=self.alive).squeeze(-1)

    # ------------------------------------------------------------------ losses per run
    def _critic_losses(self, v_real, v_fake):
        """(R,) critic loss of every run: the run's loss object vmapped over its group (the same reductions as
        the trainer's call on one run), −F(V) with one-sided label smoothing where α_r > 0."""
        out = torch.empty(self.R, dtype=v_real.dtype, device=v_real.device)
        for loss, idx in self.groups:
            vr, vf = v_real[idx], v_fake[idx]
            a = self.smooth[idx].squeeze(1)
            if isinstance(loss, FGANLoss) and bool((a > 0).any()):
                div = loss.divergence
                fn = lambda v_r, v_f, a_r: -(((1.0 - a_r) * div.p_term(v_r) - a_r * div.q_term(v_r)).mean()  # noqa
                                             - div.q_term(v_f).mean())
                smoothed = self._per_run(fn, vr, vf, a)
                out[idx] = torch.where(a > 0, smoothed, self._per_run(loss.critic_loss, vr, vf))
            else:
                out[idx] = self._per_run(loss.critic_loss, vr, vf)
        return out

    def _generator_losses(self, v_fake):
        out = torch.empty(self.R, dtype=v_fake.dtype, device=v_fake.device)
        for loss, idx in self.groups:
            out[idx] = self._per_run(loss.generator_loss, v_fake[idx])
        return out

    def _per_run(self, fn, *args):
        """fn applied to each run's slice of args (leading axis): torch.vmap, or a loop over the runs for a
        loss that vmap cannot trace (an autograd.Function without setup_context, e.g. the Wright ω of
        jeffreys; remembered per loss object and method)."""
        if not hasattr(self, "_no_vmap"):
            self._no_vmap = set()
        owner = getattr(fn, "__self__", None)
        key = (id(owner), getattr(fn, "__name__", None)) if owner is not None else None
        if key is None or key not in self._no_vmap:
            try:
                return torch.vmap(fn)(*args)
            except RuntimeError as exc:
                if "functorch" not in str(exc) and "vmap" not in str(exc):
                    raise
                if key is not None:
                    self._no_vmap.add(key)
        return torch.stack([fn(*(a[i] for a in args)) for i in range(args[0].shape[0])])

    def _input_grad(self, x):
        """∇_x V(x_i) per sample (R, n, d) under the live critic, differentiable in its parameters."""
        x = x.detach().requires_grad_(True)
        v = self._D(x)
        (g,) = torch.autograd.grad(v.sum(), x, create_graph=True)
        return g

    def _gp(self, x_real, x_fake, weight, draws):
        """λ_r·mean_i (‖∇V(x̂_i)‖ − 1)², x̂ = εx + (1 − ε)x̃ with ε_i ~ U[0, 1] drawn from the generator of each
        run with draws[r] (as `wgan_gp_penalty` draws from the trainer's RNG whenever the trainer calls it)."""
        eps = torch.stack([torch.rand((self.n, 1), generator=g, dtype=self.dtype) if d else
                           torch.zeros(self.n, 1, dtype=self.dtype) for g, d in zip(self.gens, draws)])
        eps = eps.to(self.device)
        x_hat = eps * x_real.detach() + (1 - eps) * x_fake.detach()
        norm = torch.linalg.vector_norm(self._input_grad(x_hat), dim=-1)
        return torch.tensor(weight, dtype=self.dtype, device=self.device) * (norm - 1).pow(2).mean(-1)

    def _penalties(self, x_real, x_fake):
        """(R,) critic penalties in the trainer's order and sum: the wgan_gp loss's own penalty, R1, R2, then
        the gradient penalty added to any loss; None when no run has one."""
        total = None
        add = lambda t, x: x if t is None else t + x  # noqa: E731
        if any(self.is_wgan_gp):  # the trainer calls the loss's penalty (and draws ε) even at gp_weight 0
            total = add(total, self._gp(x_real, x_fake, self.gp_loss_weight, self.is_wgan_gp))
        if bool((self.r1 > 0).any()):
            total = add(total, 0.5 * self.r1.squeeze(1) * self._input_grad(x_real).pow(2).sum(-1).mean(-1))
        if bool((self.r2 > 0).any()):
            total = add(total, 0.5 * self.r2.squeeze(1) * self._input_grad(x_fake).pow(2).sum(-1).mean(-1))
        if any(self.gp_extra):
            total = add(total, self._gp(x_real, x_fake, self.gp_extra, [w > 0 for w in self.gp_extra]))
        return total

    def _freeze(self, bad: torch.Tensor, what: str, values: torch.Tensor) -> None:
        for r in torch.nonzero(bad).flatten().tolist():
            self.failed[r] = str(NonFiniteLossError(self.step + 1, what, float(values[r])))
            self.failed_step[r] = self.step + 1
        self.alive &= ~bad

    # ------------------------------------------------------------------ one step
    def train_step(self) -> dict:
        """n_critic critic updates then one generator update of every live run. Returns per-run losses (lists)."""
        stds = [self._noise_std(c) for c in self.configs]
        for _ in range(self.n_critic):
            x_real, z = self._draw(real=True)
            with torch.no_grad():
                x_fake = self._G(z, {k: p.detach() for k, p in self.gp.items()})
            nr, nf = self._noise(x_real.shape[1:], stds), self._noise(x_fake.shape[1:], stds)
            xr_in = x_real if nr is None else x_real + nr
            xf_in = x_fake if nf is None else x_fake + nf
            # the trainer evaluates the losses on float32 critic outputs (bf16 autocast); so do we
            loss_d = self._critic_losses(self._D(xr_in).float(), self._D(xf_in).float())
            pen = self._penalties(x_real, x_fake)
            if pen is not None:
                loss_d = loss_d + pen
            self._update(loss_d, "critic loss", self.dp, self.opt_d)
            self._clip_wgan()
        z = self._draw(real=False)[1]
        x_fake = self._G(z)
        nf = self._noise(x_fake.shape[1:], stds)
        loss_g = self._generator_losses(self._D(x_fake if nf is None else x_fake + nf,
                                                {k: p.detach() for k, p in self.dp.items()}).float())
        self._update(loss_g, "generator loss", self.gp, self.opt_g)
        self._update_ema()
        self.step += 1
        return {"loss_d": loss_d.detach().tolist(), "loss_g": loss_g.detach().tolist()}

    def _update(self, losses, what, params, opt):
        """Freeze the runs whose loss (R,) is non-finite (before any update with it, as the trainer raises),
        then one backward of the live runs' summed losses (runs share no parameter: each gets its own gradient)
        and one Adam step of the live runs."""
        bad = self.alive & ~torch.isfinite(losses.detach())
        if bool(bad.any()):
            self._freeze(bad, what, losses.detach())
        for p in params.values():
            p.grad = None
        torch.where(self.alive, losses, 0.0).sum().backward()
        opt.step(self.alive)

    @torch.no_grad()
    def _clip_wgan(self):
        for loss, idx in self.groups:
            if isinstance(loss, WGANLoss) and not loss.needs_critic_penalty:
                mask = torch.zeros(self.R, dtype=torch.bool, device=self.device)
                mask[idx] = True
                mask &= self.alive
                for p in self.dp.values():
                    m = mask.reshape((-1,) + (1,) * (p.dim() - 1))
                    p.copy_(torch.where(m, p.clamp(-loss.clip, loss.clip), p))

    @torch.no_grad()
    def _update_ema(self):
        if self.ema is None:
            return
        w = torch.tensor([1.0 - b for b in self.ema_decay], dtype=self.dtype, device=self.device)
        for k, p in self.gp.items():
            shape = (-1,) + (1,) * (p.dim() - 1)
            self.ema[k].copy_(torch.where(self.alive.reshape(shape), self.ema[k].lerp(p, w.reshape(shape)),
                                          self.ema[k]))
        for k, b in self.g_buf.items():
            shape = (-1,) + (1,) * (b.dim() - 1)
            self.ema_buf[k].copy_(torch.where(self.alive.reshape(shape), b, self.ema_buf[k]))

    # ------------------------------------------------------------------ loop
    def fit(self, stop_after: int | None = None, progress: bool | None = None) -> list[dict]:
        """Train to `steps` (or return at `stop_after` without final outputs, as an interrupted run would);
        returns one record per run: its summary (as `Trainer.fit`) plus "failed" (None or the message)."""
        c0 = self.configs[0]
        show = c0.progress if progress is None else progress
        bar = None
        if show:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=self.steps_total, initial=self.step, desc=f"batch of {self.R} runs")
            except ImportError:  # pragma: no cover
                bar = None
        self._clock = time.perf_counter()
        log_every, ck_every = c0.log_every, c0.checkpoint_every
        for c in self.configs:
            Path(c.out).mkdir(parents=True, exist_ok=True)
            c.save(Path(c.out) / "config.json")
            # the folder as it was at this step: records a stale or interrupted run wrote past it are dropped
            # (appending to them would duplicate steps), as the trainer does on resume
            run_folder.truncate_logs(c.out, self.step)
        logs = [open(Path(c.out) / "metrics.jsonl", "a", encoding="utf-8") for c in self.configs]
        if (self.eval_every and 0 < self.step < self.steps_total and self.step % self.eval_every == 0
                and not all(_has_eval(c.out, self.step) for c in self.configs)):
            # continued from finished runs (`load_runs`): their last step's evaluation went into summary.json,
            # not eval.jsonl; an uninterrupted run of this length logs it, so do it here (same weights, same z)
            self._log_eval(logs, self.step, skip=[_has_eval(c.out, self.step) for c in self.configs])
        try:
            while self.step < self.steps_total:
                if not bool(self.alive.any()):  # every run frozen: nothing left to train
                    break
                losses = self.train_step()
                s = self.step
                if bar is not None:
                    bar.update(1)
                    if s % 50 == 0:
                        bar.set_postfix(alive=f"{int(self.alive.sum())}/{self.R}")
                if log_every and (s % log_every == 0 or s == self.steps_total):
                    sec = self.seconds()
                    for r, fh in enumerate(logs):
                        if self.failed[r] is None or self.alive[r]:
                            fh.write(run_folder.dumps({"step": s, "loss_d": losses["loss_d"][r], "loss_g":
                                                       losses["loss_g"][r], "seconds": round(sec[r], 3)}) + "\n")
                            fh.flush()
                if self.eval_every and s % self.eval_every == 0 and s != self.steps_total:
                    self._log_eval(logs, s)
                if self.ckpt_path is not None and ck_every and s % ck_every == 0:
                    self.save()
                if stop_after is not None and s >= stop_after:
                    return []
            self.elapsed, self._clock = self.seconds(), None  # training time ends here: the outputs share it
            if self.ckpt_path is not None:
                self.save()
            return self.finish(logs)
        finally:
            self.elapsed, self._clock = self.seconds(), None
            if bar is not None:
                bar.close()
            for fh in logs:
                fh.close()

    def seconds(self) -> list[float]:
        """Training seconds of each run so far (the "seconds" of metrics.jsonl, the checkpoints' "elapsed"):
        cumulative over resumes, the wall clock of this batch's `fit` shared by its runs."""
        now = time.perf_counter() - self._clock if self._clock is not None else 0.0
        return [e + now for e in self.elapsed]

    def _log_eval(self, logs, s, skip=None):
        if not hasattr(self.data, "means"):
            return
        x = self.generate()
        for r, c in enumerate(self.configs):
            if self.failed[r] is not None or (skip is not None and skip[r]):
                continue
            m = mode_metrics(x[r], self.data.means, self.data.std)
            rec = {"step": s, "modes": m["modes"], "hq_fraction": m["hq_fraction"], "reverse_kl": m["reverse_kl"]}
            with open(Path(c.out) / "eval.jsonl", "a", encoding="utf-8") as fh:  # as the trainer's evaluation
                fh.write(run_folder.dumps(rec) + "\n")

    # ------------------------------------------------------------------ outputs
    @torch.no_grad()
    def generate(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """(R, N, d) float32 CPU samples of every run from z (R, N, z_dim) (default: the evaluation noise), in
        eval mode (BatchNorm running statistics), from the EMA weights where ema_decay > 0."""
        z = self.z_plot if z is None else z.to(self.device)
        params, bufs = dict(self.gp), self.g_buf
        if self.ema is not None:
            use = torch.tensor([b > 0 for b in self.ema_decay], device=self.device)
            params = {k: torch.where(use.reshape((-1,) + (1,) * (p.dim() - 1)), self.ema[k], p.detach())
                      for k, p in self.gp.items()}
            bufs = {k: torch.where(use.reshape((-1,) + (1,) * (b.dim() - 1)), self.ema_buf[k], b)
                    for k, b in self.g_buf.items()}
        params = {k: p.detach() for k, p in params.items()}
        out = [self.G_net(params, c, bufs, train=False) for c in z.split(4096, dim=1)]
        return torch.cat(out, dim=1).float().cpu()

    def finish(self, logs: list[IO[str]] | None = None) -> list[dict]:
        """Write each finished run's folder (see the module docstring); returns one record per run."""
        from ..plots import save_scatter

        x = self.generate()
        records = []
        for r, c in enumerate(self.configs):
            out = Path(c.out)
            out.mkdir(parents=True, exist_ok=True)
            if self.failed[r] is not None:
                records.append({"steps": self.step, "divergence": c.divergence, "generator_loss": c.generator_loss,
                                "modes": 0, "hq_fraction": 0.0, "reverse_kl": math.nan, "failed": self.failed[r],
                                "failed_step": self.failed_step[r], "engine": "batched"})
                continue
            xr = x[r]
            np.save(out / "samples.npy", xr.numpy())
            if len(self.data.shape) == 1 and c.sample_every:
                real = self.data.sample(1000, generator=torch.Generator().manual_seed(c.seed + 3))
                save_scatter(out / "samples.png", xr.numpy(), real.numpy(), title=f"{c.divergence} step {self.step}")
            summary = {"steps": self.step, "divergence": c.divergence, "generator_loss": c.generator_loss}
            if hasattr(self.data, "means"):
                m = mode_metrics(xr, self.data.means, self.data.std)
                summary.update({k: m[k] for k in ("modes", "hq_fraction", "reverse_kl")})
            summary["engine"] = "batched"
            ckpt_mod.save_atomic(self.run_checkpoint(r), out / "checkpoint.pt")
            # the summary lives apart from the step log, in strict JSON (the trainer's run-folder contract)
            run_folder.write_text_atomic(out / "summary.json", run_folder.dumps(summary, indent=2) + "\n")
            records.append({**summary, "failed": None})
        return records

    # ------------------------------------------------------------------ checkpoints
    def run_checkpoint(self, r: int) -> dict:
        """Run r as a `gan.trainer.Trainer` checkpoint (its RNG: the run's own stream; numpy/python: current)."""
        c = self.configs[r]
        g = unstack_state_dict({**self.gp, **self.g_buf}, r)
        g.update(_stale_flags(self.G_net.sn_stale(self.gp)))
        g = {k: g[k] for k in self._G_template.state_dict()}
        d = unstack_state_dict({**self.dp, **self.d_buf}, r)
        d.update(_stale_flags(self.D_net.sn_stale(self.dp)))
        d = {k: d[k] for k in self._D_template.state_dict()}
        rng = ckpt_mod.rng_state()
        rng["torch"] = self.gens[r].get_state()
        s = {"format": ckpt_mod.FORMAT, "step": self.step, "config": c.to_dict(), "generator": g, "critic": d,
             "opt_g": self.opt_g.run_state(r, self.g_param_names), "opt_d": self.opt_d.run_state(r, self.d_param_names),
             "rng": rng, "elapsed": self.seconds()[r], "threads": torch.get_num_threads()}
        if c.ema_decay > 0:
            e = unstack_state_dict({**self.ema, **self.ema_buf}, r)
            # the trainer's EMA copy never iterates (eval mode) and never holds u, v iterated for its own
            # weights: its hooks always save "stale"
            e.update(_stale_flags({k: True for k in self.G_net.sn}))
            # GeneratorEMA.state_dict's order: its own buffer, then the copy's entries
            s["ema"] = {"updates": torch.tensor(int(self.opt_g.steps[r])),
                        **{"ema." + k: e[k] for k in self._G_template.state_dict()}}
        return s

    def state(self) -> dict:
        return {"format": ckpt_mod.FORMAT, "kind": "batched", "step": self.step,
                "configs": [c.to_dict() for c in self.configs],
                "gp": {k: v.detach() for k, v in self.gp.items()}, "g_buf": self.g_buf,
                "dp": {k: v.detach() for k, v in self.dp.items()}, "d_buf": self.d_buf,
                "sn_stale": {"G": self.G_net.sn_stale(self.gp), "D": self.D_net.sn_stale(self.dp)},
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "ema": self.ema, "ema_buf": self.ema_buf, "gens": [g.get_state() for g in self.gens],
                "alive": self.alive, "failed": [f or "" for f in self.failed],
                "failed_step": [-1 if k is None else k for k in self.failed_step], "elapsed": self.seconds()}

    def save(self, path: str | os.PathLike | None = None) -> None:
        ckpt_mod.save_atomic(self.state(), path or self.ckpt_path)

    def load(self, path: str | os.PathLike) -> None:
        c = ckpt_mod.load(path, map_location=self.device)
        if c.get("kind") != "batched":
            raise ValueError(f"{path} is not a batched-sweep checkpoint")
        # the same runs, possibly with another step budget (a batch extended before it had finished)
        drop = lambda d: {k: v for k, v in d.items() if k != "steps"}  # noqa: E731
        mine = [drop(cfg.to_dict()) for cfg in self.configs]
        if [drop(d) for d in c["configs"]] != mine or int(c["step"]) > self.steps_total:
            raise ValueError(f"{path} was written for other runs (configs differ, or it is past steps="
                             f"{self.steps_total}); delete it or use another folder")
        with torch.no_grad():
            for k in self.gp:
                self.gp[k].copy_(c["gp"][k])
            for k in self.dp:
                self.dp[k].copy_(c["dp"][k])
            for k in self.g_buf:
                self.g_buf[k].copy_(c["g_buf"][k])
            for k in self.d_buf:
                self.d_buf[k].copy_(c["d_buf"][k])
            if self.ema is not None:
                for k in self.ema:
                    self.ema[k].copy_(c["ema"][k])
                for k in self.ema_buf:
                    self.ema_buf[k].copy_(c["ema_buf"][k])
        self.opt_g.load_state_dict(c["opt_g"])
        self.opt_d.load_state_dict(c["opt_d"])
        for g, s in zip(self.gens, c["gens"]):
            g.set_state(s)
        self.alive = c["alive"].clone()
        self.failed = [f or None for f in c["failed"]]
        self.failed_step = [None if k < 0 else int(k) for k in c.get("failed_step", [-1] * self.R)]
        self.step = int(c["step"])
        self.elapsed = [float(e) for e in c.get("elapsed", [0.0] * self.R)]
        # after the in-place copies above (which bump the weights' versions): u, v current or not as saved
        sn = c.get("sn_stale", {"G": {}, "D": {}})
        self.G_net.sn_set_stale(self.gp, sn["G"])
        self.D_net.sn_set_stale(self.dp, sn["D"])


    def load_runs(self, paths: Sequence[str | os.PathLike]) -> None:
        """Continue every run from its own trainer-format checkpoint (`paths[r]` for run r: the checkpoint.pt of
        a finished or interrupted run, written by `gan.trainer.Trainer` or by `finish`), so a sweep trained to
        S steps is extended to `steps` > S instead of retrained: the result equals an uninterrupted run of
        `steps` (weights, moments, RNG stream, BatchNorm statistics, spectral norm's u, v and EMA are the
        checkpoint's; nothing the engine computes depends on the total step count).

        Every checkpoint must be at one step S ≤ steps, and its run's config equal to run r's config except
        `steps` and the fields `gan.resume.MAY_CHANGE` allows (learning rates: the new ones are used from S on,
        as a resumed trainer does). Raises ValueError naming the run otherwise."""
        from .. import resume as resume_mod

        paths = list(paths)
        if len(paths) != self.R:
            raise ValueError(f"load_runs needs one checkpoint per run ({self.R}), got {len(paths)}")
        cks = []
        for c, path in zip(self.configs, paths):
            ck = ckpt_mod.load(path, map_location=self.device)
            if "generator" not in ck or "opt_g" not in ck:
                raise ValueError(f"{path} is not a run checkpoint (gan.trainer.Trainer format)")
            try:
                resume_mod.config_changes(ck["config"], c, int(ck["step"]))
            except resume_mod.ResumeConfigError as exc:
                raise ValueError(f"{path} belongs to another run than {c.out}: {exc}") from None
            cks.append(ck)
        steps = {int(ck["step"]) for ck in cks}
        if len(steps) != 1:
            raise ValueError(f"the checkpoints are at different steps {sorted(steps)}: continue runs of one step "
                             f"as one batch")
        stale = {}
        with torch.no_grad():
            for net, params, bufs, key in ((self.G_net, self.gp, self.g_buf, "generator"),
                                           (self.D_net, self.dp, self.d_buf, "critic")):
                st = stack_state_dicts([ck[key] for ck in cks])
                stale[key] = _pop_stale_flags(st, net)
                for k, t in (*params.items(), *bufs.items()):
                    t.copy_(st[k])
            for opt, names, key in ((self.opt_g, self.g_param_names, "opt_g"),
                                    (self.opt_d, self.d_param_names, "opt_d")):
                opt.load_runs([ck[key] for ck in cks], names)
            if self.ema is not None:
                for r, ck in enumerate(cks):
                    if self.ema_decay[r] > 0:
                        for k in self.ema:
                            self.ema[k][r].copy_(ck["ema"]["ema." + k])
                        for k in self.ema_buf:
                            self.ema_buf[k][r].copy_(ck["ema"]["ema." + k])
        for g, ck in zip(self.gens, cks):
            g.set_state(ck["rng"]["torch"].cpu())
        self.alive = torch.ones(self.R, dtype=torch.bool, device=self.device)
        self.failed, self.failed_step = [None] * self.R, [None] * self.R
        self.elapsed = [float(ck.get("elapsed", 0.0)) for ck in cks]
        self.step = steps.pop()
        if self.step > self.steps_total:
            raise ValueError(f"the checkpoints are at step {self.step}, past steps={self.steps_total}")
        # after the in-place copies above: u, v current or not as each net's checkpoint says
        self.G_net.sn_set_stale(self.gp, stale["generator"])
        self.D_net.sn_set_stale(self.dp, stale["critic"])


def _has_eval(out, step: int) -> bool:
    """Does the run folder's eval.jsonl hold a record of `step`?"""
    path = Path(out) / "eval.jsonl"
    if not path.is_file():
        return False
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step") == step:
                return True
        except (ValueError, AttributeError):
            continue
    return False


def _pop_stale_flags(stacked: dict, net: StackedNet) -> dict[str, bool]:
    """Remove the stacked "<name>_sn_stale" flags (R,) from `stacked`; {weight key: stale} per stacked weight."""
    out = {}
    for k in net.sn:
        flags = stacked.pop(k[: -len("_orig")] + "_sn_stale")
        if bool(flags.any()) != bool(flags.all()):
            raise ValueError(f"the runs' spectral-norm states of {k} differ (some current, some stale)")
        out[k] = bool(flags.all())
    return out


def _stale_flags(stale: dict[str, bool]) -> dict[str, torch.Tensor]:
    """{weight key "<name>_orig": stale} → the hook's state-dict entries {"<name>_sn_stale": bool tensor}."""
    return {k[: -len("_orig")] + "_sn_stale": torch.tensor(bool(v)) for k, v in stale.items()}
