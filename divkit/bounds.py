"""Variational lower bounds on f-divergences and on mutual information, as pure functions of critic outputs.

Two families:

* From raw critic outputs on samples of P and of Q (1-D arrays):
  `fdiv_lower_bound(div, v_p, v_q)` (f-GAN / VDM, Nguyen-Wainwright-Jordan 2010, Nowozin et al. 2016 eq. 6)
  and `dv_lower_bound(t_p, t_q)` (Donsker-Varadhan).
* From a critic score matrix ``scores[..., i, j] = T(x_i, y_j)`` of shape (..., K, M), M ≥ K: row i holds x_i
  against y_1..y_M; entry (i, i) is a joint pair (a sample of P_XY), the other entries pairs from the product
  of marginals P_X ⊗ P_Y ("negatives": M − 1 per row, K·M − K in all; the square K×K minibatch is M = K).
  A boolean ``joint_mask`` (True = joint pair, as TFP's ``tfp.vi.mutual_information`` bounds take it) lays
  out any other design. These are the mutual-information bounds of Poole et al. 2019, "On Variational Bounds
  of Mutual Information" (ICML), and Song & Ermon 2020, "Understanding the Limitations of Variational Mutual
  Information Estimators" (ICLR): `dv`, `nwj`, `infonce` (capped at log M), `js`, `js_shifted`, `tuba`,
  `interpolated` (square only), `smile`.

Conventions (every function):
  * numpy in -> numpy out (a 0-d array, or shape (...) for batched score matrices; numpy inputs are
    evaluated through torch in their own dtype, and gradient tricks are then irrelevant: value only);
    torch in -> torch out, same dtype and device, differentiable.
  * Each docstring states the reported value, the gradient it follows (any stop-gradient trick written
    out with ``sg(.)`` = stop-gradient) and whether the reported value is a lower bound in expectation.
  * Everything that exponentiates stays in log space (logsumexp with the joint pairs masked by -inf).

Extremes (the contract, tested against mpmath): where the exact bound is finite and representable in the
input dtype it is returned to rounding; the NWJ-type partition term E_Q[e^T] (in `nwj`, `js`, `js_shifted`,
`tuba`) is formed in float64 from one logsumexp and rounded once, so it is exact up to the point where it
overflows the dtype (no early cut). Beyond, a bound built from finite scores saturates at ∓finfo.max with a
finite gradient (the tangent of e^L at L = log finfo.max). Infinite scores give the limit where it exists (a
+inf negative: −inf; a lone +inf joint score: +inf, or row term 0 in InfoNCE) and −inf where the formula meets
∞ − ∞ (a valid, vacuous lower bound); NaN only from a NaN score.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from .catalog import get

if TYPE_CHECKING:
    from ._typing import Array
    from .fdiv import FDivergence

__all__ = ["fdiv_lower_bound", "dv_lower_bound", "dv", "nwj", "infonce", "js", "js_shifted", "tuba", "interpolated",
           "smile", "club", "loo_upper"]


# --------------------------------------------------------------------------------------------------------
# plumbing: numpy in -> numpy out, validation


def _to_torch(x, name):
    """(tensor, was_numpy). Python/numpy floats keep their dtype (float64 for Python scalars and ints)."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x, False
    try:
        a = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}") from e
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(a).reshape(a.shape)), True  # ascontiguousarray makes 0-d 1-d


def _out(t, was_numpy):
    return t.detach().cpu().numpy() if was_numpy else t


# --------------------------------------------------------------------------------------------------------
# bounds from critic outputs on two sample sets


