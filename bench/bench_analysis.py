"""simulate (vectorised over 10^5 initial points) vs the per-step Python loop of the source material.

Sweep: 10^5 initial points x 10^3 steps of simultaneous GDA on V = x*y at lr 0.1.

Baseline: the source's loop, one initial point at a time, `for _ in range(steps): x, y = x + lr*y, y - lr*x`
appending every iterate to lists. It is timed on SUBSET points and extrapolated linearly to 10^5 points (its
cost is exactly proportional to points x steps; the extrapolation is the only estimate in the table).

simulate rows (each timed in this process: one warm-up call, then the best of REPEATS):
- "linear path": the default on linear games -- w_t = (M^t P) w_0 with the float64 powers of the step matrix
  for the recorded t only, applied to all points with one matrix product per player (memory-bound);
- "step loop": fast=False, the generic per-step vectorised loop (what every non-linear game runs).
Most rows record every 10th iterate (101 records: 162 MB in float64) -- the baseline keeps all 1001; the
"full trajectory" rows keep all 1001 like the baseline (1.6 GB in float64, bound by memory bandwidth) and the
"final iterate" row only the last (a sweep's usual output). torch CPU rows run with --threads intra-op threads
(default 1: on a shared 2-core machine a second thread only adds hand-off cost); numpy's BLAS follows
OMP_NUM_THREADS. CUDA rows appear when torch sees a GPU.

Usage: python bench/bench_analysis.py [--threads N] [--no-full] [--fits]

--fits only: one D(P || Q) evaluation of fit_gaussian's objective (TV, P = 1/2 N(-3,1) + 1/2 N(3,1),
Q = N(0.3, 3.2^2)) by the piecewise Gauss-Legendre integral against the previous 20001-point trapezoid grid,
timed in this process, with each one's error against the exact CDF value.
"""
import argparse
import time

import numpy as np
import torch

import analysis
from analysis import games

N, STEPS, LR, SUBSET, REPEATS = 100_000, 1_000, 0.1, 300, 3


def baseline(x0s, y0s):
    out = []
    for x, y in zip(x0s, y0s):
        xs, ys = [x], [y]
        for _ in range(STEPS):
            x, y = x + LR * y, y - LR * x
            xs.append(x); ys.append(y)
        out.append((xs, ys))
    return out


def baseline_final(x0s, y0s):
    """The same loop keeping only the final iterate: the like-for-like baseline of the "final iterate" row."""
    out = []
    for x, y in zip(x0s, y0s):
        for _ in range(STEPS):
            x, y = x + LR * y, y - LR * x
        out.append((x, y))
    return out


def timed(fn, repeats=REPEATS, sync=lambda: None):
    """Best wall time of `repeats` calls after one warm-up call."""
    fn(); sync()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); fn(); sync(); best = min(best, time.perf_counter() - t)
    return best


