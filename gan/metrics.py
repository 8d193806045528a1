"""Sample-quality metrics: mode coverage on Gaussian mixtures (VEEGAN/PacGAN), FID and KID on features.

Mixtures (Srivastava et al. 2017, VEEGAN, Sec. 5.1; Lin et al. 2018, PacGAN, Sec. 5.1), on n = 2,500 samples:
- each sample's nearest mode k(x) = argmin_k ‖x − μ_k‖; it is *high quality* (HQ) if ‖x − μ_k(x)‖ ≤ 3σ.
- modes captured = #{k : at least one HQ sample has nearest mode k}.
- hq_fraction = #HQ / n.
- reverse KL = KL(p̂ ‖ uniform) = Σ_k p̂_k log(K p̂_k) with 0 log 0 = 0, where p̂ is the histogram of the
  nearest modes of the HQ samples only (the PacGAN convention: low-quality samples belong to no mode),
  normalised to sum 1. It is 0 for a perfectly balanced cover and log K when all HQ mass sits on one mode;
  it is NaN when there is no HQ sample (the histogram is undefined).

FID (Heusel et al. 2017): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}) between Gaussians fitted to features
(covariances with the unbiased 1/(n−1) normalisation, matrix square root by scipy.linalg.sqrtm, real part).
KID (Bińkowski et al. 2018, eq. 4): unbiased MMD² with the kernel k(x, y) = (xᵀy/d + 1)³:
  1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j);
`kid` averages it over `subsets` random subsets of `subset_size` (as in their code) and reports the s.e.
Features come from an injectable extractor (any callable images → (N, d)); see `gan.features`.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg


def _np(x) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(x, dtype=np.float64)


def mode_metrics(samples, means, std: float) -> dict:
    """Mode coverage of `samples` (n, d) against mixture `means` (K, d) with component std `std`.

    Returns dict: modes (int), hq_fraction (float in [0, 1]), reverse_kl (float, NaN if no HQ sample),
    counts (list of K ints: HQ samples per mode), n (int).
    """
    x, mu = _np(samples), _np(means)
    if x.ndim != 2 or mu.ndim != 2 or x.shape[1] != mu.shape[1]:
        raise ValueError(f"samples (n, d) and means (K, d) must agree, got {x.shape} and {mu.shape}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}")
    d2 = ((x[:, None, :] - mu[None, :, :]) ** 2).sum(-1)  # (n, K)
    nearest = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(x)), nearest]) <= 3 * std
    hq &= np.isfinite(x).all(1)
    counts = np.bincount(nearest[hq], minlength=len(mu))
    total = counts.sum()
    if total == 0:
        rkl = math.nan
    else:
        p = counts / total
        nz = p > 0
        rkl = float(np.sum(p[nz] * np.log(len(mu) * p[nz])))
    return {"modes": int((counts > 0).sum()), "hq_fraction": float(hq.mean()) if len(x) else math.nan,
            "reverse_kl": rkl, "counts": counts.tolist(), "n": int(len(x))}


def stacked_mode_metrics(samples, classify, k: int = 3, n_classes: int = 10, batch_size: int = 1000) -> dict:
    """Mode coverage on stacked data (Metz et al. 2017 §3.3; PacGAN Table 3): each of the k channels of every
    sample (N, k, H, W) is labelled by `classify` ((B, 1, H, W) -> logits (B, n_classes) or labels (B,)); a
    sample's mode is its label tuple (n_classes^k modes). PacGAN uses N = 26,000 samples.

    Returns dict: modes (distinct tuples seen), kl (KL(mode histogram ‖ uniform over n_classes^k)
    = Σ_m p_m log(p_m·n_classes^k), nats), counts (histogram, length n_classes^k), n.
    """
    import torch

    x = torch.as_tensor(samples, dtype=torch.float32)
    if x.dim() != 4 or x.shape[1] != k:
        raise ValueError(f"samples must have shape (N, {k}, H, W); got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("samples is empty")
    labels = []
    with torch.no_grad():
        for c in range(k):
            out = []
            for i in range(0, len(x), batch_size):
                y = classify(x[i:i + batch_size, c:c + 1])
                y = torch.as_tensor(y)
                out.append(y.argmax(1) if y.dim() == 2 else y.long())
            labels.append(torch.cat(out))
    lab = torch.stack(labels)                                  # (k, N)
    if int(lab.min()) < 0 or int(lab.max()) >= n_classes:
        raise ValueError(f"classify returned labels outside [0, {n_classes - 1}]")
    modes = (lab * (n_classes ** torch.arange(k))[:, None]).sum(0)
    total = n_classes ** k
    counts = np.bincount(modes.numpy(), minlength=total)
    p = counts / counts.sum()
    nz = p > 0
    return {"modes": int(nz.sum()), "kl": float(np.sum(p[nz] * np.log(total * p[nz]))), "counts": counts.tolist(),
            "n": int(len(x))}


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) (the 2-Wasserstein distance² between the Gaussians)."""
    mu1, mu2 = _np(mu1).ravel(), _np(mu2).ravel()
    s1, s2 = np.atleast_2d(_np(sigma1)), np.atleast_2d(_np(sigma2))
    if s1.shape != s2.shape or s1.shape[0] != mu1.size or mu1.shape != mu2.shape:
        raise ValueError(f"shapes disagree: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # singular product: regularise as in Heusel et al.'s code
        eps = 1e-6 * np.eye(len(s1))
        covmean = scipy.linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_from_features(feat_a, feat_b) -> float:
    """FID between two feature sets (n, d) and (m, d)."""
    a, b = _np(feat_a), _np(feat_b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"features must be (n ≥ 2, d) with equal d, got {a.shape} and {b.shape}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def polynomial_kernel(x, y) -> np.ndarray:
    """k(x, y) = (xᵀy / d + 1)³, for x (n, d), y (m, d) → (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(feat_a, feat_b) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (Bińkowski et al. 2018, eq. 4)."""
    x, y = _np(feat_a), _np(feat_b)
    m, n = len(x), len(y)
    if m < 2 or n < 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be (n ≥ 2, d) with equal d, got {x.shape} and {y.shape}")
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kid_from_features(feat_a, feat_b, subsets: int = 10, subset_size: int = 1000, seed: int = 0) -> dict:
    """KID: mean and standard error of `mmd2_unbiased` over random subsets (without replacement in each)."""
    x, y = _np(feat_a), _np(feat_b)
    size = min(subset_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    vals = np.array([mmd2_unbiased(x[rng.choice(len(x), size, replace=False)],
                                   y[rng.choice(len(y), size, replace=False)]) for _ in range(subsets)])
    se = float(vals.std(ddof=1) / math.sqrt(subsets)) if subsets > 1 else math.nan
    return {"kid": float(vals.mean()), "kid_se": se, "subset_size": int(size), "subsets": int(subsets)}


def fid(real_images, fake_images, extractor, batch_size: int = 500) -> float:
    """FID between image sets using `extractor` (callable (B, C, H, W) tensor → (B, d) features)."""
    return fid_from_features(extract(extractor, real_images, batch_size), extract(extractor, fake_images, batch_size))


def kid(real_images, fake_images, extractor, batch_size: int = 500, **kw) -> dict:
    return kid_from_features(extract(extractor, real_images, batch_size),
                             extract(extractor, fake_images, batch_size), **kw)


def extract(extractor, images, batch_size: int = 500) -> np.ndarray:
    """Apply `extractor` in batches without gradients; returns float64 (N, d)."""
    import torch

    images = torch.as_tensor(images)
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            out.append(_np(extractor(images[i:i + batch_size])).reshape(min(batch_size, len(images) - i), -1))
    return np.concatenate(out)
