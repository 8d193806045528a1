"""What may change when a run is resumed: the config given is compared with the one in the checkpoint.

A resumed run must be the run that was checkpointed. Fields that change what is trained (the loss, the
models, the data, the stabilisers, the seed, the batch, betas …) are refused, each named with its old and new
value. These may change:

- ``steps`` (extend or shorten a run, never below the checkpoint's step);
- ``lr_g``, ``lr_d``: written into the optimisers' parameter groups after their state is loaded (the
  "lower the learning rate" advice of `NonFiniteLossError` works), and stated in the log;
- what is only observed: ``progress``, ``log_every``, ``sample_every``, ``checkpoint_every``, ``eval_samples``,
  ``out`` (a moved folder), ``device`` and ``tensorboard``.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .config import TrainConfig

if TYPE_CHECKING:
    from .trainer import Trainer

MAY_CHANGE = ("steps", "lr_g", "lr_d", "progress", "log_every", "sample_every", "checkpoint_every", "eval_samples",
              "out", "device", "tensorboard")
APPLIED_TO_OPTIMISERS = {"lr_g": "opt_g", "lr_d": "opt_d"}


class ResumeConfigError(ValueError):
    """The config given to a resumed run changes fields that define the run."""


def _resolved(d: dict) -> dict:
    """A saved config as a resolved dict; fields added since it was saved take their defaults."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig.from_dict({k: v for k, v in d.items() if k in known})
    cfg.resolve_optimiser()
    return cfg.to_dict()


def config_changes(saved: dict, config: TrainConfig, step: int) -> dict[str, tuple]:
    """{field: (saved value, new value)} of the allowed changes; raises ResumeConfigError naming every refused
    field (and any unknown field of the saved config) as ``name: old → new``.

    saved: the checkpoint's config dict; config: the (validated) config of the resumed run; step: the
    checkpoint's step.
    """
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ResumeConfigError(f"the checkpoint was written with config fields this version does not know "
                                f"({', '.join(unknown)}); resume it with the version that wrote it")
    old, new = _resolved(saved), config.to_dict()
    changed = {k: (old[k], new[k]) for k in new if old[k] != new[k]}
    refused = {k: v for k, v in changed.items() if k not in MAY_CHANGE}
    if refused:
        listed = "; ".join(f"{k}: {a!r} → {b!r}" for k, (a, b) in refused.items())
        raise ResumeConfigError(f"--resume with a different run's config: {listed}. These fields define the run; "
                                f"resume with the checkpoint's values (only {', '.join(MAY_CHANGE)} may change) "
                                f"or start a new run in another --out")
    if config.steps < step:
        raise ResumeConfigError(f"steps {config.steps} is below the checkpoint's step {step}")
    return changed


def apply_learning_rates(trainer: Trainer, changes: dict) -> None:
    """Write changed lr_g / lr_d into every parameter group of the loaded optimisers (Adam keeps its moments)."""
    for key, attr in APPLIED_TO_OPTIMISERS.items():
        if key in changes:
            for group in getattr(trainer, attr).param_groups:
                group["lr"] = changes[key][1]
        if key == "lr_d" and key in changes and getattr(trainer, "opt_mine", None) is not None:
            for group in trainer.opt_mine.param_groups:  # MINE's statistics network follows the critic's lr
                group["lr"] = changes[key][1]


def describe(step: int, changes: dict) -> str:
    """One log line: "resumed from step N" and the changes applied."""
    shown = {k: v for k, v in changes.items() if k != "out"}
    if not shown:
        return f"resumed from step {step}"
    parts = [f"{k} {a!r} → {b!r}" + (" (applied to the optimiser)" if k in APPLIED_TO_OPTIMISERS else "")
             for k, (a, b) in shown.items()]
    return f"resumed from step {step}; changed: " + ", ".join(parts)
