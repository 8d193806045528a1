"""Learning-rate schedules: a pure factor of the step (`lr_factor`) and a plateau rule on an evaluated metric.

The learning rate of every parameter group at step t (t generator steps done, t = 0 before the first) is

    lr(t) = lr_0 · lr_factor(kind, t, T) · plateau_scale

with T = config.steps and lr_0 the configured lr_g / lr_d:

- none:   1
- linear: 1 − t/T (0 at the end; the "lower the learning rate" trick of the f-GAN and DCGAN lore)
- cosine: ½(1 + cos(π t/T)) (Loshchilov & Hutter 2017, SGDR without restarts)
- step:   γ^⌊t/every⌋

`lr_factor` is a function of the step alone (nanoGPT's `get_lr` style), so resumption needs no state for it;
`PlateauRule` keeps (best, evaluations without improvement, scale), which the trainer checkpoints.
"""
from __future__ import annotations

import math

KINDS = ("none", "linear", "cosine", "step")


def lr_factor(kind: str, step: int, total: int, every: int = 1000, gamma: float = 0.5) -> float:
    """Multiplier of the base learning rate after `step` of `total` steps (module docstring). Returns a float
    in [0, 1] for gamma ∈ (0, 1]."""
    if kind not in KINDS:
        raise ValueError(f"lr_decay must be one of {', '.join(KINDS)}; got {kind!r}")
    if total < 1:
        raise ValueError(f"total must be ≥ 1, got {total!r}")
    frac = min(max(step / total, 0.0), 1.0)
    if kind == "none":
        return 1.0
    if kind == "linear":
        return 1.0 - frac
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if every < 1:
        raise ValueError(f"lr_decay_every must be ≥ 1 for step decay, got {every!r}")
    return float(gamma) ** (step // every)


class PlateauRule:
    """Multiply the learning rates by `factor` after `patience` consecutive evaluations without a strictly
    better value of the metric (higher if `maximise`, else lower), like torch's ReduceLROnPlateau with
    threshold 0 and cooldown 0. NaN or None values count as no improvement.

    >>> r = PlateauRule(patience=2, factor=0.5, maximise=True)
    >>> [r.update(v) for v in (3, 5, 5, 4, 6, 6, 6)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    def __init__(self, patience: int, factor: float = 0.5, maximise: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"plateau patience must be an int ≥ 1, got {patience!r}")
        if not 0 < factor < 1:
            raise ValueError(f"plateau factor must lie in (0, 1), got {factor!r}")
        self.patience, self.factor, self.maximise = patience, float(factor), maximise
        self.best, self.bad, self.scale = None, 0, 1.0

    def update(self, value: float) -> float:
        """Record one evaluation; returns the learning-rate scale to use from now on."""
        ok = value is not None and math.isfinite(value)
        if ok and (self.best is None or (value > self.best if self.maximise else value < self.best)):
            self.best, self.bad = float(value), 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.scale *= self.factor
                self.bad = 0
        return self.scale

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad, "scale": self.scale}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad, self.scale = state["best"], int(state["bad"]), float(state["scale"])