def _pair_to_torch(a, b, name_a, name_b):
    """Two sample arrays as torch tensors of one dtype/device (a tensor among them sets both); non-empty."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ref = a if isinstance(a, torch.Tensor) else b
        ta, tb = (x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x), dtype=ref.dtype, device=ref.device)
                  for x in (a, b))
        was_numpy = False
    else:
        ta, was_numpy = _to_torch(a, name_a)
        tb, _ = _to_torch(b, name_b)
    if ta.numel() == 0 or tb.numel() == 0:
        raise ValueError(f"{name_a} and {name_b} must each hold at least one critic value")
    return ta, tb, was_numpy


def fdiv_lower_bound(div: FDivergence | str, v_p: Array, v_q: Array) -> Array:
    """Variational (f-GAN) lower bound on D_f(P‖Q) from raw critic outputs.

        L = mean_i g_f(v_p[i]) − mean_j f*(g_f(v_q[j]))   ≤ D_f(P‖Q)  in expectation,

    with g_f the f-GAN output activation of `div`; the fused, stable terms ``div.p_term`` = g_f and
    ``div.q_term`` = f*∘g_f are used (never conjugate(activation(v)) composed numerically). Tight when
    g_f(v) = f'(p/q) (Nguyen, Wainwright & Jordan 2010; Nowozin et al. 2016, eq. 6). For ``"gan"`` the bound
    is on 2·JS − log 4. Gradient: the plain gradient of L (no tricks).

    Args:
      div: an `FDivergence` or a registered name (see ``divkit.names()``).
      v_p: raw critic outputs on samples of P, shape (N,) (any shape: all entries are averaged).
      v_q: raw critic outputs on samples of Q, shape (M,).
    Returns: scalar; numpy 0-d array for numpy inputs, torch scalar for torch inputs.
    """
    d = get(div)
    tp, tq, was_numpy = _pair_to_torch(v_p, v_q, "v_p", "v_q")
    return _out(_finite_mean(d.p_term(tp)) - _finite_mean(d.q_term(tq)), was_numpy)


def _finite_mean(t):
    """t.mean(), or Σ (t/n) where the plain sum overflows although every term is finite (the fused terms are
    exact up to overflow and finfo.max beyond, so a few saturated terms sum past max; their mean does not)."""
    m = t.mean()
    return torch.where(torch.isfinite(m) | ~torch.isfinite(t).all(), m, (t / t.numel()).sum())


def dv_lower_bound(t_p: Array, t_q: Array) -> Array:
    """Donsker-Varadhan lower bound on KL(P‖Q) from critic values on samples of P and Q.

        L_DV = mean_i t_p[i] − log( 1/M Σ_j e^{t_q[j]} )      (logsumexp; never log(mean(exp)))

    The population version E_P[T] − log E_Q[e^T] ≤ KL(P‖Q) is tight at T = log(p/q) + c. The sample
    version is NOT a lower bound in expectation: by Jensen E[log mean e^T] ≤ log E[e^T], so the minibatch
    estimate is biased upward. Invariant to T → T + c. Gradient: the plain gradient of L_DV
    (the biased minibatch DV gradient that MINE corrects; see `divkit.mi.estimators.MINE`).

    Args: t_p shape (N,), t_q shape (M,) (all entries averaged). Returns: scalar.
    """
    tp, tq, was_numpy = _pair_to_torch(t_p, t_q, "t_p", "t_q")
    tq = tq.reshape(-1)
    val = tp.mean() - (torch.logsumexp(tq, dim=0) - math.log(tq.numel()))
    return _out(val, was_numpy)


# --------------------------------------------------------------------------------------------------------
# mutual-information bounds from a score matrix: layout (which entries are joint pairs), extremes


@functools.lru_cache(maxsize=64)
def _eye(k, m, device):
    # cached: rebuilding the mask every training step is measurable overhead for small critics
    return torch.eye(k, m, dtype=torch.bool, device=device)


class _Layout(NamedTuple):
    """Which score entries are joint pairs (`pos`, bool (..., K, M)) and how many of each kind (ints or tensors)."""
    pos: torch.Tensor
    n_pos: object
    n_neg: object


def _layout(s, joint_mask, *, one_per_row=False):
    """The joint-pair mask of a (..., K, M) score matrix: eye(K, M) by default (needs M ≥ K), else `joint_mask`.

    joint_mask: bool, shape (K, M) or (..., K, M) (as TFP's ``mutual_information`` bounds take it): True marks
    a sample of the joint P_XY, False one of the product of marginals. Each score matrix needs ≥ 1 of each; with
    ``one_per_row`` (InfoNCE) every row needs exactly one True (its positive).
    """
    k, m = s.shape[-2], s.shape[-1]
    if joint_mask is None:
        if m < k:
            raise ValueError(f"scores of shape (..., K, M) = {tuple(s.shape)} need M >= K: column i of row i is the "
                             f"joint pair (x_i, y_i), the other M − 1 columns of row i its negatives; or pass joint_mask")
        return _Layout(_eye(k, m, s.device), k, k * m - k)
    mask = joint_mask if isinstance(joint_mask, torch.Tensor) else torch.as_tensor(np.asarray(joint_mask))
    if mask.dtype != torch.bool:
        raise TypeError(f"joint_mask must be a boolean array (True = joint pair); got dtype {mask.dtype}")
    if mask.ndim < 2 or tuple(mask.shape[-2:]) != (k, m):
        raise ValueError(f"joint_mask must have shape (K, M) = {(k, m)} or (..., K, M) like scores; "
                         f"got {tuple(mask.shape)}")
    try:
        mask = torch.broadcast_to(mask.to(s.device), s.shape)
    except RuntimeError as e:
        raise ValueError(f"joint_mask of shape {tuple(mask.shape)} does not broadcast to scores {tuple(s.shape)}") from e
    n_pos = mask.sum((-2, -1))
    if one_per_row and not bool((mask.sum(-1) == 1).all()):
        raise ValueError("joint_mask must hold exactly one True (the positive) per row for infonce")
    if not bool(((n_pos >= 1) & (n_pos < k * m)).all()):
        raise ValueError("joint_mask needs at least one True (joint pair) and one False (product of marginals) "
                         "per score matrix")
    return _Layout(mask, n_pos, k * m - n_pos)


def _log(n, like=None):
    """log of a count: a float for an int, a tensor (like's dtype, float64 without `like`) for a tensor of counts."""
    return math.log(n) if isinstance(n, int) else torch.log(n.to(like.dtype if like is not None else torch.float64))


def _mean_pos(s, lay):
    """mean of the joint-pair scores, (..., K, M) -> (...)."""
    return s.masked_fill(~lay.pos, 0.0).sum((-2, -1)) / lay.n_pos


def _logmeanexp_neg(s, lay):
    """log( 1/n_neg Σ_{negatives} e^{s} ), joint pairs masked with −inf before one logsumexp."""
    return torch.logsumexp(s.masked_fill(lay.pos, -math.inf).flatten(-2), dim=-1) - _log(lay.n_neg, s)


def _logmeanexp_offdiag(s):
    """log( 1/(K(K−1)) Σ_{i≠j} e^{s_ij} ) of a square (..., K, K) matrix (used by MINE's moving average)."""
    return _logmeanexp_neg(s, _Layout(_eye(s.shape[-1], s.shape[-1], s.device), 0, s.shape[-1] * (s.shape[-1] - 1)))


def _mean_offdiag(s):
    k = s.shape[-1]
    return s.masked_fill(_eye(k, k, s.device), 0.0).sum(dim=(-2, -1)) / (k * (k - 1))


def _diag(s):
    return torch.diagonal(s, dim1=-2, dim2=-1)


def _finite_or_true_limit(value, s):
    """The contract at infinite scores, applied to a bound's value (..., ) computed from s (..., K, M).

    * A finite `s` gives a finite value: an overflow (a true value beyond ±finfo.max) saturates at ∓finfo.max.
    * Where the formula meets ∞ − ∞ (a +inf product-of-marginals score with a +inf joint score, or +inf and −inf
      joint scores) the bound is −inf: the partition term / the worst joint pair dominates, and −inf is a valid
      (vacuous) lower bound. Limits that exist (a lone +inf joint score: +inf; a +inf negative: −inf) are what
      the formulas already give.
    * NaN only where a score is NaN.
    """
    nan_in = torch.isnan(s).flatten(-2).any(-1)
    finite_in = torch.isfinite(s).flatten(-2).all(-1)
    big = torch.finfo(value.dtype).max
    value = torch.where(torch.isnan(value) & ~nan_in, -math.inf, value)
    return torch.where(finite_in & torch.isinf(value), value.clamp(-big, big), value)


def _report(train, value):
    """train + sg(value − train): the reported `value` with the gradient of `train` (where both are finite;
    elsewhere the value itself: an infinite surrogate has no useful gradient, and inf − inf must not leak NaN)."""
    ok = torch.isfinite(train) & torch.isfinite(value)
    return torch.where(ok, train + (value - train).detach(), value.detach() if value.requires_grad else value)


# --------------------------------------------------------------------------------------------------------
# the NWJ partition term, exact until it overflows


@functools.lru_cache(maxsize=8)
def _log_max(dtype):
    """log(finfo(dtype).max) in float64: e^L with L ≤ this is representable in `dtype` (checked for the 4 floats)."""
    return math.log(torch.finfo(dtype).max)


class _Partition(torch.autograd.Function):
    """P = 1/n Σ_{negatives} e^{z}, exact (computed in float64, rounded once to z's dtype) wherever it is
    representable in z's dtype; beyond, value finfo.max (the exact one is not representable) and the gradient of
    the tangent continuation e^C (1 + L − C), C = log finfo.max, L = log P: finite and non-zero.

    Inputs: s (..., K, M) and a float offset (z = s + offset, formed in float64), pos (bool, joint pairs:
    excluded), log_n = log(number of negatives) (float, or a float64 tensor (...)).
    Gradient: ∂P/∂z_ij = e^{z_ij − lse + min(L, C)} on the negatives (= e^{z_ij}/n below overflow), 0 on the
    joint pairs; lse = logsumexp of the negatives. One node with a hand-written backward (the composed version
    recorded ~10 autograd ops on a K×K matrix: ~5 % of a small NWJ training step, bench/bench_mi.py); under
    create_graph=True the backward is built from differentiable ops, so double backward is exact too.
    A +inf negative gives P = +inf (the bound is −inf there).
    """

    @staticmethod
    def _terms(s, offset, pos, log_n):
        zm = (s.to(torch.float64) + offset).masked_fill(pos, -math.inf)   # z = s + offset, exact in float64
        lse = torch.logsumexp(zm.flatten(-2), dim=-1)
        return zm, lse, lse - log_n

    @staticmethod
    def forward(ctx, s, offset, pos, log_n):
        c = _log_max(s.dtype)
        zm, lse, L = _Partition._terms(s, offset, pos, log_n)
        fmax = torch.finfo(s.dtype).max
        p = torch.where(L >= c, fmax, torch.exp(L.clamp_max(c)).clamp_max(fmax))   # saturate beyond overflow
        p = torch.where(torch.isposinf(L), math.inf, p)                             # ... unless truly infinite
        ctx.save_for_backward(s, zm, lse, L)
        ctx.c, ctx.offset, ctx.pos, ctx.log_n = c, offset, pos, log_n
        return p.to(s.dtype)

    @staticmethod
    def backward(ctx, grad):
        s, zm, lse, L = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: rebuild from s so that the gradient has its own gradient
            zm, lse, L = _Partition._terms(s, ctx.offset, ctx.pos, ctx.log_n)
        g = torch.exp(zm + (L.clamp_max(ctx.c) - lse)[..., None, None])
        return (g * grad.to(torch.float64)[..., None, None]).to(grad.dtype), None, None, None


def _nwj_torch(s, lay, shift=0.0):
    """NWJ value mean_pos(S + shift) − 1/n_neg Σ_neg e^{S + shift − 1}, (..., K, M) -> (...)."""
    part = _Partition.apply(s, shift - 1.0, lay.pos, _log(lay.n_neg))
    return _finite_or_true_limit(_mean_pos(s, lay) + shift - part, s)


def _check_scores(scores, name="scores", square=False):
    s, was_numpy = _to_torch(scores, name)
    if s.ndim < 2:
        raise ValueError(f"{name} must have shape (..., K, M) with scores[..., i, j] = T(x_i, y_j); "
                         f"got shape {tuple(s.shape)}")
    if square and s.shape[-1] != s.shape[-2]:
        raise ValueError(f"{name} must have shape (..., K, K) with scores[..., i, j] = T(x_i, y_j); "
                         f"got shape {tuple(s.shape)}")
    if s.shape[-1] < 2:
        raise ValueError(f"{name} needs K >= 2 (at least one off-diagonal, product-of-marginals pair); "
                         f"got K = {s.shape[-1]}")
    return s, was_numpy


_SHAPES = """Shapes: scores (..., K, M) with M ≥ K (row i: x_i; column i < K of row i its joint pair, the other
    columns product-of-marginals pairs: M − 1 negatives per row), or any (..., K, M) with `joint_mask` (bool,
    (K, M) or (..., K, M), True = joint pair) -> (...)."""


# --------------------------------------------------------------------------------------------------------
# the bounds


def dv(scores: Array, joint_mask: Array | None = None) -> Array:
    """Donsker-Varadhan (MINE's reported value) from a score matrix.

        I_DV = mean_{joint} S − log( 1/n_neg Σ_{negatives} e^{S} )

    Reported value and gradient: I_DV itself. Not a lower bound in expectation (minibatch Jensen bias,
    upward; with the optimal critic the bias grows with I). Invariant to adding one constant to all scores.
    Value exact to rounding at any finite scores (one logsumexp); infinite scores: see the module docstring.
    """
    s, was_numpy = _check_scores(scores)
    lay = _layout(s, joint_mask)
    return _out(_finite_or_true_limit(_mean_pos(s, lay) - _logmeanexp_neg(s, lay), s), was_numpy)


def nwj(scores: Array, joint_mask: Array | None = None) -> Array:
    """NWJ / MINE-f / f-GAN-KL bound (Nguyen, Wainwright & Jordan 2010; Poole et al. 2019 eq. 8).

        I_NWJ = mean_{joint} S − e^{−1} · 1/n_neg Σ_{negatives} e^{S}

    the f-GAN KL bound with v = S (`fdiv_lower_bound("kl", joint, negatives)`). Reported value and gradient:
    I_NWJ itself. A lower bound in expectation (unbiased estimate of E_P[T] − E_Q[e^{T−1}] ≤ I); tight at
    S = 1 + log p(x,y)/(p(x)p(y)), where its variance is Var_Q[r] / n_neg-ish: e^{2I} − 1 per term on
    the Gaussian benchmark. Not shift-invariant.

    Extremes: the partition term is evaluated in float64 from one logsumexp and rounded once, so the value is
    exact wherever the exact bound is representable in the input dtype (float32/16: ≤ 1 ulp of the partition
    term plus one rounding; float64: ≤ |L|·eps relative, exp's condition number, < 1e-12 before overflow),
    including the last nats below overflow (float32 8×8 zeros with S[0,1] = 80: −e^79/56 =
    −3.64e32). Where it is not (−I_NWJ > finfo.max) the value saturates at −finfo.max and the gradient is
    that of the tangent continuation of e^L at L = log finfo.max: finite, so training can recover.
    """
    s, was_numpy = _check_scores(scores)
    return _out(_nwj_torch(s, _layout(s, joint_mask)), was_numpy)


def infonce(scores: Array, joint_mask: Array | None = None) -> Array:
    """InfoNCE / CPC bound (van den Oord et al. 2018; Poole et al. 2019 eq. 10; TFP ``lower_bound_info_nce``).

        I_NCE = mean_i [ S_i,pos(i) − log Σ_j e^{S_ij} ] + log M        (row i: x_i against y_1..y_M)

    Reported value and gradient: I_NCE itself. A lower bound in expectation, and I_NCE ≤ log M for every
    input, M = the number of columns (1 positive + M − 1 negatives per row): each row term is a log_softmax
    entry, max-shifted, ≤ 0 after rounding as well, so the result is ≤ log M as rounded in the input dtype.
    Invariant to adding a constant c_i per row (any function of x), hence to one global constant.
    Infinite scores: a +inf positive with finite negatives gives the limit row term 0; a +inf negative −inf.
    With `joint_mask` every row needs exactly one True (its positive).
    """
    s, was_numpy = _check_scores(scores)
    lay = _layout(s, joint_mask, one_per_row=True)
    m = s.shape[-1]
    ls = torch.log_softmax(s, dim=-1)
    if joint_mask is None and s.shape[-2] == m:
        term = _diag(ls)                                      # square default: one strided read
        pos_s = _diag(s)
    else:
        term = ls.masked_fill(~lay.pos, 0.0).sum(-1)
        pos_s = s.masked_fill(~lay.pos, 0.0).sum(-1)
    # log_softmax is NaN on a row holding +inf (inf − inf) or only −inf: the limits are 0 for a lone +inf positive,
    # −inf otherwise (a +inf negative, or a −inf positive)
    n_posinf = torch.isposinf(s).sum(-1)
    row_nan = torch.isnan(s).any(-1)
    limit = torch.where(torch.isposinf(pos_s) & (n_posinf == 1), 0.0, -math.inf).to(s.dtype)
    term = torch.where(torch.isnan(term) & ~row_nan, limit, term)
    return _out(term.mean(-1) + math.log(m), was_numpy)


def _js_fgan_torch(s, lay=None):
    # the "gan" f-GAN bound (= 2·JS − log 4): E_P[−softplus(−S)] − E_Q[softplus(S)] (= gan.p_term / gan.q_term;
    # torch's fused softplus kernel is stable, linear above 20, and one kernel instead of four)
    lay = lay if lay is not None else _layout(s, None)
    sp = torch.nn.functional.softplus
    return -sp(-s).masked_fill(~lay.pos, 0.0).sum((-2, -1)) / lay.n_pos - \
        sp(s).masked_fill(lay.pos, 0.0).sum((-2, -1)) / lay.n_neg


def js(scores: Array, joint_mask: Array | None = None) -> Array:
    """JS-trained critic, NWJ-reported value, as the papers define it (Poole et al. 2019 §2.4 "I_JS", their
    colab; Song & Ermon 2020's ``js_lower_bound``, which returns NWJ on the unshifted scores):

        value    = I_NWJ(S) = mean_{joint} S − e^{−1} · 1/n_neg Σ_{negatives} e^{S}
        gradient = ∇ L_JS,  L_JS = mean_{joint}[−softplus(−S)] − 1/n_neg Σ_{negatives} softplus(S)
        returned = L_JS + sg(I_NWJ(S) − L_JS)

    L_JS is the f-GAN bound for the "gan" divergence (2·JS − log 4), maximised at S = log r with
    r = p(x,y)/(p(x)p(y)). There E[I_NWJ(S)] = E_P[log r] − e^{−1} E_Q[r] = I − 1/e: the papers' JS estimator
    reads 1/e below I at the JS optimum, because NWJ is tight at S = 1 + log r instead. `js_shifted` reports
    I_NWJ(S + 1), exact there. Both are lower bounds in expectation (NWJ values).
    """
    s, was_numpy = _check_scores(scores)
    lay = _layout(s, joint_mask)
    return _out(_report(_js_fgan_torch(s, lay), _nwj_torch(s, lay)), was_numpy)


def js_shifted(scores: Array, joint_mask: Array | None = None) -> Array:
    """`js` with the NWJ value read at S + 1: value I_NWJ(S + 1) = 1 + mean_{joint} S − 1/n_neg Σ_neg e^{S},
    gradient ∇ L_JS (see `js`). NWJ is tight at S = 1 + log r, the JS optimum is S = log r: the shift makes
    the value exact in expectation at the JS optimum, where `js` (the papers' estimator) reads I − 1/e.
    divkit's `js` was this before 2026-12 (it was mislabelled "as in Song & Ermon's code"). A lower bound in
    expectation.
    """
    s, was_numpy = _check_scores(scores)
    lay = _layout(s, joint_mask)
    return _out(_report(_js_fgan_torch(s, lay), _nwj_torch(s, lay, shift=1.0)), was_numpy)


def _baseline(log_baseline, s):
    b, _ = _to_torch(log_baseline, "log_baseline") if not isinstance(log_baseline, torch.Tensor) else (log_baseline, False)
    b = b.to(dtype=s.dtype, device=s.device)
    if b.ndim > 0 and b.shape[-1] != s.shape[-1]:
        raise ValueError(f"log_baseline must be a scalar or have shape (..., M) with M = {s.shape[-1]} (one value "
                         f"per column y_j); got shape {tuple(b.shape)}")
    return b


def tuba(scores: Array, log_baseline: float | Array = 0.0, joint_mask: Array | None = None) -> Array:
    """TUBA with a log-baseline b(y) (Poole et al. 2019 eq. 7):

        I_TUBA = 1 + mean_{joint (i,j)} [S_ij − b(y_j)] − 1/n_neg Σ_{negatives (i,j)} e^{S_ij − b(y_j)}

    (column j is y_j, so the baseline is subtracted per column). b = 1 gives NWJ; any b(y) gives a lower bound
    in expectation, tight where e^{S − b(y)} = r = p(x,y)/(p(x)p(y)). Reported value and gradient: I_TUBA
    (no tricks; the baseline, if learned, gets its gradient through this value). Invariant to
    S_ij → S_ij + c(y_j) together with b → b + c. Exact up to overflow as `nwj`.
    log_baseline: a scalar or (..., M).
    """
    s, was_numpy = _check_scores(scores)
    b = _baseline(log_baseline, s)
    shifted = s - (b.unsqueeze(-2) if b.ndim > 0 else b)
    return _out(_nwj_torch(shifted, _layout(s, joint_mask), shift=1.0), was_numpy)  # NWJ(S − b + 1)


def _loo_logmeanexp_cols(p):
    """loo[..., a, b] = log 1/(K−1) Σ_{l≠b} e^{p[..., a, l]}  (O(K³) memory; exact, finite at any scale)."""
    k = p.shape[-1]
    eye = torch.eye(k, dtype=torch.bool, device=p.device)
    big = p.unsqueeze(-2).expand(*p.shape[:-1], k, k)          # [..., a, b, l] = p[a, l]
    big = big.masked_fill(eye, -math.inf)                         # drop l == b
    return torch.logsumexp(big, dim=-1) - math.log(k - 1)


def interpolated(scores: Array, log_baseline: float | Array = 0.0, alpha: float = 0.01) -> Array:
    """Interpolated bound I_α (Poole et al. 2019 eq. 11-12, their `interpolated_lower_bound`).

    Baseline for y, built from the other samples (leave-one-out, so the bound stays valid):
        m(y_a; x_{−b}) = α · 1/(K−1) Σ_{l≠b} e^{S_la} + (1 − α) · e^{b(y_a)}
        I_α = 1 + 1/(K(K−1)) Σ_{a≠b} [S_aa − log m(y_a; x_{−b})] − 1/(K(K−1)) Σ_{a≠b} e^{S_ba} / m(y_a; x_{−a})

    α = 0 is TUBA with baseline b; α → 1 approaches an InfoNCE-style multi-sample bound (bias ≤ log K/α).
    Reported value and gradient: I_α (no tricks). A lower bound in expectation for α ∈ [0, 1].
    For α = 1 it is invariant to S_ij → S_ij + c(y_j). Memory O(K³) (fine up to K ≈ 256).
    Shapes: scores (..., K, K) (square: the leave-one-out baseline pairs every x with every y), log_baseline
    scalar or (..., K), alpha a float in [0, 1].
    """
    s, was_numpy = _check_scores(scores, square=True)
    alpha = _real(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1]; got {alpha}")
    b = _baseline(log_baseline, s)
    p = s.transpose(-2, -1)                                          # p[a, b] = T(x_b, y_a): rows are y
    b_col = (b if b.ndim > 0 else b.expand(*s.shape[:-1])).unsqueeze(-1).expand(p.shape)
    if alpha == 0.0:
        ib = b_col
    else:
        loo = _loo_logmeanexp_cols(p)
        ib = loo + math.log(alpha) if alpha == 1.0 else torch.logaddexp(loo + math.log(alpha), b_col + math.log1p(-alpha))
    ib_diag = _diag(ib)                                               # baseline for y_a leaving out x_a
    marg = torch.exp(_logmeanexp_offdiag(p - ib_diag.unsqueeze(-1)))
    joint = _mean_offdiag(_diag(p).unsqueeze(-1) - ib)
    return _out(_finite_or_true_limit(1.0 + joint - marg, s), was_numpy)


def _real(x, name):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(x).__name__}")
    return float(x)


def _check_clip(clip):
    """SMILE's τ: a real number > 0 (inf allowed: no clipping) or None."""
    if clip is None:
        return None
    clip = _real(clip, "clip")
    if not clip > 0.0:  # also rejects NaN
        raise ValueError(f"clip (τ) must be > 0 (ratios are clipped to [e^−τ, e^τ]) or None for none; got {clip}")
    return clip


def smile(scores: Array, clip: float | None = 5.0, joint_mask: Array | None = None) -> Array:
    """SMILE (Song & Ermon 2020, eq. 17): DV value with clipped ratios, JS gradient.

        value    = mean_{joint} S − log 1/n_neg Σ_{negatives} e^{clip(S, −τ, τ)}
        gradient = ∇ L_JS  (see `js`)
        returned = L_JS + sg(value − L_JS)

    τ = `clip` > 0 (None: no clipping, i.e. the DV value). Clipping bounds the variance of the partition term
    by O(e^{2τ}/n_neg) at the price of bias; not a lower bound in expectation (neither is DV).
    """
    s, was_numpy = _check_scores(scores)
    clip = _check_clip(clip)
    lay = _layout(s, joint_mask)
    sc = s if clip is None else s.clamp(-clip, clip)
    value = _finite_or_true_limit(_mean_pos(s, lay) - _logmeanexp_neg(sc, lay), s)
    return _out(_report(_js_fgan_torch(s, lay), value), was_numpy)


for _f in (dv, nwj, infonce, js, js_shifted, tuba, smile):
    _f.__doc__ = (_f.__doc__ or "") + "\n    " + _SHAPES + "\n"  # None under python -OO
del _f


# --------------------------------------------------------------------------------------------------------
# upper bounds on MI from a log-conditional matrix


def _check_log_q(log_q):
    s, was_numpy = _check_scores(log_q, "log_q", square=True)
    return s, was_numpy


def club(log_q: Array) -> Array:
    """CLUB, the contrastive log-ratio upper bound (Cheng et al. 2020, ICML, eq. 8), from a log-conditional matrix
    ``log_q[..., i, j] = log q(y_j | x_i)`` of shape (..., K, K) (rows x_i, columns y_j, as scores):

        I_CLUB = mean_i log q(y_i | x_i) − 1/(K(K−1)) Σ_{i≠j} log q(y_j | x_i)

    (the product-of-marginals term over the K(K−1) off-diagonal pairs: an unbiased estimate of
    E_{p(x)p(y)}[log q(y|x)]; Cheng et al. average all K² pairs, which differs by O(1/K)). With q = p(y|x) it is
    an upper bound on I(X; Y) in expectation (the population gap is I_CLUB − I =
    KL(p(x)p(y) ‖ p(y|x)p(x)) ≥ 0 by their Theorem 3.1); with a learned q it is one when q is close
    enough to p(y|x) (their Theorem 3.2). Gaussian benchmark, exact conditional: E[I_CLUB] = d ρ²/(1 − ρ²).
    Reported value and gradient: I_CLUB itself (train q separately, by maximum likelihood). Shapes: (..., K, K)
    -> (...).
    """
    s, was_numpy = _check_log_q(log_q)
    return _out(_finite_or_true_limit(_diag(s).mean(-1) - _mean_offdiag(s), s), was_numpy)


def loo_upper(log_q: Array) -> Array:
    """The leave-one-out (L1Out) upper bound of Poole et al. 2019 (eq. 13, "minibatch upper bound"), from
    ``log_q[..., i, j] = log q(y_j | x_i)`` of shape (..., K, K):

        I_LOO = mean_i [ log q(y_i | x_i) − log 1/(K−1) Σ_{j≠i} q(y_i | x_j) ]

    the marginal p(y_i) estimated by the mixture of the other K − 1 conditionals. With q = p(y|x) it is an
    upper bound on I(X; Y) in expectation (E_{x_{−i}} log mean_j p(y_i|x_j) ≤ log p(y_i) by Jensen); with a
    learned q it is an estimate of one. Tighter than CLUB, but its variance grows with I (the mixture rarely
    covers y_i when p(y|x) is peaked). Each column's leave-one-out sum is one logsumexp. Reported value and
    gradient: I_LOO itself. Shapes: (..., K, K) -> (...).
    """
    s, was_numpy = _check_log_q(log_q)
    k = s.shape[-1]
    col = torch.logsumexp(s.masked_fill(_eye(k, k, s.device), -math.inf), dim=-2) - math.log(k - 1)   # (..., K): y_i
    return _out(_finite_or_true_limit((_diag(s) - col).mean(-1), s), was_numpy)
