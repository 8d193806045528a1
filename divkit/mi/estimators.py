"""MI estimators for training: each maps a score matrix to (reported value, training surrogate).

An estimator is an `nn.Module` (some own parameters: the TUBA / I_α baseline network; MINE owns a moving
average). ``est(scores, y)`` returns `EstimatorOutput(value, surrogate)`: *maximise* `surrogate`; report
`value` (detached, nats). For the stop-gradient bounds of `divkit.bounds` (JS, SMILE) the surrogate's value
already equals the reported value; for MINE they differ, and the surrogate must never be reported (it has
no log: with rate 1 it equals mean(diag) − 1). ``est.evaluate(scores, y)`` gives the value without touching
any state (held-out evaluation).

Names (see `ESTIMATORS`, built by the `FACTORIES` table): dv, mine, mine_f (= nwj), nwj, infonce, js (the papers'
JS estimator: NWJ value at S), js_shifted (NWJ value at S + 1), smile, tuba, interpolated.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn

from .. import bounds as B
from .critics import mlp

__all__ = ["EstimatorOutput", "Estimator", "BoundEstimator", "MINE", "BaselineEstimator", "make_estimator",
           "ESTIMATORS", "FACTORIES"]


class EstimatorOutput(NamedTuple):
    value: torch.Tensor      # reported estimate (nats), detached
    surrogate: torch.Tensor  # objective to maximise (carries the gradient)


class Estimator(nn.Module):
    name = "estimator"
    #: c such that log r(x, y) + c is the critic training converges to (r = p(x, y) / p(x)p(y)): 0 for the
    #: shift-invariant DV / MINE / InfoNCE / SMILE and for js (trained by the JS objective, whose optimum is the
    #: log ratio), 1 for NWJ; None where the optimum depends on a learned part (TUBA's baseline). Used to score
    #: the closed-form Gaussian critic beside a trained one (`divkit.mi.baseline`).
    critic_shift: float | None = 0.0

    def forward(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> EstimatorOutput:  # pragma: no cover - interface
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Reported value on a (held-out) batch; no state is updated."""
        raise NotImplementedError

    def diagnose(self, scores: torch.Tensor) -> str | None:
        """A message when held-out scores (..., K, M) show the value to be unreliable; None (default) otherwise."""
        return None