def bench_fits():
    """Time and error of one TV objective evaluation: piecewise (now) vs a 20001-point trapezoid (before)."""
    from scipy import optimize, stats

    import divkit
    from analysis import fits

    d, means, stds, m, s = divkit.get("tv"), np.array([-3.0, 3.0]), np.array([1.0, 1.0]), 0.3, 3.2
    P, Q = [stats.norm(mk, 1.0) for mk in means], stats.norm(m, s)
    diff = lambda x: sum(c.pdf(x) for c in P) / 2 - Q.pdf(x)
    g = np.linspace(-60, 60, 400001)
    v = diff(g)
    roots = [optimize.brentq(diff, g[i], g[i + 1], xtol=1e-15) for i in np.flatnonzero(v[:-1] * v[1:] < 0)]
    edges = [-np.inf, *roots, np.inf]
    mass = lambda a, b: sum(c.cdf(b) - c.cdf(a) for c in P) / 2 - (Q.cdf(b) - Q.cdf(a))
    exact = 0.5 * sum(abs(mass(a, b)) for a, b in zip(edges[:-1], edges[1:]))
    lo, hi = float(np.min(means - 12 * stds)) - 1, float(np.max(means + 12 * stds)) + 1
    lo, hi = min(lo, m - 12 * s - 1), max(hi, m + 12 * s + 1)
    x = np.linspace(means.min() - 17, means.max() + 17, 20001)  # the old grid (+-12 std + 5)
    p = fits.mixture_pdf(x, means, stds)
    trap = lambda: np.trapezoid(d.integrand(p, fits.normal_pdf(x, m, s)), x)
    piece = lambda: fits.piecewise_integral(d, means, stds, None, m, s, lo, hi)
    t_trap, t_piece = timed(trap, repeats=20), timed(piece, repeats=20)
    print(f"TV objective, one evaluation (exact {exact:.15f}); best of 20 after a warm-up")
    print(f"{'method':40s} {'seconds':>9s} {'ratio':>7s} {'abs. error':>11s}")
    for name, t, val in (("trapezoid, 20001 points (before)", t_trap, trap()),
                         ("piecewise Gauss-Legendre (now)", t_piece, piece())):
        print(f"{name:40s} {t:9.5f} {t / t_trap:6.2f}x {abs(val - exact):11.1e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU intra-op threads (default 1)")
    ap.add_argument("--no-full", action="store_true", help="skip the 1.6 GB full-trajectory rows")
    ap.add_argument("--fits", action="store_true", help="only the fit_gaussian objective timing")
    a = ap.parse_args(argv)
    if a.fits:
        return bench_fits()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    x0, y0 = rng.normal(size=N), rng.normal(size=N)
    t_sub = timed(lambda: baseline(x0[:SUBSET].tolist(), y0[:SUBSET].tolist()), repeats=1)
    t_base = t_sub * N / SUBSET
    t_base_final = timed(lambda: baseline_final(x0[:SUBSET].tolist(), y0[:SUBSET].tolist()), repeats=1) * N / SUBSET
    g = games.Bilinear()

    def sim(x, y, record=10, fast=None):
        tr = analysis.simulate(g, "simultaneous", lr=LR, steps=STEPS, x0=x, y0=y, record=record, fast=fast)
        assert tr.path == ("loop" if fast is False else "linear")
        return tr

    x32, y32 = x0.astype(np.float32), y0.astype(np.float32)
    xt, yt = torch.tensor(x0), torch.tensor(y0)
    rows = [(f"python loop, full (extrapolated from {SUBSET} points)", t_base),
            (f"python loop, final only (extrapolated from {SUBSET})", t_base_final)]
    rows.append(("linear path numpy f64, record every 10", timed(lambda: sim(x0, y0))))
    rows.append(("linear path numpy f32, record every 10", timed(lambda: sim(x32, y32))))
    rows.append(("linear path numpy f64, final iterate only", timed(lambda: sim(x0, y0, record=STEPS))))
    rows.append(("linear path torch CPU f64, record every 10", timed(lambda: sim(xt, yt))))
    rows.append(("linear path torch CPU f32, record every 10", timed(lambda: sim(xt.float(), yt.float()))))
    if not a.no_full:
        rows.append(("linear path numpy f64, full trajectory", timed(lambda: sim(x0, y0, record=1), repeats=1)))
        rows.append(("linear path numpy f32, full trajectory", timed(lambda: sim(x32, y32, record=1), repeats=1)))
    rows.append(("step loop numpy f64, record every 10", timed(lambda: sim(x0, y0, fast=False), repeats=1)))
    rows.append(("step loop numpy f32, record every 10", timed(lambda: sim(x32, y32, fast=False), repeats=1)))
    rows.append(("step loop torch CPU f32, record every 10",
                 timed(lambda: sim(xt.float(), yt.float(), fast=False), repeats=1)))
    if torch.cuda.is_available():
        sync = torch.cuda.synchronize
        xc, yc = xt.cuda(), yt.cuda()
        for name, fast, rec in (("linear path torch CUDA f64, full trajectory", None, 1),
                                ("step loop torch CUDA f64, full trajectory", False, 1)):
            rows.append((name, timed(lambda: sim(xc, yc, record=rec, fast=fast), sync=sync)))
    print(f"sweep: {N} initial points x {STEPS} steps, simultaneous GDA on x*y, lr {LR}; "
          f"torch threads {torch.get_num_threads()}; best of {REPEATS} after a warm-up (1 for slow rows)")
    print("speed-up: against the source's loop (keeps every iterate); like-for-like: against the loop that keeps "
          "what the row keeps (the final-only loop for 'final iterate' rows)")
    print(f"{'method':52s} {'seconds':>9s} {'speed-up':>9s} {'like-for-like':>14s}")
    for name, t in rows:
        like = t_base_final if "final" in name else t_base
        print(f"{name:52s} {t:9.4f} {t_base / t:8.0f}x {like / t:13.0f}x")


if __name__ == "__main__":
    main()
