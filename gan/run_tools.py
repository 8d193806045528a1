"""What a training run does around its steps: learning-rate schedule, periodic evaluation, best checkpoint,
plateau rule, TensorBoard, and the state of a streaming dataset. One object, `RunTools(trainer)`, called from a
few places of the trainer (construction, after every step, checkpoint state, resume, end).

After step t (t generator steps done), in this order:
1. evaluation when eval_every divides t (or t = steps): a record {"step": t, metrics..., "seconds"} appended to
   RUN/eval.jsonl (strict JSON); with keep_best, a strictly better metric writes RUN/best.pt (the full
   checkpoint, atomically) and RUN/best.json {"metric", "value", "step"}; with plateau_patience the
   plateau rule sees the metric (modes for mixtures, FID for images);
2. the learning rates for step t + 1: lr_0 · lr_factor(t) · plateau scale (`gan.schedules`), every group of
   the generator's, the critic's (and MINE's) optimisers;
3. TensorBoard (when on): the step record's scalars, the evaluation, the learning rates, the sample picture
   every sample_every steps.

Resume from a checkpoint at step T restores the schedule, plateau, best and stream states, truncates
eval.jsonl to the records of steps ≤ T (atomically: a temp file then os.replace), and opens TensorBoard with
purge_step T + 1. All ranks evaluate (so every rank takes the same plateau decision); rank 0 writes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from . import schedules
from .evaluation import IMAGE_METRICS, METRICS, MIXTURE_METRICS, BestKeeper, PeriodicEvaluator, data_kind

if TYPE_CHECKING:
    import numpy as np

    from .config import TrainConfig
    from .trainer import Trainer

EVAL_LOG = "eval.jsonl"


def validate_config(cfg: TrainConfig) -> None:
    """ValueError naming the field for a bad value of the run-tools fields of `TrainConfig`."""
    from .tensorboard_log import require_tensorboard

    if cfg.channels is not None and cfg.channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3 (or unset: the data's own); got {cfg.channels!r}")
    for name in ("data_workers", "eval_every", "plateau_patience"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an integer ≥ 0 (0 = off), got {v!r}")
    if cfg.keep_best is not None and cfg.keep_best not in METRICS:
        raise ValueError(f"keep_best must be one of {', '.join(METRICS)} (or unset); got {cfg.keep_best!r}")
    if (cfg.keep_best is not None or cfg.plateau_patience) and not cfg.eval_every:
        raise ValueError("keep_best and plateau_patience act on periodic evaluations: set eval_every > 0")
    if cfg.eval_every:  # what the named data set can be measured with (a dataset= object is checked at start)
        from .data import TOY

        key = cfg.data.strip().lower().replace("-", "_")
        kind = ("mixture" if key in ("ring8", "grid25") else "none") if key in TOY else "image"
        if kind == "none":
            raise ValueError(f"eval_every needs mixture data (ring8, grid25: mode metrics) or labelled images "
                             f"(FID/KID); {cfg.data!r} has neither")
        allowed = MIXTURE_METRICS if kind == "mixture" else IMAGE_METRICS
        if cfg.keep_best is not None and cfg.keep_best in METRICS and cfg.keep_best not in allowed:
            raise ValueError(f"keep_best {cfg.keep_best!r} is not measured on {cfg.data!r}; use one of "
                             f"{', '.join(allowed)}")
    if cfg.lr_decay not in schedules.KINDS:
        raise ValueError(f"lr_decay must be one of {', '.join(schedules.KINDS)}; got {cfg.lr_decay!r}")
    if isinstance(cfg.lr_decay_every, bool) or not isinstance(cfg.lr_decay_every, int) or cfg.lr_decay_every < 1:
        raise ValueError(f"lr_decay_every must be a positive integer, got {cfg.lr_decay_every!r}")
    if not 0 < cfg.lr_decay_gamma <= 1:
        raise ValueError(f"lr_decay_gamma must lie in (0, 1], got {cfg.lr_decay_gamma!r}")
    if not 0 < cfg.plateau_factor < 1:
        raise ValueError(f"plateau_factor must lie in (0, 1), got {cfg.plateau_factor!r}")
    if not 0 <= cfg.began_gamma <= 1:
        raise ValueError(f"began_gamma must lie in [0, 1] (0.5 typical), got {cfg.began_gamma!r}")
    if not 0 <= cfg.began_lambda_k < 1:
        raise ValueError(f"began_lambda_k must lie in [0, 1) (0.001 typical), got {cfg.began_lambda_k!r}")
    if cfg.tensorboard:
        require_tensorboard()


def truncate_jsonl(path: str | os.PathLike, step: int) -> None:
    """Keep the lines of a JSON-lines log whose "step" is ≤ `step` (others and torn last lines dropped),
    atomically. Missing file: nothing to do."""
    path = Path(path)
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill mid-write
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step:
            keep.append(line)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
    os.replace(tmp, path)


class RunTools:
    """See module docstring."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = tr = trainer
        cfg = tr.config
        self.out = Path(cfg.out)
        self.evaluator = PeriodicEvaluator(tr) if cfg.eval_every else None
        self.best = BestKeeper(cfg.keep_best) if cfg.keep_best else None
        kind = data_kind(tr.data)
        if self.best is not None and cfg.keep_best not in self.evaluator.metrics:
            raise ValueError(f"keep_best {cfg.keep_best!r} is not measured on {kind} data; use one of "
                             f"{', '.join(self.evaluator.metrics)}")
        self.plateau = None
        if cfg.plateau_patience:
            metric = "modes" if kind == "mixture" else "fid"
            self.plateau_metric = metric
            self.plateau = schedules.PlateauRule(cfg.plateau_patience, cfg.plateau_factor, METRICS[metric])
        self.tb = None
        self._purge = None
        self.base_lr = [(opt, [g["lr"] for g in opt.param_groups]) for opt in self._optimisers()]
        self.set_learning_rates(tr.step)

    def _optimisers(self):
        tr = self.trainer
        return [o for o in (tr.opt_g, tr.opt_d, getattr(tr, "opt_mine", None)) if o is not None]

    # ------------------------------------------------------------------ schedule
    def lr_scale(self, step: int) -> float:
        cfg = self.trainer.config
        f = schedules.lr_factor(cfg.lr_decay, step, cfg.steps, cfg.lr_decay_every, cfg.lr_decay_gamma)
        return f * (self.plateau.scale if self.plateau is not None else 1.0)

    def set_learning_rates(self, step: int) -> None:
        s = self.lr_scale(step)
        for opt, base in self.base_lr:
            for g, lr in zip(opt.param_groups, base):
                g["lr"] = lr * s

    # ------------------------------------------------------------------ per step
    def _tensorboard(self):
        if self.tb is None and self.trainer.config.tensorboard and self.trainer.is_main:
            from .tensorboard_log import TensorBoardLogger

            tags = tuple(f"eval/{m}" for m in (self.evaluator.metrics if self.evaluator else ())) or ("train/loss_d",)
            self.tb = TensorBoardLogger(self.out / "tensorboard", self._purge, self.trainer.config.to_dict(), tags)
        return self.tb

    def after_step(self, step: int, losses: dict) -> dict | None:
        """Run the tools after generator step `step`; returns the evaluation record (or None)."""
        tr, cfg = self.trainer, self.trainer.config
        record = None
        if self.evaluator is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
            record = {"step": step, **self.evaluator.evaluate()}
            if tr.dist.distributed:  # rank 0's numbers decide best and plateau on every rank
                import torch.distributed as dist

                box = [record]
                dist.broadcast_object_list(box, src=0)
                record = box[0]
            if self.best is not None and self.best.improved(record, step):
                record["best"] = True
                if tr.is_main:
                    tr.save(self.out / "best.pt")
                    _write_json(self.out / "best.json", self.best.state_dict())
            if self.plateau is not None:
                record["lr_scale"] = self.plateau.update(record.get(self.plateau_metric))
            if tr.is_main:
                with open(self.out / EVAL_LOG, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, allow_nan=False) + "\n")
        self.set_learning_rates(step)
        tb = self._tensorboard()
        if tb is not None:
            if cfg.log_every and (step % cfg.log_every == 0 or step == cfg.steps):
                tb.scalars("train", losses, step)
                tb.scalars("lr", {"g": tr.opt_g.param_groups[0]["lr"], "d": tr.opt_d.param_groups[0]["lr"]}, step)
            if record is not None:
                tb.scalars("eval", {k: v for k, v in record.items() if k != "step"}, step)
            if cfg.sample_every and step % cfg.sample_every == 0:
                tb.image("samples", self.sample_picture(), step)
        return record

    def sample_picture(self) -> np.ndarray:
        """(H, W, C) in [0, 1]: the image grid of the trainer's fixed plot noise, or its scatter over the data."""
        import torch

        from .plots import image_grid, scatter_array

        tr = self.trainer
        x = tr.generate(tr.z_plot)
        if x.dim() == 2:
            real = tr.data.sample(1000, generator=torch.Generator().manual_seed(tr.config.seed + 3))
            return scatter_array(x.numpy(), real.numpy(), title=f"step {tr.step}")
        return image_grid(x[:64].numpy())

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict:
        s = {}
        if self.best is not None:
            s["best"] = self.best.state_dict()
        if self.plateau is not None:
            s["plateau"] = self.plateau.state_dict()
        data = self.trainer.data
        if hasattr(data, "state_dict"):
            s["data"] = data.state_dict()
        if hasattr(self.trainer.loss, "state_dict"):
            s["loss"] = self.trainer.loss.state_dict()
        return s

    def load_state_dict(self, state: dict | None, step: int) -> None:
        """Restore after the trainer loaded its checkpoint at `step` (see module docstring)."""
        state = state or {}
        for key, obj in (("best", self.best), ("plateau", self.plateau), ("data", self.trainer.data),
                         ("loss", self.trainer.loss)):
            if key in state and hasattr(obj, "load_state_dict"):
                obj.load_state_dict(state[key])
            elif key not in state and key in ("best", "plateau") and obj is not None:
                raise ValueError(f"the checkpoint has no {key!r} state but this run uses it (a different config?)")
        if self.trainer.is_main and not getattr(self.trainer, "read_only", False):  # `from_run` writes nothing
            truncate_jsonl(self.out / EVAL_LOG, step)
        self._purge = step + 1
        self.set_learning_rates(step)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
