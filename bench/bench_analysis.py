"""simulate (vectorised over 10^5 initial points) vs the per-step Python loop of the source material.

Baseline: the source's loop, one initial point at a time, `for _ in range(steps): x, y = x + lr*y, y - lr*x`
appending to lists; timed on a subset of points and extrapolated linearly to 10^5 points (the loop's cost is
exactly proportional to points x steps). simulate runs the whole 10^5 x 10^3 sweep (numpy float64, recording
every 10th iterate to bound memory at 160 MB; record=1 is also timed), and on torch CUDA when available.
"""
import time

import numpy as np
import torch

import analysis
from analysis import games

N, STEPS, LR, SUBSET = 100_000, 1_000, 0.1, 300


def baseline(x0s, y0s):
    out = []
    for x, y in zip(x0s, y0s):
        xs, ys = [x], [y]
        for _ in range(STEPS):
            x, y = x + LR * y, y - LR * x
            xs.append(x); ys.append(y)
        out.append((xs, ys))
    return out


def timed(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t


def main():
    rng = np.random.default_rng(0)
    x0, y0 = rng.normal(size=N), rng.normal(size=N)
    t_sub = timed(lambda: baseline(x0[:SUBSET].tolist(), y0[:SUBSET].tolist()))
    t_base = t_sub * N / SUBSET
    g = games.Bilinear()
    rows = [("python loop (extrapolated from %d points)" % SUBSET, t_base)]
    rows.append(("simulate numpy, record every 10", timed(lambda: analysis.simulate(
        g, "simultaneous", lr=LR, steps=STEPS, x0=x0, y0=y0, record=10))))
    rows.append(("simulate numpy, full trajectory", timed(lambda: analysis.simulate(
        g, "simultaneous", lr=LR, steps=STEPS, x0=x0, y0=y0))))
    rows.append(("simulate numpy float32, record every 10", timed(lambda: analysis.simulate(
        g, "simultaneous", lr=LR, steps=STEPS, x0=x0.astype(np.float32), y0=y0.astype(np.float32), record=10))))
    if torch.cuda.is_available():
        xt, yt = torch.tensor(x0, device="cuda"), torch.tensor(y0, device="cuda")
        analysis.simulate(g, "simultaneous", lr=LR, steps=10, x0=xt, y0=yt)
        torch.cuda.synchronize()
        rows.append(("simulate torch CUDA float64, full", timed(lambda: (analysis.simulate(
            g, "simultaneous", lr=LR, steps=STEPS, x0=xt, y0=yt), torch.cuda.synchronize()))))
    print(f"sweep: {N} initial points x {STEPS} steps, simultaneous GDA on x*y")
    print(f"{'method':48s} {'seconds':>9s} {'speed-up':>9s}")
    for name, t in rows:
        print(f"{name:48s} {t:9.3f} {t_base / t:8.0f}x")


if __name__ == "__main__":
    main()
