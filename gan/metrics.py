"""Sample-quality metrics: mode coverage on Gaussian mixtures (VEEGAN/PacGAN), FID and KID on features.

Mixtures (Srivastava et al. 2017, VEEGAN, Sec. 5.1; Lin et al. 2018, PacGAN, Sec. 5.1), on n = 2,500 samples:
- each sample's nearest mode k(x) = argmin_k ‖x − μ_k‖; it is *high quality* (HQ) if ‖x − μ_k(x)‖ ≤ 3σ.
- modes captured = #{k : at least one HQ sample has nearest mode k}.
- hq_fraction = #HQ / n.
- reverse KL = KL(p̂ ‖ uniform) = Σ_k p̂_k log(K p̂_k) with 0 log 0 = 0, where p̂ is the histogram of the
  nearest modes of the HQ samples only (the PacGAN convention: low-quality samples belong to no mode),
  normalised to sum 1. It is 0 for a perfectly balanced cover and log K when all HQ mass sits on one mode;
  it is NaN when there is no HQ sample (the histogram is undefined).

Image metrics on features (IS, exact FID, KID, precision/recall, density/coverage) live in `gan.image_metrics`
and are re-exported here; `fid`/`kid` below apply an injectable extractor (any callable images → (N, d); see
`gan.features`) first.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    import torch

    Images = torch.Tensor | npt.ArrayLike
    Extractor = Callable[[torch.Tensor], torch.Tensor]

from .image_metrics import (  # noqa: F401
    _np,  # noqa: F401  (re-used by callers of gan.metrics)
    density_coverage,
    fid_from_features,
    frechet_distance,
    inception_score,
    kid_from_features,
    mmd2_unbiased,
    polynomial_kernel,
    precision_recall,
)


def mode_metrics(samples: npt.ArrayLike | torch.Tensor, means: npt.ArrayLike, std: float) -> dict:
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


def stacked_mode_metrics(samples: torch.Tensor | npt.ArrayLike, classify: Callable[[torch.Tensor], torch.Tensor],
                         k: int = 3, n_classes: int = 10, batch_size: int = 1000) -> dict:
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


def fid(real_images: Images, fake_images: Images, extractor: Extractor, batch_size: int = 500) -> float:
    """Exact FID between image sets using `extractor` (callable (B, C, H, W) tensor → (B, d) features)."""
    return fid_from_features(extract(extractor, real_images, batch_size), extract(extractor, fake_images, batch_size))


def kid(real_images: Images, fake_images: Images, extractor: Extractor, batch_size: int = 500,
        **kw: Any) -> dict:
    """KID between image sets (keyword arguments of `kid_from_features`: subsets, subset_size, seed, ...)."""
    return kid_from_features(extract(extractor, real_images, batch_size),
                             extract(extractor, fake_images, batch_size), **kw)


def extract(extractor: Extractor, images: Images, batch_size: int = 500) -> np.ndarray:
    """Apply `extractor` in batches without gradients; returns float64 (N, d)."""
    import torch

    images = torch.as_tensor(images)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1; got {batch_size}")
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            out.append(_np(extractor(images[i:i + batch_size])).reshape(min(batch_size, len(images) - i), -1))
    return np.concatenate(out)
