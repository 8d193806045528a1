"""Train a critic and report a variational estimate: `estimate` (MI) and `estimate_divergence` (any D_f).

Held-out model selection (both functions). The samples are shuffled with `seed` and split three ways:
  * train (1 − val_fraction − test_fraction, default 60 %): the only data the critic is fitted to;
  * validation (val_fraction, default 20 %): every `eval_every` steps the current critic's bound is evaluated on
    it; the critic with the best validation bound is kept (and, with `patience`, training stops after that many
    evaluations without improvement);
  * test (test_fraction, default 20 %): touched once, by the selected critic, for the reported value. The best
    validation value is biased upward by the selection (a maximum over checkpoints of noisy estimates); the test
    split played no part in the selection, so the reported value is an unbiased estimate of the selected
    critic's bound, and a lower bound on the truth in expectation where the estimator is one.
Evaluation of `estimate`: the critic scores disjoint minibatches of the training size K (the minibatch bias of
DV/InfoNCE/SMILE depends on K, so K is kept), the estimator's reported bound is computed on each, and
value = mean over batches, stderr = std / sqrt(n_batches) (batches are independent). `estimate_divergence`:
value = mean_{P} g_f(v) − mean_{Q} f*(g_f(v)) on the held-out sets, stderr = sqrt(Var_P/n_P + Var_Q/n_Q).
A one-sided check of a lower bound is value ≤ truth + z·stderr.

Overfitting check: the selected critic is also evaluated on as many training batches; if the training value
exceeds the test value by more than max(3·σ_gap, 0.1 nats), an `OverfitWarning` names the gap and what to do
(more data, fewer steps, a smaller critic) and the result carries it (`result.warning`). A run whose training
or validation value becomes non-finite stops: the best finite checkpoint is kept and flagged
(`result.diverged_step`, a `DivergedWarning`); with none, `FloatingPointError` is raised. Never −inf with a
NaN stderr. A `ConvergenceWarning` says the validation bound was still rising at the end (more steps needed).
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import bounds as B
from ..catalog import get
from .critics import make_critic, mlp
from .estimators import make_estimator

if TYPE_CHECKING:
    from .._typing import Array
    from ..fdiv import FDivergence
    from .estimators import Estimator

__all__ = ["MIResult", "DivergenceResult", "OverfitWarning", "BiasWarning", "ConvergenceWarning",
           "DivergedWarning", "WeakCriticWarning", "fit", "estimate",
           "estimate_divergence"]


class OverfitWarning(UserWarning):
    """The training estimate exceeds the held-out one beyond their standard errors: the critic overfits."""


class BiasWarning(UserWarning):
    """The estimator's own check of the held-out scores says its value is unreliable (SMILE's clipping moves it,
    InfoNCE sits at its log M cap)."""


class ConvergenceWarning(UserWarning):
    """The validation bound was still rising when training ended: more steps would change the value."""


class DivergedWarning(UserWarning):
    """Training became non-finite; the best finite checkpoint was kept."""


class WeakCriticWarning(UserWarning):
    """A closed-form Gaussian critic fitted to the training split (`divkit.mi.baseline.GaussianCritic`) scores
    clearly higher than the trained critic with the same estimator on the same held-out minibatches: the
    trained critic is far from the optimum of its own bound, so its value underestimates what the bound reaches."""


@dataclass(kw_only=True)
class _Selection:
    """The curves and decisions of held-out model selection (fields shared by both result types)."""
    validation: np.ndarray = field(default_factory=lambda: np.zeros(0))        # validation bound at each evaluation
    validation_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # steps done at each
    best_step: int = 0                 # steps done when the selected critic was saved
    stopped_step: int = 0              # steps actually run (< steps after early stopping or divergence)
    diverged_step: int | None = None   # first step whose value was non-finite, or None
    train_value: float = math.nan      # the selected critic's bound on training data (same evaluation)
    train_stderr: float = math.nan
    warning: str | None = None         # the overfitting / divergence message, if any


@dataclass
class MIResult(_Selection):
    """value, stderr: nats, held-out (test split, selected critic); history: per-step training estimates (nats),
    shape (stopped_step,); validation / validation_steps: the validation curve; see the module docstring."""
    value: float = math.nan
    stderr: float = math.nan
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    estimator: str = ""
    n_eval_batches: int = 0
    critic: torch.nn.Module = field(repr=False, default=None)
    baseline_value: float | None = None   # the same bound with the fitted GaussianCritic, same test batches
    baseline_stderr: float | None = None  # (None where it could not be fitted: n_train < 2·(dx + dy) + 10)

    def __float__(self):
        return float(self.value)


@dataclass
class DivergenceResult(_Selection):
    """A lower bound on D_f(P‖Q) (nats, test split, selected critic) with its stderr; history: per-step training
    bound values; validation curve and selection fields as `MIResult`."""
    value: float = math.nan
    stderr: float = math.nan
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    divergence: str = ""
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
    t = t.to(dtype=dtype, device=device)
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).any(-1).sum())
        raise ValueError(f"{name} holds NaN or inf in {bad} of its {t.shape[0]} rows; remove or impute them first")
    return t


def _positive_int(v, name, minimum=1):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {v!r}")
    return int(v)


def _positive_float(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
    return float(v)


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


def fit(critic: torch.nn.Module, estimator: Estimator, sampler: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
        steps: int, lr: float = 5e-4, optimizer: torch.optim.Optimizer | None = None, progress: bool | None = None,
        desc: str = "mi") -> np.ndarray:
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


def _split3(n, val_fraction, test_fraction, gen, min_val, min_test, what="samples"):
    """A seeded permutation of range(n) cut into (train, validation, test) index tensors."""
    for v, name in ((val_fraction, "val_fraction"), (test_fraction, "test_fraction")):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 < v < 1.0:
            raise ValueError(f"{name} must lie in (0, 1); got {v!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1 (the rest trains); got {val_fraction} + {test_fraction}")
    perm = torch.randperm(n, generator=gen)
    n_val, n_test = int(round(n * val_fraction)), int(round(n * test_fraction))
    n_tr = n - n_val - n_test
    if n_val < min_val or n_test < min_test or n_tr < min_val:
        raise ValueError(f"too few {what}: n = {n} split {n_tr} train / {n_val} validation / {n_test} test "
                         f"(val_fraction = {val_fraction}, test_fraction = {test_fraction}); training and validation "
                         f"need >= {min_val} each, test >= {min_test}")
    return perm[:n_tr], perm[n_tr:n_tr + n_val], perm[n_tr + n_val:]


def _select(step_fn, val_fn, modules, steps, eval_every, patience, progress, desc):
    """Train with held-out model selection; returns (history, _Selection fields as a dict).

    step_fn(step) -> the step's training value (a 0-d tensor); val_fn() -> float validation bound; modules: the
    nn.Modules whose state is the model (restored to the best-validation state at the end).
    """
    hist = torch.empty(steps, dtype=torch.float64)
    vals, val_steps = [], []
    best, best_state, best_step, since_best = -math.inf, None, 0, 0
    diverged, done = None, 0
    bar = None
    if _progress(progress, steps):
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=desc, leave=False)
    while done < steps:
        n = min(eval_every, steps - done)
        for i in range(done, done + n):
            hist[i] = step_fn(i).detach().to("cpu", torch.float64)
        chunk = hist[done:done + n]
        done += n
        finite_chunk = bool(torch.isfinite(chunk).all())
        v = val_fn() if finite_chunk else math.nan
        vals.append(v)
        val_steps.append(done)
        if not (finite_chunk and math.isfinite(v)):
            bad = torch.nonzero(~torch.isfinite(chunk))
            diverged = int(done - n + bad[0, 0]) if len(bad) else done - 1
            break
        if v > best:
            best, best_step, since_best = v, done, 0
            best_state = [copy.deepcopy(m.state_dict()) for m in modules]
        else:
            since_best += 1
        if bar is not None:
            bar.update(n)
            bar.set_postfix(train=f"{float(chunk[-min(n, 50):].mean()):.3f}", val=f"{v:.3f}",
                            best=f"{best:.3f}@{best_step}")
        if patience is not None and since_best >= patience:
            break
    if bar is not None:
        bar.close()
    if best_state is None:
        raise FloatingPointError(
            f"training diverged at step {diverged} (a non-finite training or validation value) before the first "
            f"evaluation at step {min(eval_every, steps)}: lower lr, or evaluate sooner (eval_every)")
    for m, s in zip(modules, best_state):
        m.load_state_dict(s)
    stopped = diverged + 1 if diverged is not None else done
    return hist[:stopped].numpy(), dict(validation=np.asarray(vals), validation_steps=np.asarray(val_steps, dtype=int),
                                        best_step=best_step, stopped_step=stopped, diverged_step=diverged)


def _mean_se(v):
    v = np.asarray(v, dtype=np.float64)
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan)


def _still_rising(sel, stderr):
    """The ConvergenceWarning message when the validation bound still rose at the end of a full-length run: the
    best evaluation is one of the last two and the last 30 % of the steps added more than max(3·√2·σ, 0.05)
    nats (σ = the held-out stderr, a proxy for the validation noise), else None."""
    v, steps = sel["validation"], sel["validation_steps"]
    if len(v) < 4 or sel["diverged_step"] is not None or sel["best_step"] < steps[-2]:
        return None
    ref = v[max(0, int(round(0.7 * len(v))) - 1)]
    rise = float(v[-1] - ref)
    if rise > max(3 * math.sqrt(2) * stderr, 0.05):
        return (f"the validation bound was still rising when training ended: +{rise:.3f} nats over the last 30 % of "
                f"the {steps[-1]} steps (best at the last evaluations): the critic has not converged and the value is "
                f"likely an underestimate of what this estimator reaches; use more steps")
    return None


def _check_gap(sel, value, stderr, n_train, kind, diagnosis=None, convergence=True, weak=None):
    """Warn (and record) when the training value exceeds the held-out one beyond max(3σ, 0.1 nats), when
    training diverged, when the validation bound was still rising at the end (`convergence`; a
    ConvergenceWarning), and with the estimator's own `diagnosis` of the held-out scores (a BiasWarning)."""
    msgs = [(BiasWarning, diagnosis)] if diagnosis else []
    rising = _still_rising(sel, stderr) if convergence else None
    if rising:
        msgs.append((ConvergenceWarning, rising))
    if weak:
        msgs.append((WeakCriticWarning, weak))
    if sel["diverged_step"] is not None:
        msgs.append((DivergedWarning,
                     f"training became non-finite at step {sel['diverged_step']}; stopped there and kept the critic "
                     f"of step {sel['best_step']} (best validation value): lower lr for a complete run"))
    gap = sel["train_value"] - value
    sigma = math.hypot(sel["train_stderr"], stderr)
    if math.isfinite(gap) and gap > max(3.0 * sigma, 0.1):
        msgs.append((OverfitWarning,
                     f"the {kind} on training data is {sel['train_value']:.3f} ± {sel['train_stderr']:.3f} but "
                     f"{value:.3f} ± {stderr:.3f} held out: a gap of {gap:.3f} nats (> max(3σ = {3 * sigma:.3f}, 0.1)); "
                     f"the critic overfits its {n_train} training samples. Report the held-out value, and use more "
                     f"data, fewer steps (or patience=…), or a smaller critic (critic_kwargs=dict(hidden=…, layers=…))"))
    for cls, msg in msgs:
        warnings.warn(msg, cls, stacklevel=3)
    sel["warning"] = " | ".join(m for _, m in msgs) or None
    return sel


