"""Train a critic and report a variational estimate: `estimate` (MI) and `estimate_divergence` (any D_f).

Held-out evaluation rule (both functions): the samples are shuffled with `seed`; the last
`eval_fraction` of them (default 20 %) never enter training.
  * `estimate`: the trained critic scores the held-out pairs in disjoint minibatches of the training size K
    (the minibatch bias of DV/InfoNCE depends on K, so K is kept), the estimator's reported bound is computed on
    each, and value = mean over batches, stderr = std / sqrt(n_batches) (batches are independent).
  * `estimate_divergence`: value = mean_{held-out P} g_f(v) − mean_{held-out Q} f*(g_f(v)), an unbiased estimate of
    the trained critic's population bound, which is ≤ D_f(P‖Q); stderr = sqrt(Var_P/n_P + Var_Q/n_Q).
A lower bound therefore holds in expectation; a one-sided check is value ≤ truth + z·stderr.
"""
from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .. import bounds as B
from ..catalog import get
from .critics import make_critic, mlp
from .estimators import make_estimator

__all__ = ["MIResult", "DivergenceResult", "fit", "estimate", "estimate_divergence"]


@dataclass
class MIResult:
    """value, stderr: nats (held-out); history: per-step training estimates (nats), shape (steps,)."""
    value: float
    stderr: float
    history: np.ndarray
    estimator: str
    n_eval_batches: int
    critic: torch.nn.Module = field(repr=False, default=None)

    def __float__(self):
        return float(self.value)


@dataclass
class DivergenceResult:
    """A lower bound on D_f(P‖Q) (nats) with its stderr; history: per-step training bound values."""
    value: float
    stderr: float
    history: np.ndarray
    divergence: str
    critic: torch.nn.Module = field(repr=False, default=None)

    def __float__(self):
        return float(self.value)


def _as_2d(a, name, dtype, device):
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.bool)):
        raise TypeError(f"{name} must be a float array/tensor; got dtype {t.dtype}")
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, dim); got {tuple(t.shape)}")
    return t.to(dtype=dtype, device=device)


def _progress(progress, steps):
    if progress is None:  # auto: only on an interactive terminal and for long runs
        return sys.stderr.isatty() and steps >= 500
    return bool(progress)


def _adam(params, lr):
    """torch.optim.Adam(params, lr), in its fused implementation (one kernel for all parameters per step) where
    torch supports it for these parameters (float tensors on CPU or CUDA), else the default one.

    Same update rule and hyper-parameters; only the float rounding differs (another operation order). On one
    CPU thread the default per-parameter loop was ~30 % of a separable-critic MI step (bench/bench_mi.py).
    """
    params = list(params)
    # torch checks the devices only at the first step: decide here (real floating tensors on CPU or CUDA)
    if params and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError):  # an older torch without the fused CPU kernel refuses at construction
            pass
    return torch.optim.Adam(params, lr=lr)


def fit(critic, estimator, sampler: Callable, steps: int, lr: float = 5e-4, optimizer=None, progress=None,
        desc: str = "mi"):
    """The training loop: maximise estimator(critic(x, y), y).surrogate with Adam.

    sampler(step) -> (x, y) minibatch tensors, already on the critic's device. Returns the per-step reported
    values (numpy, shape (steps,)). The estimator's parameters (e.g. baselines) are trained too.
    optimizer: None = Adam(lr) over both (fused where torch supports it: same rule, see `_adam`), or your own.
    """
    params = list(critic.parameters()) + list(estimator.parameters())
    opt = optimizer if optimizer is not None else _adam(params, lr)
    hist = []
    it = range(steps)
    if _progress(progress, steps):
        from tqdm.auto import tqdm
        it = tqdm(it, desc=desc, leave=False)
    critic.train()
    for step in it:
        x, y = sampler(step)
        out = estimator(critic(x, y), y)
        opt.zero_grad(set_to_none=True)
        (-out.surrogate).backward()
        opt.step()
        hist.append(out.value.detach())  # stays on the device: no per-step synchronisation
    return torch.stack(hist).to("cpu", torch.float64).numpy() if hist else np.zeros(0)


def _split(n, eval_fraction, gen, min_eval):
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must lie in (0, 1); got {eval_fraction}")
    perm = torch.randperm(n, generator=gen)
    n_eval = int(round(n * eval_fraction))
    if n_eval < min_eval or n - n_eval < min_eval:
        raise ValueError(f"too few samples: n = {n} with eval_fraction = {eval_fraction} leaves "
                         f"{n - n_eval} for training and {n_eval} held out; each needs >= {min_eval}")
    return perm[: n - n_eval], perm[n - n_eval:]


