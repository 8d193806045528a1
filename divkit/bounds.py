"""Variational lower bounds on f-divergences and on mutual information, as pure functions of critic outputs.

Two families:

* From raw critic outputs on samples of P and of Q (1-D arrays):
  `fdiv_lower_bound(div, v_p, v_q)` (f-GAN / VDM, Nguyen-Wainwright-Jordan 2010, Nowozin et al. 2016 eq. 6)
  and `dv_lower_bound(t_p, t_q)` (Donsker-Varadhan).
* From a critic score matrix ``scores[..., i, j] = T(x_i, y_j)`` of shape (..., K, K): the diagonal holds the
  K joint pairs (samples of P_XY), the K(K-1) off-diagonal entries pairs from the product of marginals
  P_X ⊗ P_Y. These are the mutual-information bounds of Poole et al. 2019, "On Variational Bounds of Mutual
  Information" (ICML), and Song & Ermon 2020, "Understanding the Limitations of Variational Mutual
  Information Estimators" (ICLR): `dv`, `nwj`, `infonce`, `js`, `tuba`, `interpolated`, `smile`.

Conventions (every function):
  * numpy in -> numpy out (a 0-d array, or shape (...) for batched score matrices; numpy inputs are
    evaluated through torch in their own dtype, and gradient tricks are then irrelevant: value only);
    torch in -> torch out, same dtype and device, differentiable.
  * Each docstring states the reported value, the gradient it follows (any stop-gradient trick written
    out with ``sg(.)`` = stop-gradient) and whether the reported value is a lower bound in expectation.
  * Everything that exponentiates stays in log space (logsumexp with the diagonal masked by -inf):
    values and gradients are finite for scores up to |1e3| in float32.

Warning: the NWJ-type terms (`nwj`, the value of `js`, `tuba`) contain E_Q[e^T] outside any log. They use
the fused KL term ``kl.q_term`` whose exponential continues as its tangent line beyond
log(finfo.max) - 20 (≈ 68.7 in float32), so they stay finite; the reported value there is an astronomically
negative number that is no longer exactly -e^T, as no float32 can hold it anyway.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ._array import _cut
from .catalog import get

__all__ = ["fdiv_lower_bound", "dv_lower_bound", "dv", "nwj", "infonce", "js", "tuba", "interpolated", "smile"]


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


def _check_scores(scores, name="scores"):
    s, was_numpy = _to_torch(scores, name)
    if s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        raise ValueError(f"{name} must have shape (..., K, K) with scores[..., i, j] = T(x_i, y_j); "
                         f"got shape {tuple(s.shape)}")
    if s.shape[-1] < 2:
        raise ValueError(f"{name} needs K >= 2 (at least one off-diagonal, product-of-marginals pair); "
                         f"got K = {s.shape[-1]}")
    return s, was_numpy


@functools.lru_cache(maxsize=64)
def _offdiag_mask(k, device):
    # cached: rebuilding a K×K mask every training step is measurable overhead for small critics
    return ~torch.eye(k, dtype=torch.bool, device=device)


@functools.lru_cache(maxsize=64)
def _diag_mask(k, device):
    return torch.eye(k, dtype=torch.bool, device=device)


def _diag(s):
    return torch.diagonal(s, dim1=-2, dim2=-1)


def _logmeanexp_offdiag(s):
    """log( 1/(K(K-1)) Σ_{i≠j} e^{s_ij} ), the diagonal masked with -inf before the logsumexp."""
    k = s.shape[-1]
    masked = s.masked_fill(_diag_mask(k, s.device), -math.inf)
    return torch.logsumexp(masked.flatten(-2), dim=-1) - math.log(k * (k - 1))


def _mean_offdiag(s):
    k = s.shape[-1]
    return (s * _offdiag_mask(k, s.device)).sum(dim=(-2, -1)) / (k * (k - 1))


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


def fdiv_lower_bound(div, v_p, v_q):
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
    return _out(d.p_term(tp).mean() - d.q_term(tq).mean(), was_numpy)


def dv_lower_bound(t_p, t_q):
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
# mutual-information bounds from a score matrix


def dv(scores):
    """Donsker-Varadhan (MINE's reported value) from a score matrix.

        I_DV = mean_i S_ii − log( 1/(K(K−1)) Σ_{i≠j} e^{S_ij} )

    Reported value and gradient: I_DV itself. Not a lower bound in expectation (minibatch Jensen bias,
    upward; with the optimal critic the bias grows with I). Invariant to adding one constant to all scores.
    Shapes: scores (..., K, K) -> (...).
    """
    s, was_numpy = _check_scores(scores)
    return _out(_diag(s).mean(-1) - _logmeanexp_offdiag(s), was_numpy)


class _NWJ(torch.autograd.Function):
    """mean_i S_ii − 1/(K(K−1)) Σ_{i≠j} kl.q_term(S_ij) as ONE autograd node, (..., K, K) -> (...).

    kl.q_term(v) = e^{v−1}, continued along its tangent beyond z = v − 1 > c = log(finfo.max) − 20 (module
    Warning): e^{min(z, c)} · (1 + max(z − c, 0)), the formula of `divkit._array` safe_exp, written here with
    fused in-place ops (a test checks it against ``fdiv_lower_bound("kl", ...)`` beyond the cut).
    Gradient: 1/K on the diagonal, −e^{min(S_ij − 1, c)}/(K(K−1)) off it (the exact derivative of the
    tangent-continued term). Written by hand because the composed version recorded ~10 autograd ops on a K×K
    matrix and made NWJ training ~5 % slower than a plain loop's e^{S−1} (bench/bench_mi.py). Under
    create_graph=True the backward is rebuilt from differentiable ops on the saved input, so double backward
    is exact too.
    """

    @staticmethod
    def forward(ctx, s):
        k = s.shape[-1]
        c = _cut(s.dtype)
        z = s - 1.0
        e = torch.exp(z.clamp_max(c))                                  # = d kl.q_term / dv
        q = torch.addcmul(e, e, z.sub_(c).clamp_min_(0.0))             # e^{min(z,c)} (1 + max(z − c, 0))
        diag = _diag_mask(k, s.device)
        ctx.save_for_backward(s, e.masked_fill_(diag, 0.0))
        return _diag(s).mean(-1) - q.masked_fill_(diag, 0.0).sum(dim=(-2, -1)) / (k * (k - 1))

    @staticmethod
    def backward(ctx, grad):
        s, e = ctx.saved_tensors
        k = s.shape[-1]
        if torch.is_grad_enabled():  # create_graph=True: rebuild e from s so that its own gradient exists
            e = torch.exp((s - 1.0).clamp_max(_cut(s.dtype)))
        g = torch.where(_diag_mask(k, s.device), 1.0 / k, e * (-1.0 / (k * (k - 1))))
        return g * grad[..., None, None]


def _nwj_torch(s):
    # kl.p_term(v) = v, kl.q_term(v) = e^{v-1} (tangent-continued, see the module Warning)
    return _NWJ.apply(s)


def nwj(scores):
    """NWJ / MINE-f / f-GAN-KL bound (Nguyen, Wainwright & Jordan 2010; Poole et al. 2019 eq. 8).

        I_NWJ = mean_i S_ii − e^{−1} · 1/(K(K−1)) Σ_{i≠j} e^{S_ij}

    the f-GAN KL bound with v = S (`fdiv_lower_bound("kl", diag, offdiag)`). Reported value and gradient:
    I_NWJ itself. A lower bound in expectation (unbiased estimate of E_P[T] − E_Q[e^{T−1}] ≤ I); tight at
    S = 1 + log p(x,y)/(p(x)p(y)), where its variance is Var_Q[r] / (K(K−1))-ish: e^{2I} − 1 per term on
    the Gaussian benchmark. Not shift-invariant. Shapes: (..., K, K) -> (...).
    """
    s, was_numpy = _check_scores(scores)
    return _out(_nwj_torch(s), was_numpy)


def infonce(scores):
    """InfoNCE / CPC bound (van den Oord et al. 2018; Poole et al. 2019 eq. 10).

        I_NCE = mean_i [ S_ii − log Σ_j e^{S_ij} ] + log K        (row i: x_i against y_1..y_K)

    Reported value and gradient: I_NCE itself. A lower bound in expectation, and I_NCE ≤ log K for every
    input (each row term S_ii − logsumexp_j S_ij is computed as log_softmax, max-shifted, so it is ≤ 0 after
    rounding as well: the result is ≤ log K as rounded in the input dtype). Invariant to adding a constant c_i
    per row (any function of x), hence to one global constant. Shapes: (..., K, K) -> (...).
    """
    s, was_numpy = _check_scores(scores)
    k = s.shape[-1]
    # row term = log_softmax(S)_ii = (S_ii − max_j S_ij) − log Σ_j e^{S_ij − max}: a non-positive number minus a
    # non-negative one (the sum holds e^0 = 1), so it is ≤ 0 after rounding too, with no clamp (one fused op)
    term = _diag(torch.log_softmax(s, dim=-1))
    return _out(term.mean(-1) + math.log(k), was_numpy)


def _js_fgan_torch(s):
    # the "gan" f-GAN bound (= 2·JS − log 4): E_P[−softplus(−S)] − E_Q[softplus(S)] (= gan.p_term / gan.q_term;
    # torch's fused softplus kernel is stable, linear above 20, and one kernel instead of four)
    k = s.shape[-1]
    q = torch.nn.functional.softplus(s).masked_fill(_diag_mask(k, s.device), 0.0)
    return -torch.nn.functional.softplus(-_diag(s)).mean(-1) - q.sum(dim=(-2, -1)) / (k * (k - 1))


def js(scores):
    """JS-trained critic, NWJ-reported value (Poole et al. 2019 §"I_JS"; Song & Ermon 2020 code).

        value    = I_NWJ(S + 1) = mean_i S_ii + 1 − 1/(K(K−1)) Σ_{i≠j} e^{S_ij}
        gradient = ∇ L_JS,  L_JS = mean_i[−softplus(−S_ii)] − 1/(K(K−1)) Σ_{i≠j} softplus(S_ij)
        returned = L_JS + sg(I_NWJ(S+1) − L_JS)

    L_JS is the f-GAN bound for the "gan" divergence (2·JS − log 4), maximised at S = log r with
    r = p(x,y)/(p(x)p(y)). NWJ is tight at S = 1 + log r, hence the shift by 1 (as in Song & Ermon's code;
    REFERENCE §3 writes `nwj − js` without it): at S = log r the unshifted NWJ would report I − 1/e, the
    shifted one reports I exactly in expectation. Reported value: a lower bound in expectation (an NWJ value).
    Shapes: (..., K, K) -> (...).
    """
    s, was_numpy = _check_scores(scores)
    j = _js_fgan_torch(s)
    v = _nwj_torch(s + 1.0)
    return _out(j + (v - j).detach(), was_numpy)


def tuba(scores, log_baseline=0.0):
    """TUBA with a log-baseline b(y) (Poole et al. 2019 eq. 7):

        I_TUBA = 1 + mean_i [S_ii − b(y_i)] − 1/(K(K−1)) Σ_{i≠j} e^{S_ij − b(y_j)}

    (column j is y_j, so the baseline is subtracted per column). b = 1 gives NWJ; any b(y) gives a lower bound
    in expectation, tight where e^{S − b(y)} = r = p(x,y)/(p(x)p(y)). Reported value and gradient: I_TUBA
    (no tricks; the baseline, if learned, gets its gradient through this value). Invariant to
    S_ij → S_ij + c(y_j) together with b → b + c. Shapes: scores (..., K, K), log_baseline scalar or (..., K).
    """
    s, was_numpy = _check_scores(scores)
    b, _ = _to_torch(log_baseline, "log_baseline") if not isinstance(log_baseline, torch.Tensor) else (log_baseline, False)
    b = b.to(dtype=s.dtype, device=s.device)
    if b.ndim > 0 and b.shape[-1] != s.shape[-1]:
        raise ValueError(f"log_baseline must be a scalar or have shape (..., K) with K = {s.shape[-1]}; "
                         f"got shape {tuple(b.shape)}")
    shifted = s - (b.unsqueeze(-2) if b.ndim > 0 else b)
    return _out(_nwj_torch(shifted + 1.0), was_numpy)  # NWJ(S − b + 1) = 1 + mean(S − b) − mean e^{S − b}


def _loo_logmeanexp_cols(p):
    """loo[..., a, b] = log 1/(K−1) Σ_{l≠b} e^{p[..., a, l]}  (O(K³) memory; exact, finite at any scale)."""
    k = p.shape[-1]
    eye = torch.eye(k, dtype=torch.bool, device=p.device)
    big = p.unsqueeze(-2).expand(*p.shape[:-1], k, k)          # [..., a, b, l] = p[a, l]
    big = big.masked_fill(eye, -math.inf)                         # drop l == b
    return torch.logsumexp(big, dim=-1) - math.log(k - 1)


def interpolated(scores, log_baseline=0.0, alpha=0.01):
    """Interpolated bound I_α (Poole et al. 2019 eq. 11-12, their `interpolated_lower_bound`).

    Baseline for y, built from the other samples (leave-one-out, so the bound stays valid):
        m(y_a; x_{−b}) = α · 1/(K−1) Σ_{l≠b} e^{S_la} + (1 − α) · e^{b(y_a)}
        I_α = 1 + 1/(K(K−1)) Σ_{a≠b} [S_aa − log m(y_a; x_{−b})] − 1/(K(K−1)) Σ_{a≠b} e^{S_ba} / m(y_a; x_{−a})

    α = 0 is TUBA with baseline b; α → 1 approaches an InfoNCE-style multi-sample bound (bias ≤ log K/α).
    Reported value and gradient: I_α (no tricks). A lower bound in expectation for α ∈ [0, 1].
    For α = 1 it is invariant to S_ij → S_ij + c(y_j). Memory O(K³) (fine up to K ≈ 256).
    Shapes: scores (..., K, K), log_baseline scalar or (..., K), alpha a float in [0, 1].
    """
    s, was_numpy = _check_scores(scores)
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1]; got {alpha}")
    b, _ = _to_torch(log_baseline, "log_baseline") if not isinstance(log_baseline, torch.Tensor) else (log_baseline, False)
    b = b.to(dtype=s.dtype, device=s.device)
    k = s.shape[-1]
    if b.ndim > 0 and b.shape[-1] != k:
        raise ValueError(f"log_baseline must be a scalar or have shape (..., K) with K = {k}; got shape {tuple(b.shape)}")
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
    return _out(1.0 + joint - marg, was_numpy)


def smile(scores, clip=5.0):
    """SMILE (Song & Ermon 2020, eq. 17): DV value with clipped ratios, JS gradient.

        value    = mean_i S_ii − log 1/(K(K−1)) Σ_{i≠j} e^{clip(S_ij, −τ, τ)}
        gradient = ∇ L_JS  (see `js`)
        returned = L_JS + sg(value − L_JS)

    τ = `clip` (None: no clipping, i.e. the DV value). Clipping bounds the variance of the partition term
    by O(e^{2τ}/K²) at the price of bias; not a lower bound in expectation (neither is DV).
    Shapes: (..., K, K) -> (...).
    """
    s, was_numpy = _check_scores(scores)
    sc = s if clip is None else s.clamp(-float(clip), float(clip))
    value = _diag(s).mean(-1) - _logmeanexp_offdiag(sc)
    j = _js_fgan_torch(s)
    return _out(j + (value - j).detach(), was_numpy)
