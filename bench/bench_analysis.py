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

Usage: python bench/bench_analysis.py [--threads N] [--no-full]
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU intra-op threads (default 1)")
    ap.add_argument("--no-full", action="store_true", help="skip the 1.6 GB full-trajectory rows")
    a = ap.parse_args(argv)
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
