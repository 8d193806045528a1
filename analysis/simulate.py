"""simulate: run an update rule on a game from a batch of initial points (vectorised, numpy or torch)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import optim


@dataclass
class Trajectory:
    """x, y: (n_records, *batch) (vector players: (n_records, *batch, dim)); record i is iteration t[i]."""

    x: object
    y: object
    t: np.ndarray
    lr: object
    method: str
    options: dict = field(default_factory=dict)

    def norm(self):
        """Distance to the origin sqrt(x^2 + y^2) per record (summed over player dims for vector games)."""
        if isinstance(self.x, torch.Tensor):
            return torch.sqrt(self.x ** 2 + self.y ** 2) if self.x.shape == self.y.shape else None
        return np.sqrt(self.x ** 2 + self.y ** 2)


def simulate(game, method, lr, steps, x0, y0, record=1, **options) -> Trajectory:
    """Iterate `method` on `game` for `steps` steps from every initial point at once.

    Args:
        game: an analysis.games.Game.
        method: rule name ("simultaneous", "alternating", "optimistic", "extragradient", "consensus", "sga",
            "momentum") or an optim.Rule; **options go to the rule (gamma, lam, beta, order, alternating).
        lr: float or array broadcastable with the batch (sweeps over learning rates).
        steps: number of updates.
        x0, y0: initial points, any broadcast-compatible shapes (scalar games); vector games take a trailing
            player dimension. numpy -> float64 numpy (float32 kept); torch keeps dtype and device (CUDA works).
        record: keep every `record`-th iterate (iterations 0, record, 2*record, ... and always the last).
    Returns:
        Trajectory with .x, .y of shape (n_records, *batch) where n_records = steps + 1 for record=1.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"simulate: steps must be a non-negative int, got {steps!r}")
    if not isinstance(record, (int, np.integer)) or record < 1:
        raise ValueError(f"simulate: record must be a positive int, got {record!r}")
    rule = optim.get(method, **options)
    use_torch = any(isinstance(v, torch.Tensor) for v in (x0, y0, lr))
    if use_torch:
        ref = next(v for v in (x0, y0, lr) if isinstance(v, torch.Tensor))
        dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
        conv = lambda v: torch.as_tensor(v, dtype=dtype, device=ref.device)
        x, y, lr_ = conv(x0), conv(y0), conv(lr)
    else:
        dt = np.result_type(np.asarray(x0).dtype, np.asarray(y0).dtype, np.float32)
        dt = np.float64 if dt != np.float32 else dt
        x, y, lr_ = (np.asarray(v, dtype=dt) for v in (x0, y0, lr))
    if getattr(game, "vector", False):
        lr_ = lr_[..., None]
        bx, by = x.shape[:-1], y.shape[:-1]
        batch = tuple(np.broadcast_shapes(bx, by, tuple(lr_.shape[:-1])))
        x = _expand(x, (*batch, x.shape[-1]))
        y = _expand(y, (*batch, y.shape[-1]))
    else:
        batch = tuple(np.broadcast_shapes(tuple(x.shape), tuple(y.shape), tuple(lr_.shape)))
        x, y = _expand(x, batch), _expand(y, batch)
    ts = list(range(0, steps + 1, record))
    if ts[-1] != steps:
        ts.append(steps)
    n = len(ts)
    if use_torch:
        X = torch.empty((n, *x.shape), dtype=x.dtype, device=x.device)
        Y = torch.empty((n, *y.shape), dtype=y.dtype, device=y.device)
    else:
        X, Y = np.empty((n, *x.shape), dtype=x.dtype), np.empty((n, *y.shape), dtype=y.dtype)
    X[0], Y[0] = x, y
    state = rule.init(game, x, y)
    k = 1
    grad_ctx = torch.no_grad() if use_torch and not (x.requires_grad or y.requires_grad) else _null()
    with grad_ctx:
        for step in range(1, steps + 1):
            x, y, state = rule.update(game, x, y, state, lr_)
            if k < n and ts[k] == step:
                X[k], Y[k] = x, y
                k += 1
    return Trajectory(X, Y, np.asarray(ts), lr, rule.name, dict(rule.options))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _expand(v, shape):
    if isinstance(v, torch.Tensor):
        return v.expand(shape).clone()
    return np.array(np.broadcast_to(v, shape))
