"""Sample-quality metrics on features of any extractor: IS, FID, KID, precision/recall, density/coverage.

Result keys are named as torch-fidelity names them (`inception_score_mean`, `frechet_inception_distance`,
`kernel_inception_distance_mean`, `precision`, ...); density/coverage as the `prdc` package names them. The
numbers are comparable with a published pipeline only when the *features* are (see docs/gan.md, "Image metrics").

Inception Score (Salimans et al. 2016): with class probabilities p(y|x_i), split into `splits` equal chunks,
  IS_chunk = exp( mean_i KL(p(·|x_i) ‖ p̄) ),  p̄ = mean_i p(·|x_i) over the chunk;
mean and std (ddof = 0) over chunks; the samples are shuffled first with `np.random.RandomState(seed)` as in
torch-fidelity (`isc_splits = 10`, `rng_seed = 2020`).

FID (Heusel et al. 2017): ‖μ_a − μ_b‖² + Tr Σ_a + Tr Σ_b − 2 Tr (Σ_a Σ_b)^{1/2}, covariances with 1/(n − 1).
From features it is computed *exactly*, with no matrix square root: write Σ_a = F_aᵀF_a with a thin factor F_a
(the centred features / √(n − 1) when n ≤ d, else the R of their thin QR, d × d). The non-zero eigenvalues of
Σ_aΣ_b = F_aᵀ(F_aF_bᵀ)F_b are those of M Mᵀ with M = F_aF_bᵀ, so Tr (Σ_aΣ_b)^{1/2} = ‖F_aF_bᵀ‖_* (nuclear norm,
the sum of singular values) and Tr Σ_a = ‖F_a‖²_F. This holds for singular covariances (n ≤ d), where
`scipy.linalg.sqrtm` (pytorch-fid) loses √eps per zero eigenvalue and can return a negative FID; since
‖F_aF_bᵀ‖_* ≤ ‖F_a‖_F‖F_b‖_F the exact value is ≥ 0 and a negative result can only be rounding (clipped to 0).
From fitted statistics (`frechet_distance`) the trace term uses the eigenvalues λ of Σ_aΣ_b:
Tr (Σ_aΣ_b)^{1/2} = Σ √λ (principal roots), with pytorch-fid's check: an imaginary part above 1e-3 raises.

KID (Bińkowski et al. 2018, eq. 4): unbiased MMD² with k(x, y) = (γ xᵀy + c₀)^degree, γ = 1/d, c₀ = 1, degree 3,
  1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j),
on `subsets` = 100 random subsets of `subset_size` = 1000 of each set (drawn without replacement by
`np.random.RandomState(seed).choice`, first set first, as torch-fidelity); mean and std (ddof = 0) over subsets.
Fewer samples than `subset_size` is refused (as torch-fidelity and torchmetrics do).

Precision/recall (Kynkäänniemi et al. 2019, k = 3) and density/coverage (Naeem et al. 2020, k = 5): the ball of a
sample is the closed ball B(x, NND_k(x)) of radius its distance to its k-th nearest neighbour in its own set (itself
excluded). precision = fraction of fakes inside some real ball; recall = fraction of reals inside some fake ball;
density = (1/(kM)) Σ_j #{i : fake_j ∈ B(real_i)}; coverage = fraction of reals whose ball holds some fake. Ball
membership is d ≤ radius (closed ball, as the papers and torch-fidelity; `prdc` uses < — they differ only on exact
ties). Distances come from matrix products in blocks of `block_size` rows, on the features' device and dtype; every
pair within their rounding bound of a ball's boundary is decided on the elementwise distance, which gives a pair the
same bits in every block, so a ball's own k-th neighbour (on its boundary) is always inside it, as exact arithmetic
says (pure matrix-product distances, as torch.cdist uses, flip such ties: density 1.184 instead of 1.2 for 50 points against themselves, k = 5).
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import scipy.special

if TYPE_CHECKING:
    import numpy.typing as npt
    import torch

    Features = npt.ArrayLike | torch.Tensor

KEY_IS_MEAN, KEY_IS_STD = "inception_score_mean", "inception_score_std"
KEY_FID = "frechet_inception_distance"
KEY_KID_MEAN, KEY_KID_STD = "kernel_inception_distance_mean", "kernel_inception_distance_std"


def _np(x) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x, dtype=np.float64)


def _features(x, name: str, min_rows: int = 1) -> np.ndarray:
    a = _np(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of features (n, d); got shape {a.shape}")
    if len(a) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples; got {len(a)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf values ({int((~np.isfinite(a)).sum())} entries)")
    return a


def _pair(a, b, names=("feat_a", "feat_b"), min_rows: int = 1):
    x, y = _features(a, names[0], min_rows), _features(b, names[1], min_rows)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same feature dimension; got {x.shape[1]} "
                         f"and {y.shape[1]}")
    return x, y


def _int_arg(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise ValueError(f"{name} must be an int ≥ {lo}; got {value!r}")
    return int(value)


# ---------------------------------------------------------------- Inception Score

def inception_score(probs: Features | None = None, *, logits: Features | None = None, splits: int = 10,
                    shuffle: bool = True, seed: int = 2020) -> dict:
    """IS from class probabilities `probs` (N, C) (rows sum to 1) or from `logits` (N, C) (softmax taken in log
    space, as torch-fidelity does with Inception's `logits_unbiased`). Exactly one of the two.

    Returns {"inception_score_mean", "inception_score_std"} (std over the `splits` chunks, ddof = 0).
    IS lies in [1, C]: 1 when every sample has the same p(y|x), C when each chunk spreads one-hot p(y|x) evenly.
    """
    if (probs is None) == (logits is None):
        raise ValueError("inception_score needs exactly one of probs= or logits=")
    name = "probs" if logits is None else "logits"
    x = _features(probs if logits is None else logits, name)
    n = len(x)
    splits = _int_arg(splits, "splits", 1)
    if splits > n:
        raise ValueError(f"splits must be ≤ the number of samples ({n}); got {splits}")
    if logits is None:
        if (x < 0).any() or not np.allclose(x.sum(1), 1.0, rtol=0, atol=1e-4):
            raise ValueError("probs must be non-negative with rows summing to 1 (pass logits= for raw scores)")
        with np.errstate(divide="ignore"):
            logp = np.log(x)                       # −inf where p = 0; those terms are 0·(…) = 0 below
    else:
        logp = x - scipy.special.logsumexp(x, axis=1, keepdims=True)
    if shuffle:
        perm = np.random.RandomState(seed).permutation(n)
        logp = logp[perm]
    p = np.exp(logp)
    scores = []
    for i in range(splits):
        lp = logp[i * n // splits:(i + 1) * n // splits]
        pc = p[i * n // splits:(i + 1) * n // splits]
        with np.errstate(divide="ignore"):
            logq = np.broadcast_to(np.log(pc.mean(0)), pc.shape)   # −inf only where every p of the chunk is 0
        mask = pc > 0                                              # 0·log 0 = 0
        terms = np.zeros_like(pc)
        terms[mask] = pc[mask] * (lp[mask] - logq[mask])
        scores.append(math.exp(terms.sum(1).mean()))
    return {KEY_IS_MEAN: float(np.mean(scores)), KEY_IS_STD: float(np.std(scores))}


# ---------------------------------------------------------------- FID

def _thin_factor(x: np.ndarray) -> np.ndarray:
    """F with FᵀF = cov(x) (1/(n − 1)), F of shape (min(n, d), d): the scaled centred rows, or their QR's R."""
    xc = (x - x.mean(0)) / math.sqrt(len(x) - 1)
    if len(x) <= x.shape[1]:
        return xc
    return scipy.linalg.qr(xc, mode="r", overwrite_a=True, check_finite=False)[0][:x.shape[1]]


def fid_from_features(feat_a: Features, feat_b: Features) -> float:
    """Exact FID between feature sets (n, d) and (m, d), n, m ≥ 2, any n, m, d (see the module docstring).

    float64 throughout; the result is ≥ 0 (a rounding-level negative value is returned as 0.0).
    """
    a, b = _pair(feat_a, feat_b, min_rows=1)
    for nm, f in (("feat_a", a), ("feat_b", b)):
        if len(f) < 2:
            raise ValueError(f"{nm} needs at least 2 samples to estimate a covariance; got {len(f)}")
    fa, fb = _thin_factor(a), _thin_factor(b)
    diff = a.mean(0) - b.mean(0)
    nuclear = scipy.linalg.svdvals(fa @ fb.T, check_finite=False).sum()
    value = float(diff @ diff + np.sum(fa * fa) + np.sum(fb * fb) - 2.0 * nuclear)
    return max(value, 0.0)


def frechet_distance(mu1: npt.ArrayLike, sigma1: npt.ArrayLike, mu2: npt.ArrayLike,
                     sigma2: npt.ArrayLike) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) (the squared 2-Wasserstein distance between the Gaussians).

    The trace of the square root is Σ √λ over the eigenvalues of Σ₁Σ₂ (real and ≥ 0 for PSD inputs). As in
    pytorch-fid, an imaginary part above 1e-3 in the roots raises ValueError (the covariances are not positive
    semi-definite, or too ill-conditioned); smaller ones are rounding and dropped. With singular covariances
    (fitted on n ≤ d samples) each zero eigenvalue adds up to √eps·‖Σ‖ of rounding: prefer `fid_from_features`.
    """
    mu1, mu2 = _np(mu1).ravel(), _np(mu2).ravel()
    s1, s2 = np.atleast_2d(_np(sigma1)), np.atleast_2d(_np(sigma2))
    if s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size) or mu1.shape != mu2.shape:
        raise ValueError(f"shapes disagree: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {s1.shape}, sigma2 {s2.shape}"
                         " (expected (d,), (d,), (d, d), (d, d))")
    for nm, v in (("mu1", mu1), ("mu2", mu2), ("sigma1", s1), ("sigma2", s2)):
        if not np.isfinite(v).all():
            raise ValueError(f"{nm} holds NaN or inf values")
    for nm, s in (("sigma1", s1), ("sigma2", s2)):
        if not np.allclose(s, s.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(s).max())):
            raise ValueError(f"{nm} must be a symmetric covariance matrix")
    roots = np.sqrt(scipy.linalg.eigvals(s1 @ s2).astype(complex))
    imag = float(np.abs(roots.imag).max()) if roots.size else 0.0
    if imag > 1e-3:
        raise ValueError(f"Imaginary component {imag:.3g} in Tr (sigma1 sigma2)^(1/2): the covariances are not "
                         "positive semi-definite or too ill-conditioned; compute from features (fid_from_features)")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * roots.real.sum())


# ---------------------------------------------------------------- KID

def polynomial_kernel(x: npt.ArrayLike, y: npt.ArrayLike, degree: int = 3,
                      gamma: float | None = None, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (γ xᵀy + c₀)^degree, γ = 1/d by default, for x (n, d), y (m, d) → (n, m)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(feat_a: Features, feat_b: Features, degree: int = 3,
                  gamma: float | None = None, coef0: float = 1.0) -> float:
    """Unbiased MMD² with the polynomial kernel (Bińkowski et al. 2018, eq. 4); sets of sizes m, n ≥ 2."""
    x, y = _pair(feat_a, feat_b, min_rows=2)
    m, n = len(x), len(y)
    kxx, kyy = polynomial_kernel(x, x, degree, gamma, coef0), polynomial_kernel(y, y, degree, gamma, coef0)
    kxy = polynomial_kernel(x, y, degree, gamma, coef0)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid_from_features(feat_a: Features, feat_b: Features, subsets: int = 100, subset_size: int = 1000, seed: int = 2020,
                      degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> dict:
    """KID: unbiased MMD² over `subsets` random subsets of `subset_size` samples of each set.

    Returns {"kernel_inception_distance_mean", "kernel_inception_distance_std" (ddof = 0, the spread over subsets,
    as torch-fidelity and torchmetrics report), "subsets", "subset_size"}. Raises ValueError when either set has
    fewer than `subset_size` samples (every subset would be the whole set and the std meaningless).
    """
    x, y = _pair(feat_a, feat_b)
    subsets = _int_arg(subsets, "subsets", 1)
    subset_size = _int_arg(subset_size, "subset_size", 2)
    degree = _int_arg(degree, "degree", 1)
    if gamma is not None and not (isinstance(gamma, numbers.Real) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a finite number > 0 or None (1/d); got {gamma!r}")
    if not (isinstance(coef0, numbers.Real) and math.isfinite(coef0)):
        raise ValueError(f"coef0 must be a finite number; got {coef0!r}")
    if min(len(x), len(y)) < subset_size:
        raise ValueError(f"subset_size {subset_size} is larger than the number of samples (feat_a: {len(x)}, "
                         f"feat_b: {len(y)}); pass more samples or a smaller subset_size")
    rng = np.random.RandomState(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        xa = x[rng.choice(len(x), subset_size, replace=False)]
        yb = y[rng.choice(len(y), subset_size, replace=False)]
        vals[i] = mmd2_unbiased(xa, yb, degree, gamma, coef0)
    return {KEY_KID_MEAN: float(vals.mean()), KEY_KID_STD: float(vals.std()), "subsets": subsets,
            "subset_size": subset_size}


# ---------------------------------------------------------------- k-NN balls: precision/recall, density/coverage

def _torch_pair(real, fake, k: int, block_size: int):
    import torch

    k = _int_arg(k, "k", 1)
    block_size = _int_arg(block_size, "block_size", 1)
    ts = []
    for nm, v in (("real", real), ("fake", fake)):
        t = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v, dtype=np.float64))
        t = t.detach()
        if not t.is_floating_point():
            t = t.double()
        if t.dim() != 2:
            raise ValueError(f"{nm} must be a 2-D array of features (n, d); got shape {tuple(t.shape)}")
        if len(t) < k + 1:
            raise ValueError(f"{nm} needs at least k + 1 = {k + 1} samples for its k-NN radii; got {len(t)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{nm} holds NaN or inf values")
        ts.append(t)
    if ts[0].shape[1] != ts[1].shape[1]:
        raise ValueError(f"real and fake must have the same feature dimension; got {ts[0].shape[1]} and "
                         f"{ts[1].shape[1]}")
    return ts[0], ts[1].to(ts[0].device, ts[0].dtype), k, block_size


def _sq_dists(a, b):
    """Squared distances by the matrix product ‖a‖² + ‖b‖² − 2aᵀb (fast), and per row of a a bound on their rounding
    error: |fl − exact| ≤ 2(d + 2)·eps·(‖a_i‖² + max_j ‖b_j‖²) (each term is a sum of ≤ d products)."""
    na, nb = (a * a).sum(1), (b * b).sum(1)
    d2 = (na[:, None] + nb[None, :]).sub_(2 * (a @ b.T)).clamp_min_(0)
    tol = (2 * (a.shape[1] + 2) * _eps(a)) * (na + nb.max())
    return d2, tol[:, None]


def _eps(t) -> float:
    import torch

    return float(torch.finfo(t.dtype).eps)


def _exact_sq(a, b, rows, cols):
    """Σ (a_row − b_col)² for the listed pairs, elementwise: the same bits for a pair in any block or order."""
    return ((a[rows] - b[cols]) ** 2).sum(1)


def knn_radii(x: torch.Tensor, k: int, block_size: int = 1024) -> torch.Tensor:
    """Squared distance of each row of x (n, d) to its k-th nearest other row: (n,) tensor. The self-distance 0 is
    the first order statistic, so it is the (k + 1)-th smallest of the row. Found by the matrix-product distances,
    then decided on elementwise distances for every candidate within rounding of the k-th (`_sq_dists`), so a
    radius is the exact (elementwise) squared distance to a neighbour, as the ball test below computes it."""
    import torch

    out = []
    for start in range(0, len(x), block_size):
        xb = x[start:start + block_size]
        d2, tol = _sq_dists(xb, x)
        kth = d2.topk(k + 1, dim=1, largest=False).values[:, -1]   # topk: ~8× faster than kthvalue
        cand = d2 <= kth[:, None] + 2 * tol              # every pair whose exact value can be ≤ the k-th
        rows, cols = cand.nonzero(as_tuple=True)
        exact = torch.full_like(d2, math.inf)
        exact[rows, cols] = _exact_sq(xb, x, rows, cols)
        out.append(exact.topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(out)


def _ball_counts(points, centres, r2, block_size: int):
    """For each point: #centres whose closed ball (squared radius r2) holds it; for each centre: whether some
    point is in its ball. Pairs within rounding of a boundary are decided on elementwise distances."""
    import torch

    counts, hit = [], torch.zeros(len(centres), dtype=torch.bool, device=centres.device)
    for pb in points.split(block_size):
        d2, tol = _sq_dists(pb, centres)
        inside = d2 <= r2[None, :]
        rows, cols = ((d2 - r2[None, :]).abs() <= tol).nonzero(as_tuple=True)
        inside[rows, cols] = _exact_sq(pb, centres, rows, cols) <= r2[cols]
        counts.append(inside.sum(1))
        hit |= inside.any(0)
    return torch.cat(counts), hit


def precision_recall(real: Features, fake: Features, k: int = 3, block_size: int = 1024) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of `fake` (M, d) against `real` (N, d).

    Returns {"precision", "recall", "f_score"} (f_score = 2PR/max(1e-5, P + R), torch-fidelity's `prc` keys).
    """
    r, f, k, bs = _torch_pair(real, fake, k, block_size)
    in_real, _ = _ball_counts(f, r, knn_radii(r, k, bs), bs)
    in_fake, _ = _ball_counts(r, f, knn_radii(f, k, bs), bs)
    p, rc = float((in_real > 0).double().mean()), float((in_fake > 0).double().mean())
    return {"precision": p, "recall": rc, "f_score": 2 * p * rc / max(1e-5, p + rc)}


def density_coverage(real: Features, fake: Features, k: int = 5, block_size: int = 1024) -> dict:
    """Density and coverage (Naeem et al. 2020, eqs. 3–4) of `fake` (M, d) against `real` (N, d).

    density = (1/(kM)) Σ_j #{i : fake_j ∈ B(real_i, NND_k(real_i))} (unbounded above; ≈ 1 when fake ~ real);
    coverage = (1/N) #{i : B(real_i, NND_k(real_i)) holds some fake} ∈ [0, 1]. Returns {"density", "coverage"}.
    """
    r, f, k, bs = _torch_pair(real, fake, k, block_size)
    counts, hit = _ball_counts(f, r, knn_radii(r, k, bs), bs)
    return {"density": float(counts.double().sum() / (k * len(f))), "coverage": float(hit.double().mean())}
