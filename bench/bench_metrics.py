"""Image metrics: speed and accuracy against the baselines they replace, in one process.

1. FID from features: `gan.image_metrics.fid_from_features` (nuclear norm of thin factors) against the pytorch-fid
   route (covariances, `scipy.linalg.sqrtm(Σ₁Σ₂)`, real part), on a set against itself (true FID 0) and on
   near-identical sets (reference: the exact route in float64, checked against mpmath in the tests).
2. Precision/recall + density/coverage: matrix-product distances with elementwise re-checks at the ball boundaries
   (ours) against elementwise `torch.cdist(compute_mode="donot_use_mm_for_euclid_dist")` for every pair.

    python bench/bench_metrics.py            # d = 512, n = 300; PR/DC n = 2000, d = 128
    python bench/bench_metrics.py --full     # d = 2048, n = 500 (issue 13's case); PR/DC n = 5000
Prints a table with times and ratios (baseline / ours).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402

from gan import image_metrics as im  # noqa: E402


def _timed(fn, *a):
    t = time.perf_counter()
    out = fn(*a)
    return out, time.perf_counter() - t


def fid_sqrtm(a, b):
    """pytorch-fid's calculate_frechet_distance on fitted statistics (sqrtm, eps offset if not finite, real part)."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        off = np.eye(len(s1)) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = np.real(covmean)
    d = mu1 - mu2
    return float(d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def prdc_elementwise(real, fake, k_pr=3, k_dc=5):
    def cd(x, y):
        return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")

    def radii(x, k):
        return cd(x, x).topk(k + 1, dim=1, largest=False).values[:, -1]

    rr, rf, rr5 = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    d = cd(fake, real)
    return {"precision": float((d <= rr).any(1).double().mean()), "recall": float((d.T <= rf).any(1).double().mean()),
            "density": float((d <= rr5).sum() / (k_dc * len(fake))), "coverage": float((d <= rr5).any(0).double().mean())}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--full", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    d, n = (2048, 500) if args.full else (512, 300)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, d))
    near = a + 1e-3 * rng.normal(size=(n, d))
    print(f"FID, d = {d}, n = {n} (singular covariances), 1 thread")
    print("| case | exact (ours) | s | sqrtm (pytorch-fid) | s | time ratio |")
    print("|---|---|---|---|---|---|")
    for name, b in (("set vs itself (true 0)", a), ("near-identical sets", near)):
        ours, t1 = _timed(im.fid_from_features, a, b)
        base, t2 = _timed(fid_sqrtm, a, b)
        print(f"| {name} | {ours:.6g} | {t1:.2f} | {base:.6g} ({(base - ours) / max(ours, 1e-300):+.2%}) | {t2:.2f} | "
              f"{t2 / t1:.0f}× |" if ours > 0 else
              f"| {name} | {ours:.3g} | {t1:.2f} | {base:.3g} | {t2:.2f} | {t2 / t1:.0f}× |")
    m = 5000 if args.full else 2000
    g = torch.Generator().manual_seed(0)
    real = torch.randn(m, 128, generator=g, dtype=torch.float64)
    fake = 1.1 * torch.randn(m, 128, generator=g, dtype=torch.float64) + 0.1
    ours, t1 = _timed(lambda: {**im.precision_recall(real, fake), **im.density_coverage(real, fake)})
    base, t2 = _timed(prdc_elementwise, real, fake)
    diff = max(abs(ours[k] - base[k]) for k in base)
    print(f"\nPR + DC, n = {m}, d = 128: ours {t1:.2f} s, elementwise cdist {t2:.2f} s, ratio {t2 / t1:.1f}×, "
          f"largest difference {diff:.2g} (one different ball decision moves a value by ≥ 1/(5n) = {1 / (5 * m):.2g})")


if __name__ == "__main__":
    main()
