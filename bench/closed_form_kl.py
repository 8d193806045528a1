"""Speed of dk.divergence's KL paths against the obvious baselines, same process.

1. KL between probability vectors, 10^7 entries (float64, one vector), default validation on:
   dk.divergence(p, q, "kl") vs scipy.special.rel_entr(p, q).sum(-1).
2. KL between 10^6 univariate Normal pairs (float32 and float64 torch):
   dk.divergence(P, Q, "kl") vs torch.distributions.kl_divergence(P, Q).
Ratio = baseline time / divkit time (> 1: divkit faster), from 15 interleaved repeats: "ratio" uses the minimum
of each (the least disturbed run), "median" the median of the per-repeat ratios (robust on a shared machine).

    python bench/closed_form_kl.py   (also run by bench/bench_divkit.py)
"""
from __future__ import annotations

import time

import numpy as np
import scipy.special
import torch

import divkit as dk


def _pair_times(base, ours, repeat=15):
    """Interleaved runs (the machine may be shared): (min baseline, min ours, median of baseline/ours)."""
    base(), ours()
    tb, to = [], []
    for _ in range(repeat):
        for fn, ts in ((base, tb), (ours, to)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return min(tb), min(to), float(np.median(np.array(tb) / np.array(to)))


def main():
    rows = []
    rng = np.random.default_rng(0)
    n = 10 ** 7
    p = rng.random(n)
    p /= p.sum()
    q = rng.random(n)
    q /= q.sum()
    a = dk.divergence(p, q, "kl")
    b = scipy.special.rel_entr(p, q).sum(-1)
    assert abs(a - b) <= 1e-9 * abs(b), (a, b)
    rows.append(("KL prob. vectors 1e7 (numpy f64)", "scipy rel_entr.sum",
                 *_pair_times(lambda: scipy.special.rel_entr(p, q).sum(-1), lambda: dk.divergence(p, q, "kl"))))
    rows.append(("  same, validate=False", "scipy rel_entr.sum",
                 *_pair_times(lambda: scipy.special.rel_entr(p, q).sum(-1),
                              lambda: dk.divergence(p, q, "kl", validate=False))))

    threads = torch.get_num_threads()
    for nt, dtype in [(threads, torch.float32), (threads, torch.float64), (1, torch.float32), (1, torch.float64)]:
        torch.set_num_threads(nt)
        g = torch.Generator().manual_seed(0)
        m = 10 ** 6
        P = torch.distributions.Normal(torch.randn(m, generator=g, dtype=dtype),
                                       torch.rand(m, generator=g, dtype=dtype) + 0.1)
        Q = torch.distributions.Normal(torch.randn(m, generator=g, dtype=dtype),
                                       torch.rand(m, generator=g, dtype=dtype) + 0.1)
        ref = torch.distributions.kl_divergence(P, Q)
        got = dk.divergence(P, Q, "kl")
        tol = 1e-4 if dtype == torch.float32 else 1e-10
        assert torch.allclose(got, ref, rtol=tol, atol=tol), (got - ref).abs().max()
        rows.append((f"KL Normal pairs 1e6 ({str(dtype)[6:]}, {nt} thr)", "torch kl_divergence",
                     *_pair_times(lambda: torch.distributions.kl_divergence(P, Q), lambda: dk.divergence(P, Q, "kl"))))
    torch.set_num_threads(threads)

    print(f"{'case':<40}{'baseline':<22}{'baseline ms':>12}{'divkit ms':>11}{'ratio':>8}{'median':>8}")
    for case, base, tb, td, med in rows:
        print(f"{case:<40}{base:<22}{tb * 1e3:12.2f}{td * 1e3:11.2f}{tb / td:8.2f}{med:8.2f}")


if __name__ == "__main__":
    main()