@contextlib.contextmanager
def _seeded_init(seed):
    """Seed torch's global RNG for weight initialisation inside the block, restoring the caller's state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def _check_common(steps, batch_size, lr, eval_every, patience, seed):
    steps = _positive_int(steps, "steps")
    batch_size = _positive_int(batch_size, "batch_size", 2)
    lr = _positive_float(lr, "lr")
    eval_every = steps if eval_every is None else _positive_int(eval_every, "eval_every")
    if patience is not None:
        patience = _positive_int(patience, "patience")
    _positive_int(seed, "seed", 0)
    return steps, batch_size, lr, eval_every, patience


def _default_eval_every(steps):
    return max(1, min(100, steps // 10))


def _prepare_pairs(x, y, steps, batch_size, lr, eval_every, patience, seed, max_val_batches, val_fraction,
                   test_fraction, device, dtype):
    """Validated arguments, the seeded generator, the device, X and Y, and the (train, validation, test) pairs on
    the device: the common front of `estimate` and `divkit.mi.upper.estimate_upper`."""
    steps, batch_size, lr, eval_every, patience = _check_common(
        steps, batch_size, lr, _default_eval_every(steps) if eval_every is None and isinstance(steps, int) else eval_every,
        patience, seed)
    max_val_batches = _positive_int(max_val_batches, "max_val_batches")
    gen = torch.Generator().manual_seed(int(seed))
    dev = torch.device(device)
    X, Y = _as_2d(x, "x", dtype, "cpu"), _as_2d(y, "y", dtype, "cpu")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"x and y must hold the same number of pairs; got {X.shape[0]} and {Y.shape[0]}")
    tr, va, te = _split3(X.shape[0], val_fraction, test_fraction, gen, batch_size, 2 * batch_size, "pairs")
    splits = tuple(t[i].to(dev) for i in (tr, va, te) for t in (X, Y))
    return steps, batch_size, lr, eval_every, patience, max_val_batches, gen, dev, X, Y, splits


def estimate(x: Array, y: Array, estimator: str | Estimator = "smile", critic: str | torch.nn.Module = "separable",
             steps: int = 2000, batch_size: int = 64, lr: float = 5e-4, seed: int = 0,
             device: str | torch.device = "cpu", val_fraction: float = 0.2, test_fraction: float = 0.2,
             eval_every: int | None = None, patience: int | None = None, max_val_batches: int = 32,
             progress: bool | None = None, critic_kwargs: dict[str, Any] | None = None,
             estimator_kwargs: dict[str, Any] | None = None, dtype: torch.dtype = torch.float32,
             eval_fraction: float | None = None, negatives: int = 0) -> MIResult:
    """Estimate I(X; Y) in nats from paired samples by training a critic, with held-out model selection.

    Args:
      x, y: paired samples, shapes (n, dx) and (n, dy) (1-D allowed), numpy or torch; finite.
      estimator: a name in `divkit.mi.ESTIMATORS` ("smile" by default: τ = 5, low variance) or an Estimator.
      critic: "separable", "concat" or an nn.Module mapping (K, dx), (K, dy) -> (K, K) scores.
      steps (≥ 1), batch_size (K ≥ 2), lr (Adam, > 0), seed (shuffling, minibatches, initialisation),
      device ("cpu", "cuda").
      val_fraction, test_fraction: shares held out for model selection and for the reported value (module
        docstring); eval_fraction: the old name of test_fraction.
      eval_every: steps between validation evaluations (default min(100, steps // 10)); patience: stop after
        that many evaluations without a better validation value (None: run all steps, keep the best);
        max_val_batches: validation minibatches per evaluation (a fixed subset; bounds its cost at large n).
      progress: None = tqdm bar (train and validation values) only on a TTY for ≥ 500 steps; True/False forces it.
      negatives: extra y's per minibatch (default 0): scores become K × (K + negatives), each x_i against its
        own y_i and K − 1 + negatives others (training: drawn from the training split; held out: the next y's
        of the same split), so InfoNCE's cap is log(K + negatives). Not for "interpolated" (square only).
    Returns: MIResult(value, stderr, history, ..., validation, best_step, train_value, warning).
    Warns: OverfitWarning (training ≫ held-out), DivergedWarning. Raises FloatingPointError when training
    diverges before any finite evaluation.
    """
    if eval_fraction is not None:
        test_fraction = eval_fraction
    (steps, batch_size, lr, eval_every, patience, max_val_batches, gen, dev, X, Y,
     (Xtr, Ytr, Xva, Yva, Xte, Yte)) = _prepare_pairs(x, y, steps, batch_size, lr, eval_every, patience, seed,
                                                      max_val_batches, val_fraction, test_fraction, device, dtype)
    with _seeded_init(seed):  # critic (and estimator) initialisation, without touching the caller's RNG
        crit = make_critic(critic, X.shape[1], Y.shape[1], **(critic_kwargs or {})).to(device=dev, dtype=dtype)
        est = make_estimator(estimator, y_dim=Y.shape[1], **(estimator_kwargs or {})).to(device=dev)
    est = est.to(dtype=dtype) if any(True for _ in est.parameters()) else est
    negatives = _positive_int(negatives, "negatives", 0)
    if negatives and getattr(est, "name", "") == "interpolated":
        raise ValueError("negatives > 0 needs a bound that takes K×M scores; 'interpolated' is square only")
    if negatives >= Xte.shape[0] - batch_size:
        raise ValueError(f"negatives = {negatives} needs more held-out pairs than the {Xte.shape[0]} of the test "
                         f"split minus the batch (K = {batch_size})")
    ntr = Xtr.shape[0]
    opt = _adam(list(crit.parameters()) + list(est.parameters()), lr)

    def step_fn(step):
        idx = torch.randint(ntr, (batch_size,), generator=gen).to(dev)
        xb, yb = Xtr[idx], Ytr[idx]
        if negatives:
            yb = torch.cat([yb, Ytr[torch.randint(ntr, (negatives,), generator=gen).to(dev)]])
        crit.train()
        out = est(crit(xb, yb), yb)
        opt.zero_grad(set_to_none=True)
        (-out.surrogate).backward()
        opt.step()
        return out.value

    def batches(Xs, Ys, limit=None, keep=None, model=None):
        model = crit if model is None else model
        n = Xs.shape[0] // batch_size
        model.eval()
        vals = []
        with torch.no_grad():
            for i in range(n if limit is None else min(n, limit)):
                sl = slice(i * batch_size, (i + 1) * batch_size)
                ys = Ys[sl] if not negatives else \
                    torch.cat([Ys[sl], Ys[(sl.stop + torch.arange(negatives, device=dev)) % Ys.shape[0]]])
                s = model(Xs[sl], ys)
                vals.append(float(est.evaluate(s, ys)))
                if keep is not None:
                    keep.append(s)
        return vals

    name = getattr(est, "name", str(estimator))
    hist, sel = _select(lambda i: step_fn(i), lambda: float(np.mean(batches(Xva, Yva, max_val_batches))),
                        [crit, est], steps, eval_every, patience, progress, f"mi[{name}]")
    test_scores: list = []
    test_vals = batches(Xte, Yte, keep=test_scores)
    value, stderr = _mean_se(test_vals)
    if not (math.isfinite(value) and math.isfinite(stderr)):
        raise FloatingPointError(f"the selected critic (step {sel['best_step']}) gives a non-finite held-out value "
                                 f"{value} ± {stderr}: training diverged; lower lr")
    sel["train_value"], sel["train_stderr"] = _mean_se(batches(Xtr, Ytr, len(test_vals)))
    diagnosis = est.diagnose(torch.stack(test_scores)) if hasattr(est, "diagnose") else None
    base_value, base_stderr, weak = _gaussian_baseline(batches, Xtr, Ytr, Xte, Yte, test_vals, est, name)
    sel = _check_gap(sel, value, stderr, ntr, f"{name} estimate", diagnosis, weak=weak)
    return MIResult(value=value, stderr=stderr, history=hist, estimator=name, n_eval_batches=len(test_vals),
                    critic=crit, baseline_value=base_value, baseline_stderr=base_stderr, **sel)


def _gaussian_baseline(batches, Xtr, Ytr, Xte, Yte, test_vals, est, name):
    """(value, stderr, WeakCriticWarning message or None) of the estimator with the fitted GaussianCritic.

    The Gaussian critic is shifted by the estimator's `critic_shift` (the optimum of its bound is log r + that);
    its value on the test batches is compared with the trained critic's batch by batch (paired: the same
    minibatches, so the batch-to-batch noise cancels). The warning fires when the Gaussian critic is higher by
    more than max(3·stderr of the paired difference, 0.05 nats). Skipped (None, None, None) for estimators whose
    optimal critic depends on a learned part (critic_shift None), when n_train < 2·(dx + dy) + 10 (the covariance
    is too noisy to fit), or when its values are not finite (e.g. degenerate data, an infinite Gaussian MI)."""
    from .baseline import GaussianCritic
    shift = getattr(est, "critic_shift", None)
    if shift is None or Xtr.shape[0] < 2 * (Xtr.shape[1] + Ytr.shape[1]) + 10:
        return None, None, None
    try:
        g = GaussianCritic.fit(Xtr, Ytr)
    except (RuntimeError, ValueError):     # torch.linalg errors on a singular covariance are RuntimeErrors
        return None, None, None
    if not math.isfinite(g.gaussian_mi):
        return None, None, None
    g.shift = float(shift)
    base = np.asarray(batches(Xte, Yte, model=g), dtype=np.float64)
    if not np.all(np.isfinite(base)):
        return None, None, None
    value, stderr = _mean_se(base)
    diff, diff_se = _mean_se(base - np.asarray(test_vals, dtype=np.float64))
    weak = None
    if math.isfinite(diff_se) and diff > max(3.0 * diff_se, 0.05):
        weak = (f"a Gaussian critic fitted in closed form to the training split (divkit.mi.baseline.GaussianCritic) "
                f"gives {value:.3f} ± {stderr:.3f} with the same {name} bound on the same held-out minibatches, "
                f"{diff:.3f} ± {diff_se:.3f} nats above the trained critic: the trained critic is far from the "
                f"optimum of its bound and the value underestimates what the bound reaches. Train longer (steps=…), "
                f"try critic='concat' or a wider critic; result.baseline_value holds the Gaussian critic's value "
                f"(a lower bound too, in expectation, wherever the estimator is one)")
    return value, stderr, weak


def estimate_divergence(samples_p: Array, samples_q: Array, div: str | FDivergence,
                        critic: torch.nn.Module | None = None, steps: int = 1000, batch_size: int = 256,
                        lr: float = 1e-3, seed: int = 0, device: str | torch.device = "cpu",
                        val_fraction: float = 0.2, test_fraction: float = 0.2, eval_every: int | None = None,
                        patience: int | None = None, hidden: int = 64, layers: int = 2, progress: bool | None = None,
                        dtype: torch.dtype = torch.float32, eval_fraction: float | None = None) -> DivergenceResult:
    """A lower bound on D_f(P‖Q), with its stderr, from two sample sets (f-GAN variational bound), with held-out
    model selection (module docstring).

    Trains a critic v(x) (an MLP with `hidden` units and `layers` hidden layers unless `critic` is a module
    mapping (n, d) -> (n,) or (n, 1)) to maximise mean_P g_f(v) − mean_Q f*(g_f(v))
    (`divkit.bounds.fdiv_lower_bound`, fused stable terms), keeps the critic with the best validation bound and
    evaluates it on the test split. For "gan" the bound is on 2·JS − log 4.

    Args:
      samples_p, samples_q: (n_p, d) and (n_q, d) (1-D allowed), numpy or torch; finite.
      div: an FDivergence or a name (`divkit.names()`).
      steps, batch_size, lr, seed, val_fraction, test_fraction, eval_every, patience, progress: as `estimate`.
    Returns: DivergenceResult(value, stderr, history, divergence, critic, validation, ...).
    """
    d = get(div)
    if eval_fraction is not None:
        test_fraction = eval_fraction
    steps, batch_size, lr, eval_every, patience = _check_common(
        steps, batch_size, lr, _default_eval_every(steps) if eval_every is None and isinstance(steps, int) else eval_every,
        patience, seed)
    gen = torch.Generator().manual_seed(int(seed))
    dev = torch.device(device)
    P, Q = _as_2d(samples_p, "samples_p", dtype, "cpu"), _as_2d(samples_q, "samples_q", dtype, "cpu")
    if P.shape[1] != Q.shape[1]:
        raise ValueError(f"samples_p and samples_q must have the same dimension; got {P.shape[1]} and {Q.shape[1]}")
    trp, vap, tep = _split3(P.shape[0], val_fraction, test_fraction, gen, 2, 2, "samples_p")
    trq, vaq, teq = _split3(Q.shape[0], val_fraction, test_fraction, gen, 2, 2, "samples_q")
    Ptr, Qtr = P[trp].to(dev), Q[trq].to(dev)
    with _seeded_init(seed):
        net = critic if critic is not None else mlp(P.shape[1], 1, hidden, layers)
    net = net.to(device=dev, dtype=dtype)
    v = lambda z: net(z).reshape(z.shape[0])
    opt = _adam(net.parameters(), lr)
    bp, bq = min(batch_size, Ptr.shape[0]), min(batch_size, Qtr.shape[0])

    def step_fn(step):
        xp = Ptr[torch.randint(Ptr.shape[0], (bp,), generator=gen).to(dev)]
        xq = Qtr[torch.randint(Qtr.shape[0], (bq,), generator=gen).to(dev)]
        bound = B.fdiv_lower_bound(d, v(xp), v(xq))
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        return bound

    def held_out(ip, iq):
        with torch.no_grad():
            tp = d.p_term(v(P[ip].to(dev))).double()
            tq = d.q_term(v(Q[iq].to(dev))).double()
        return float(tp.mean() - tq.mean()), float(math.sqrt(tp.var().item() / tp.numel() + tq.var().item() / tq.numel()))

    hist, sel = _select(step_fn, lambda: held_out(vap, vaq)[0], [net], steps, eval_every, patience, progress,
                        f"D_{d.name}")
    value, stderr = held_out(tep, teq)
    if not (math.isfinite(value) and math.isfinite(stderr)):
        raise FloatingPointError(f"the selected critic (step {sel['best_step']}) gives a non-finite held-out bound "
                                 f"{value} ± {stderr}: training diverged; lower lr")
    sel["train_value"], sel["train_stderr"] = held_out(trp[:len(tep)], trq[:len(teq)])
    sel = _check_gap(sel, value, stderr, Ptr.shape[0], f"{d.name} bound")
    return DivergenceResult(value=value, stderr=stderr, history=hist, divergence=d.name, critic=net, **sel)