@contextlib.contextmanager
def _seeded_init(seed):
    """Seed torch's global RNG for weight initialisation inside the block, restoring the caller's state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def estimate(x, y, estimator="smile", critic="separable", steps=2000, batch_size=64, lr=5e-4, seed=0,
             device="cpu", eval_fraction=0.2, progress=None, critic_kwargs=None, estimator_kwargs=None,
             dtype=torch.float32) -> MIResult:
    """Estimate I(X; Y) in nats from paired samples by training a critic.

    Args:
      x, y: paired samples, shapes (n, dx) and (n, dy) (1-D allowed), numpy or torch.
      estimator: a name in `divkit.mi.ESTIMATORS` ("smile" by default: τ = 5, low variance) or an Estimator.
      critic: "separable", "concat" or an nn.Module mapping (K, dx), (K, dy) -> (K, K) scores.
      steps, batch_size (K), lr (Adam), seed (shuffling, minibatches, initialisation), device ("cpu", "cuda").
      eval_fraction: share of the samples held out for the reported value (see the module docstring).
      progress: None = tqdm bar only on a TTY for ≥ 500 steps; True/False forces it.
    Returns: MIResult(value, stderr, history, ...).
    """
    gen = torch.Generator().manual_seed(int(seed))
    dev = torch.device(device)
    X, Y = _as_2d(x, "x", dtype, "cpu"), _as_2d(y, "y", dtype, "cpu")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"x and y must hold the same number of pairs; got {X.shape[0]} and {Y.shape[0]}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (off-diagonal pairs are the product of marginals); got {batch_size}")
    tr, ev = _split(X.shape[0], eval_fraction, gen, batch_size)
    Xtr, Ytr, Xev, Yev = X[tr].to(dev), Y[tr].to(dev), X[ev].to(dev), Y[ev].to(dev)
    with _seeded_init(seed):  # critic (and estimator) initialisation, without touching the caller's RNG
        crit = make_critic(critic, X.shape[1], Y.shape[1], **(critic_kwargs or {})).to(device=dev, dtype=dtype)
        est = make_estimator(estimator, y_dim=Y.shape[1], **(estimator_kwargs or {})).to(device=dev)
    est = est.to(dtype=dtype) if any(True for _ in est.parameters()) else est
    ntr = Xtr.shape[0]

    def sampler(step):
        idx = torch.randint(ntr, (batch_size,), generator=gen).to(dev)
        return Xtr[idx], Ytr[idx]

    hist = fit(crit, est, sampler, int(steps), lr=lr, progress=progress, desc=f"mi[{getattr(est, 'name', 'est')}]")
    crit.eval()
    vals = []
    with torch.no_grad():
        for i in range(Xev.shape[0] // batch_size):
            sl = slice(i * batch_size, (i + 1) * batch_size)
            vals.append(float(est.evaluate(crit(Xev[sl], Yev[sl]), Yev[sl])))
    v = np.asarray(vals)
    stderr = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return MIResult(float(v.mean()), stderr, hist, getattr(est, "name", str(estimator)), len(v), crit)


def estimate_divergence(samples_p, samples_q, div, critic=None, steps=1000, batch_size=256, lr=1e-3, seed=0,
                        device="cpu", eval_fraction=0.2, hidden=64, layers=2, progress=None,
                        dtype=torch.float32) -> DivergenceResult:
    """A lower bound on D_f(P‖Q), with its stderr, from two sample sets (f-GAN variational bound).

    Trains a critic v(x) (an MLP with `hidden` units and `layers` hidden layers unless `critic` is a module
    mapping (n, d) -> (n,) or (n, 1)) to maximise mean_P g_f(v) − mean_Q f*(g_f(v))
    (`divkit.bounds.fdiv_lower_bound`, fused stable terms), then evaluates that bound on held-out samples.
    For "gan" the bound is on 2·JS − log 4.

    Args:
      samples_p, samples_q: (n_p, d) and (n_q, d) (1-D allowed), numpy or torch.
      div: an FDivergence or a name (`divkit.names()`).
    Returns: DivergenceResult(value, stderr, history, divergence, critic).
    """
    d = get(div)
    gen = torch.Generator().manual_seed(int(seed))
    dev = torch.device(device)
    P, Q = _as_2d(samples_p, "samples_p", dtype, "cpu"), _as_2d(samples_q, "samples_q", dtype, "cpu")
    if P.shape[1] != Q.shape[1]:
        raise ValueError(f"samples_p and samples_q must have the same dimension; got {P.shape[1]} and {Q.shape[1]}")
    trp, evp = _split(P.shape[0], eval_fraction, gen, 2)
    trq, evq = _split(Q.shape[0], eval_fraction, gen, 2)
    Ptr, Qtr, Pev, Qev = P[trp].to(dev), Q[trq].to(dev), P[evp].to(dev), Q[evq].to(dev)
    with _seeded_init(seed):
        net = critic if critic is not None else mlp(P.shape[1], 1, hidden, layers)
    net = net.to(device=dev, dtype=dtype)
    v = lambda z: net(z).reshape(z.shape[0])
    opt = _adam(net.parameters(), lr)
    bp, bq = min(batch_size, Ptr.shape[0]), min(batch_size, Qtr.shape[0])
    hist = torch.empty(int(steps))
    it = range(int(steps))
    if _progress(progress, int(steps)):
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"D_{d.name}", leave=False)
    for step in it:
        xp = Ptr[torch.randint(Ptr.shape[0], (bp,), generator=gen).to(dev)]
        xq = Qtr[torch.randint(Qtr.shape[0], (bq,), generator=gen).to(dev)]
        bound = B.fdiv_lower_bound(d, v(xp), v(xq))
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        hist[step] = bound.detach().cpu()
    with torch.no_grad():
        tp = d.p_term(v(Pev)).double()
        tq = d.q_term(v(Qev)).double()
    value = float(tp.mean() - tq.mean())
    stderr = float(math.sqrt(tp.var().item() / tp.numel() + tq.var().item() / tq.numel()))
    return DivergenceResult(value, stderr, hist.numpy(), d.name, net)