class BoundEstimator(Estimator):
    """A stateless bound of `divkit.bounds`: surrogate = bound(scores) (its stop-gradient tricks included)."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor],
                 diagnose: Callable[[torch.Tensor], str | None] | None = None, critic_shift: float = 0.0) -> None:
        super().__init__()
        self.name, self._fn, self._diagnose = name, fn, diagnose
        self.critic_shift = float(critic_shift)

    def diagnose(self, scores: torch.Tensor) -> str | None:
        """A warning message (str) when the held-out score matrices `scores` (..., K, M) show that the reported
        value is unreliable for a reason the estimator knows (SMILE: clipping moves it; InfoNCE: it sits at
        its log M cap), else None."""
        return self._diagnose(scores) if self._diagnose is not None else None

    def forward(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> EstimatorOutput:
        s = self._fn(scores)
        return EstimatorOutput(s.detach(), s)

    @torch.no_grad()
    def evaluate(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._fn(scores)


class MINE(Estimator):
    """MINE (Belghazi et al. 2018, Algorithm 1 and §3.2): DV bound with a bias-corrected gradient.

    The minibatch DV gradient ∇[mean_P T − log mean_Q e^T] = mean_P ∇T − mean_Q[e^T ∇T] / mean_Q e^T is biased
    because of the ratio. MINE replaces the denominator by a moving average m of mean_Q e^T:

        log m ← logaddexp(log(1 − r) + log m, log r + logmeanexp_Q(T))   (log space; the first batch initialises m)
        surrogate = mean_P T − mean_Q e^{T − log m}       (m detached; its gradient is the corrected one)
        value     = mean_P T − logmeanexp_Q(T)            (the DV bound; what is reported)

    With r = 1, m is the current batch's mean and the surrogate's gradient equals the plain DV gradient
    exactly. ``variant="f"`` is MINE-f: the f-divergence (NWJ) bound mean_P T − mean_Q e^{T−1}, for which
    surrogate and value coincide and no moving average is needed. Q-samples are the off-diagonal pairs.

    Args: rate r ∈ (0, 1] (Belghazi et al. use 0.01), variant "dv" or "f".
    """

    log_ma: torch.Tensor  # log of the moving average of mean_Q e^T (a buffer; nan until the first batch)

    def __init__(self, rate: float = 0.01, variant: str = "dv"):
        super().__init__()
        if not 0.0 < float(rate) <= 1.0:
            raise ValueError(f"rate must lie in (0, 1]; got {rate}")
        if variant not in ("dv", "f"):
            raise ValueError(f"variant must be 'dv' or 'f'; got {variant!r}")
        self.rate, self.variant = float(rate), variant
        self.name = "mine" if variant == "dv" else "mine_f"
        self.register_buffer("log_ma", torch.tensor(float("nan")))  # nan = not initialised

    def reset(self) -> None:
        self.log_ma = torch.tensor(float("nan"), device=self.log_ma.device)

    def forward(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> EstimatorOutput:
        if self.variant == "f":
            s = B.nwj(scores)
            return EstimatorOutput(s.detach(), s)
        lay = B._layout(scores, None)                           # K×M: column i of row i is the joint pair
        lme = B._logmeanexp_neg(scores, lay)                    # differentiable, logsumexp-based
        joint = B._mean_pos(scores, lay)
        with torch.no_grad():
            cur = lme.detach()
            if torch.isnan(self.log_ma) or self.rate == 1.0 or self.log_ma.device != cur.device:
                self.log_ma = cur.clone()  # (re)initialise in the scores' dtype and device
            else:
                self.log_ma = torch.logaddexp(self.log_ma.to(cur.dtype) + math.log1p(-self.rate), cur + math.log(self.rate))
        log_m = self.log_ma.to(scores.dtype)
        masked = (scores - log_m).masked_fill(lay.pos, -math.inf)  # e^{-inf} = 0 on the joint pairs, finite gradient
        surrogate = joint - torch.exp(masked).sum((-2, -1)) / lay.n_neg
        return EstimatorOutput((joint - lme).detach(), surrogate)

    @torch.no_grad()
    def evaluate(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return B.nwj(scores) if self.variant == "f" else B.dv(scores)


class BaselineEstimator(Estimator):
    """TUBA or I_α with a learned log-baseline b(y) = MLP(y) (Poole et al. 2019 §2.2-2.3)."""
    critic_shift = None   # the optimal critic depends on the learned baseline

    def __init__(self, kind: str, y_dim: int, alpha: float = 0.01, hidden: int = 256, layers: int = 2):
        super().__init__()
        if kind not in ("tuba", "interpolated"):
            raise ValueError(f"kind must be 'tuba' or 'interpolated'; got {kind!r}")
        self.name, self.alpha = kind, float(alpha)
        self.baseline = mlp(y_dim, 1, hidden, layers)

    def _bound(self, scores, y):
        if y is None:
            raise ValueError(f"estimator {self.name!r} needs y (its baseline is a function of y)")
        b = self.baseline(y).squeeze(-1)
        return B.tuba(scores, b) if self.name == "tuba" else B.interpolated(scores, b, self.alpha)

    def forward(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> EstimatorOutput:
        s = self._bound(scores, y)
        return EstimatorOutput(s.detach(), s)

    @torch.no_grad()
    def evaluate(self, scores: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._bound(scores, y)


def _bound_factory(name, fn, critic_shift=0.0):
    def factory(y_dim):
        return BoundEstimator(name, fn, critic_shift=critic_shift)
    return factory


def _mine(y_dim, *, rate=0.01):
    return MINE(rate, "dv")


def _smile(y_dim, *, clip=5.0):
    clip = B._check_clip(clip)          # a bad τ fails here, not at the first training step
    return BoundEstimator("smile", lambda s: B.smile(s, clip), diagnose=lambda s: _clip_diagnosis(s, clip))


def _mean_se(v):
    v = v.double().reshape(-1)
    return float(v.mean()), (float(v.std() / math.sqrt(v.numel())) if v.numel() > 1 else math.nan)


def _clip_diagnosis(scores, clip):
    """SMILE's value is a DV value only where clipping changes nothing; DV ≤ I holds for any critic (population),
    the clipped value does not. When clipping moves the held-out value by more than max(3σ, 0.25 nats) the
    number is the clipping's, not the data's."""
    if clip is None:
        return None
    v, se = _mean_se(B.smile(scores, clip))
    d, sd = _mean_se(B.dv(scores))
    frac = float((scores.abs() > clip).double().mean())
    if abs(v - d) > max(3 * math.hypot(se, sd), 0.25):
        return (f"SMILE's clipping moves the held-out value: {v:.3f} ± {se:.3f} at τ = {clip:g} against the unclipped "
                f"DV value {d:.3f} ± {sd:.3f} of the same critic ({100 * frac:.0f} % of the scores lie beyond ±τ); "
                f"the SMILE value is then not a bound and can sit far from the truth either way. Use more data, a "
                f"lower bound (estimator='nwj' or 'infonce', reported with its cap), or compare τ values")
    return None


def _cap_diagnosis(scores):
    """InfoNCE ≤ log M: a held-out value within 0.5 nats of the cap says the truth may be far above it."""
    v, _ = _mean_se(B.infonce(scores))
    cap = math.log(scores.shape[-1])
    if v > cap - 0.5:
        return (f"InfoNCE reads {v:.3f}, within 0.5 nats of its cap log M = {cap:.3f}: the true MI may be much "
                f"larger; use more negatives per row (a larger batch) or another estimator")
    return None


def _tuba(y_dim, *, hidden=256, layers=2):
    return BaselineEstimator("tuba", _need_y_dim(y_dim, "tuba"), hidden=hidden, layers=layers)


def _interpolated(y_dim, *, alpha=0.01, hidden=256, layers=2):
    alpha = B._real(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1]; got {alpha}")
    return BaselineEstimator("interpolated", _need_y_dim(y_dim, "interpolated"), alpha=alpha, hidden=hidden,
                             layers=layers)


def _need_y_dim(y_dim, name):
    if y_dim is None:
        raise ValueError(f"estimator {name!r} needs y_dim for its baseline network")
    return y_dim


#: name -> factory(y_dim, **options); the options a factory takes are its keyword-only parameters
FACTORIES = {
    "dv": _bound_factory("dv", B.dv),
    "mine": _mine,
    "mine_f": _bound_factory("mine_f", B.nwj, critic_shift=1.0),
    "nwj": _bound_factory("nwj", B.nwj, critic_shift=1.0),
    "infonce": lambda y_dim: BoundEstimator("infonce", B.infonce, diagnose=_cap_diagnosis),
    "js": _bound_factory("js", B.js),
    "js_shifted": _bound_factory("js_shifted", B.js_shifted),
    "smile": _smile,
    "tuba": _tuba,
    "interpolated": _interpolated,
}
ESTIMATORS = tuple(FACTORIES)


def _options(factory):
    return [p.name for p in inspect.signature(factory).parameters.values() if p.kind is p.KEYWORD_ONLY]


def make_estimator(estimator: str | Estimator, y_dim: int | None = None, **kwargs: Any) -> Estimator:
    """An estimator from a name in `ESTIMATORS` or an `Estimator` (returned unchanged; then no options).

    Options per name (anything else is a ValueError naming the accepted ones): mine: rate (0.01);
    smile: clip (τ, 5); interpolated: alpha (0.01), hidden, layers; tuba: hidden (256), layers (2); the others
    none. tuba and interpolated need y_dim (their baseline network's input).
    """
    if isinstance(estimator, Estimator):
        if kwargs:
            raise ValueError(f"options {sorted(kwargs)} apply to an estimator built by name; got an Estimator "
                             f"instance ({type(estimator).__name__}): configure it when you construct it")
        return estimator
    if not isinstance(estimator, str):
        raise TypeError(f"estimator must be a name {list(ESTIMATORS)} or an Estimator; got {type(estimator).__name__}")
    key = estimator.lower().replace("-", "_")
    if key not in FACTORIES:
        raise ValueError(f"unknown estimator {estimator!r}; known: {list(ESTIMATORS)}")
    factory = FACTORIES[key]
    accepted = _options(factory)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"estimator {key!r} takes the options {accepted or 'none'}; got unknown {unknown}")
    return factory(y_dim, **kwargs)
