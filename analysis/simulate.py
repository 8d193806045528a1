"""simulate: run an update rule on a game from a batch of initial points (vectorised, numpy or torch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from . import optim

if TYPE_CHECKING:
    from .games import Game


@dataclass
class Trajectory:
    """x, y: (n_records, *batch) (vector players: (n_records, *batch, dim)); record i is iteration t[i].

    path: "linear" when simulate used the exact matrix-power path, "loop" for the step-by-step loop.
    """

    x: np.ndarray | torch.Tensor
    y: np.ndarray | torch.Tensor
    t: np.ndarray
    lr: ArrayLike | torch.Tensor
    method: str
    options: dict = field(default_factory=dict)
    path: str = "loop"

    def norm(self) -> np.ndarray | torch.Tensor | None:
        """Distance to the origin sqrt(x^2 + y^2) per record (summed over player dims for vector games)."""
        if isinstance(self.x, torch.Tensor):
            return torch.sqrt(self.x ** 2 + self.y ** 2) if self.x.shape == self.y.shape else None
        return np.sqrt(self.x ** 2 + self.y ** 2)


def simulate(game: Game, method: str | optim.Rule, lr: ArrayLike | torch.Tensor, steps: int,
             x0: ArrayLike | torch.Tensor, y0: ArrayLike | torch.Tensor, record: int = 1, fast: bool | None = None,
             **options: Any) -> Trajectory:
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
        fast: the exact linear path. On a linear game (Bilinear, QuadraticBilinear, numeric LinearGame:
            `game.linear`) every built-in rule (`rule.linear`) is a fixed linear map of the stacked state
            z = (x, y, *state): z_0 = P w_0, z_{t+1} = M z_t (spectral.linear_maps). Then
            w_t = K_t w_0 with K_t = (M^t P)[:d], computed in float64 for the recorded t only (one tiny
            matrix product per step, per distinct lr) and applied to all points with one matrix product per
            record: memory-bound, no Python loop over steps. It equals the loop up to rounding (the loop
            rounds each step's iterate in the input dtype, the path rounds the float64 powers K_t once).
            None (default): used when it applies -- linear game and rule, no input requires grad, finite
            inputs, powers finite in the input dtype, and at least (#distinct lrs x len(z)) points (below
            that the loop is as cheap). True: the same without the size condition; ValueError if the game or
            rule is not linear or an input requires grad. False: always the step loop.
    Returns:
        Trajectory with .x, .y of shape (n_records, *batch) where n_records = steps + 1 for record=1;
        .path says which path ran.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"simulate: steps must be a non-negative int, got {steps!r}")
    if not isinstance(record, (int, np.integer)) or record < 1:
        raise ValueError(f"simulate: record must be a positive int, got {record!r}")
    if fast not in (None, True, False):
        raise ValueError(f"simulate: fast must be None (auto), True or False, got {fast!r}")
    _check_lr(lr)
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
    lr_values = lr_
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
    opts = dict(rule.options)
    if fast is not False:
        why_not = _linear_unavailable(game, rule, (x, y, lr_values), use_torch)
        if fast and why_not:
            raise ValueError(f"simulate: fast=True but the linear path does not apply: {why_not}")
        if not why_not:
            out = _simulate_linear(game, rule, lr_values, ts, x, y, batch, check_size=fast is None)
            if out is not None:
                return Trajectory(*out, np.asarray(ts), lr, rule.name, opts, path="linear")
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
    return Trajectory(X, Y, np.asarray(ts), lr, rule.name, opts)


def _check_lr(lr):
    """ValueError unless every learning rate is a finite number > 0 (a scalar, array or tensor of them)."""
    if isinstance(lr, torch.Tensor):
        bad = lr.detach()
        ok = bool(torch.isfinite(bad).all() and (bad > 0).all()) if bad.numel() else False
    else:
        try:
            arr = np.asarray(lr, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"simulate: lr must be a number or an array of numbers, got {type(lr).__name__}") from None
        ok = arr.size > 0 and bool(np.all(np.isfinite(arr)) and np.all(arr > 0))
    if not ok:
        raise ValueError(f"simulate: lr must be finite and > 0 (every entry of an lr array), got {lr!r}")


def _linear_unavailable(game, rule, arrays, use_torch):
    """Why the exact linear path cannot run (a string), or None when it can."""
    if not getattr(game, "linear", False):
        return f"game {game.name!r} is not linear (game.linear is False)"
    if not rule.linear:
        return f"rule {rule.name!r} is not declared linear (Rule.linear is False)"
    if use_torch and any(v.requires_grad for v in arrays):
        return "an input requires grad (the step loop keeps the autograd graph)"
    return None


def _simulate_linear(game, rule, lr_values, ts, x, y, batch, check_size):
    """(X, Y) by the exact powers of the step matrix, or None to fall back to the loop (see simulate)."""
    from .spectral import linear_maps

    is_t = isinstance(x, torch.Tensor)
    if is_t and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        # the same arithmetic on zero-copy numpy views: numpy allocates the large outputs with transparent huge
        # pages (torch's CPU allocator faults them in 4 KiB at a time: 3-5x slower for 100 MB outputs)
        lv = lr_values.detach().cpu().numpy() if isinstance(lr_values, torch.Tensor) else lr_values
        out = _simulate_linear(game, rule, lv, ts, x.numpy(), y.numpy(), batch, check_size)
        return None if out is None else tuple(torch.from_numpy(v) for v in out)
    isfinite = (lambda v: bool(torch.isfinite(v).all())) if is_t else (lambda v: bool(np.isfinite(v).all()))
    if not (isfinite(x) and isfinite(y)):
        return None  # inf * 0 in the matrix product would give NaN where the loop keeps inf
    lv = (lr_values.detach().cpu().double().numpy() if is_t else np.asarray(lr_values, dtype=np.float64))
    uniq, inv = np.unique(lv.ravel(), return_inverse=True)
    first = linear_maps(game, rule, uniq[0])
    D, d = first[1].shape
    B = int(np.prod(batch, dtype=np.int64))
    if check_size and len(uniq) * D > B:
        return None  # as many maps as points: the powers would cost as much as the loop
    maps = [first, *(linear_maps(game, rule, v) for v in uniq[1:])]
    M = np.stack([m for m, _ in maps])  # (U, D, D)
    Z = np.stack([p for _, p in maps])  # (U, D, d): M^t P, t = 0
    K = np.empty((len(ts), len(uniq), d, d))
    t = 0
    for k, tk in enumerate(ts):  # M^{t_k} P from M^{t_{k-1}} P: the gap's power by repeated squaring
        gap = int(tk) - t
        if gap == 1:
            Z = M @ Z
        elif gap > 1:
            Z = np.linalg.matrix_power(M, gap) @ Z
        t = int(tk)
        K[k] = Z[:, :d]
    K = K[:, inv.reshape(-1)].reshape(len(ts), *lv.shape, d, d)  # (n_rec, *lr_shape, d, d)
    if is_t:
        K = torch.as_tensor(K, device=x.device).to(x.dtype)
    else:
        K = K.astype(x.dtype)
    if not isfinite(K):
        return None  # overflow: the loop's own inf/NaN pattern is the reference
    mm = torch.matmul if is_t else np.matmul
    n_rec = len(ts)
    vector = getattr(game, "vector", False)
    if len(uniq) == 1:  # one map for every point: one (n_rec*out, d) @ (d, B) product per player
        K0 = K.reshape(n_rec, -1, d, d)[:, 0]
        if vector:
            n = x.shape[-1]
            W = _cat([x.reshape(B, n), y.reshape(B, -1)], is_t)  # (B, d)
            X = mm(W, _t(K0[:, :n, :]))  # (n_rec, B, n)
            Y = mm(W, _t(K0[:, n:, :]))
            return X.reshape(n_rec, *batch, n), Y.reshape(n_rec, *batch, -1)
        W = _cat([x.reshape(1, B), y.reshape(1, B)], is_t, axis=0)  # (2, B)
        X, Y = mm(_c(K0[:, 0, :], is_t), W), mm(_c(K0[:, 1, :], is_t), W)  # (n_rec, B) each
        return X.reshape(n_rec, *batch), Y.reshape(n_rec, *batch)
    # a batch of learning rates: K broadcasts against the batch through the lr axes
    pad = len(batch) - lv.ndim
    K = K.reshape(n_rec, *(1,) * pad, *lv.shape, d, d)
    if vector:
        n = x.shape[-1]
        W = _cat([x, y], is_t, axis=-1)[..., None]  # (*batch, d, 1)
        return mm(K[..., :n, :], W)[..., 0], mm(K[..., n:, :], W)[..., 0]
    X = K[..., 0, 0] * x + K[..., 0, 1] * y
    Y = K[..., 1, 0] * x + K[..., 1, 1] * y
    return X, Y


def _cat(parts, is_t, axis=1):
    return torch.cat(parts, dim=axis) if is_t else np.concatenate(parts, axis=axis)


def _t(K):
    """Swap the last two axes."""
    return K.transpose(-1, -2) if isinstance(K, torch.Tensor) else np.swapaxes(K, -1, -2)


def _c(K, is_t):
    return K.contiguous() if is_t else np.ascontiguousarray(K)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _expand(v, shape):
    if isinstance(v, torch.Tensor):
        return v.expand(shape).clone()
    return np.array(np.broadcast_to(v, shape))
