"""Benchmarks for divkit: each row times an implementation against a baseline run in this process.

    python bench/bench_divkit.py            # full sizes
    python bench/bench_divkit.py --quick    # small sizes (smoke run)

Then it runs closed_form_kl.py's KL table (10^7-entry probability vectors vs scipy rel_entr, 10^6 Normal
pairs vs torch.distributions.kl_divergence), so one command prints every issue-2 ratio.

Rows live in the module-level list ROWS of (name, fn, baseline_fn[, baseline_scale]) where fn and
baseline_fn take no arguments; baseline_scale (default 1) multiplies the measured baseline time, for
baselines too slow to run in full (the row says how it was extrapolated). Other topics append their rows
to ROWS (e.g. `ROWS += kl_rows(quick)`) before `main()` prints the table of ratios baseline / fn.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from divkit.legendre import legendre_transform  # noqa: E402


def best_time(fn, repeat=3, min_time=0.2):
    """Best wall time of one call (repeats until min_time has elapsed, at least `repeat` calls)."""
    best, total, n = float("inf"), 0.0, 0
    while n < repeat or total < min_time:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total, n = min(best, dt), total + dt, n + 1
        if dt > 5.0 and n >= 1:  # a slow baseline: one run is enough
            break
    return best


def brute_force_legendre(u, fu, t, chunk=256):
    """max_i (t_j u_i − f_i), dense numpy in chunks of t: O(n·m) time, O(chunk·n) memory."""
    out = np.empty(t.shape)
    for s in range(0, t.size, chunk):
        tt = t[s:s + chunk, None]
        out[s:s + chunk] = (tt * u[None, :] - fu[None, :]).max(axis=1)
    return out


def legendre_rows(quick=False):
    """LLT vs brute force: full brute force at n = 1e4; at n = 1e5 the brute force is timed on 1% of t and
    scaled ×100 (its cost is exactly linear in the number of t: one independent max per t)."""
    rows = []
    sizes = [(10**3, 1.0), (10**4, 1.0)] if quick else [(10**4, 1.0), (10**5, 0.01)]
    for n, frac in sizes:
        u = np.linspace(0.0, 50.0, n)
        fu = np.where(u > 0, u * np.log(np.where(u > 0, u, 1.0)), 0.0)  # KL generator (convex)
        rng = np.random.default_rng(0)
        f_rough = fu + rng.normal(size=n)  # non-convex samples: the monotone-chain path
        t = np.linspace(-5.0, 5.0, n)
        m = max(1, int(round(frac * n)))
        t_sub = t[:: max(1, n // m)][:m]
        scale = t.size / t_sub.size
        for label, f in (("convex f (KL)", fu), ("rough f (KL + noise)", f_rough)):
            # correctness on the timed subset before timing
            ref = brute_force_legendre(u, f, t_sub)
            got = legendre_transform(u, f, t_sub)
            err = np.max(np.abs(got - ref))
            assert err <= 1e-9 * (1 + np.abs(ref).max()), f"LLT disagrees with brute force: {err}"
            note = "" if scale == 1 else f"; brute on {t_sub.size} t ×{scale:g}"
            rows.append((f"legendre n=m={n:.0e} {label}{note}",
                         (lambda u=u, f=f, t=t: legendre_transform(u, f, t)),
                         (lambda u=u, f=f, ts=t_sub: brute_force_legendre(u, f, ts)),
                         scale))
    return rows


ROWS: list = []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = ap.parse_args(argv)
    ROWS.extend(legendre_rows(args.quick))
    print(f"{'benchmark':<62} {'ours [s]':>10} {'baseline [s]':>13} {'ratio':>9}")
    print("-" * 97)
    results = []
    for row in ROWS:
        name, fn, base = row[:3]
        scale = row[3] if len(row) > 3 else 1.0
        t_fn = best_time(fn)
        t_base = best_time(base, repeat=2, min_time=0.0) * scale
        results.append((name, t_fn, t_base))
        print(f"{name:<62} {t_fn:>10.4f} {t_base:>13.4f} {t_base / t_fn:>8.0f}x")
    return results


if __name__ == "__main__":
    main()
    # the closed-form KL rows (probability vectors vs scipy rel_entr, Normal pairs vs torch kl_divergence)
    import closed_form_kl  # noqa: E402  (same folder)

    print()
    closed_form_kl.main()
