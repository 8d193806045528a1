"""Speed of dk.divergence's KL paths against the obvious baselines, same process.

1. KL between probability vectors, 10^7 entries (float64, one vector), default validation on:
   dk.divergence(p, q, "kl") vs scipy.special.rel_entr(p, q).sum(-1).
2. KL between 10^6 univariate Normal pairs (float32 and float64 torch):
   dk.divergence(P, Q, "kl") vs torch.distributions.kl_divergence(P, Q).
Ratio = baseline time / divkit time (> 1: divkit faster). Minimum of 15 interleaved repeats (robust on a shared machine).

    python bench/closed_form_kl.py   (also run by bench/bench_divkit.py)
"""
from __future__ import annotations

import time

import numpy as np
import scipy.special
import torch

import divkit as dk


def _pair_times(base, ours, repeat=15):
    """Interleaved runs (the machine may be shared); the minimum of each is the least disturbed."""
    base(), ours()
    tb, to = [], []
    for _ in range(repeat):
        for fn, ts in ((base, tb), (ours, to)):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return min(tb), min(to)


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
    tb, td = _pair_times(lambda: scipy.special.rel_entr(p, q).sum(-1), lambda: dk.divergence(p, q, "kl"))
    rows.append(("KL prob. vectors 1e7 (numpy f64)", "scipy rel_entr.sum", tb, td))
    tb, tdn = _pair_times(lambda: scipy.special.rel_entr(p, q).sum(-1),
                          lambda: dk.divergence(p, q, "kl", validate=False))
    rows.append(("  same, validate=False", "scipy rel_entr.sum", tb, tdn))

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
        tb, td = _pair_times(lambda: torch.distributions.kl_divergence(P, Q), lambda: dk.divergence(P, Q, "kl"))
        rows.append((f"KL Normal pairs 1e6 ({str(dtype)[6:]}, {nt} thr)", "torch kl_divergence", tb, td))
    torch.set_num_threads(threads)

    print(f"{'case':<40}{'baseline':<22}{'baseline ms':>12}{'divkit ms':>11}{'ratio':>8}")
    for case, base, tb, td in rows:
        print(f"{case:<40}{base:<22}{tb * 1e3:12.2f}{td * 1e3:11.2f}{tb / td:8.2f}")


if __name__ == "__main__":
    main()
