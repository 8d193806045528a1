"""MI estimator training speed: divkit.mi.fit vs a plain hand-written PyTorch loop, same critic, same bound.

    python bench/bench_mi.py [--steps 200] [--concat-steps 40] [--repeats 7] [--device cpu|cuda] [--threads 1]
                             [--clock cpu|wall]
    python bench/bench_mi.py --thread-sweep 1,2 [--steps 100] [--repeats 3]     (fit's speed per thread count)

What is compared (fair both ways):
  * the same critic module (`divkit.mi.make_critic`, d = 20, hidden 256, 2 hidden layers, 32-d embeddings),
    each timed run starting from a fresh copy of the same initial weights;
  * the same pre-generated minibatches (K = 64 correlated Gaussian pairs, MI = 4 nats), already on the device;
  * the same optimiser (Adam, lr 5e-4, default betas, created inside each run), the same number of steps, and
    both keep the per-step value on the device and copy the history out once at the end. `fit` builds Adam in
    its fused implementation where torch supports it (same update, other rounding order); the plain loop uses
    `torch.optim.Adam(params, lr)` as a user writes it, or the fused one too with --plain-fused, which leaves
    only the library's own machinery (validation, estimator module, bounds) in the ratio;
  * the same bound: the plain loop writes it inline the way a user's script would (logsumexp with a −inf
    diagonal, exp(S − 1) for NWJ, the JS/SMILE stop-gradient sum), ours goes through `divkit.mi.fit` and
    `divkit.bounds` (input validation, overflow-safe NWJ, the estimator module). The column max|Δ| is the
    largest difference between the two per-step value histories: it shows both loops train the same thing.
  * timing: one untimed warm-up run of each loop, then --repeats rounds, each timing ours and plain back to
    back in alternating order (ours first in even rounds, plain first in odd ones) so that a load change on a
    shared machine hits both; reported: the median steps/s of each and the median (and quartiles: the noise)
    of the per-round ratios.
  * clock: on the CPU with one thread the default is the process CPU time (`time.process_time`), which does not
    count the time the process waits while another job holds the core; `--clock wall` times wall-clock
    (always used on CUDA, where the work is not CPU time).
Ratio = our steps/s ÷ plain steps/s (≥ 1.0: no overhead from the library). The concat critic scores all K² pairs
(~40 ms a step on one CPU core), hence its shorter --concat-steps.

The SMILE setting of `divkit.mi.benchmark` (the accuracy claim) follows Song & Ermon's code,
github.com/ermongroup/smile-mi-estimator, files utils.py (`mlp`: layers = 2 builds 3 hidden ReLU layers) and
demo.ipynb (hidden 256, embed 32, K = 64, Adam 5e-4, 20,000 steps); see docs/mi.md. This script only times
training steps: the critic depth does not change what is compared.
"""
from __future__ import annotations

import argparse
import copy
import functools
import math
import statistics
import time

import torch

import divkit as dk
from divkit.mi import fit, make_critic, make_estimator


def plain_bound(name, s):
    """The bounds written inline, the way a user's script would (logsumexp with a -inf diagonal)."""
    k = s.shape[0]
    eye = torch.eye(k, dtype=torch.bool, device=s.device)
    diag = s.diagonal()
    if name == "infonce":
        return (diag - torch.logsumexp(s, 1)).mean() + math.log(k)
    if name == "nwj":
        return diag.mean() - torch.exp(s - 1.0).masked_fill(eye, 0.0).sum() / (k * (k - 1))
    lme = torch.logsumexp(s.masked_fill(eye, -math.inf).flatten(), 0) - math.log(k * (k - 1))
    if name == "dv":
        return diag.mean() - lme
    if name == "smile":
        js = -torch.nn.functional.softplus(-diag).mean() - \
            torch.nn.functional.softplus(s).masked_fill(eye, 0.0).sum() / (k * (k - 1))
        lme_c = torch.logsumexp(s.clamp(-5, 5).masked_fill(eye, -math.inf).flatten(), 0) - math.log(k * (k - 1))
        return js + (diag.mean() - lme_c - js).detach()
    raise ValueError(f"plain_bound: unknown name {name!r}")


def plain_loop(critic, name, batches, lr, fused=False):
    opt = torch.optim.Adam(critic.parameters(), lr=lr, **({"fused": True} if fused else {}))
    vals = []
    for x, y in batches:
        b = plain_bound(name, critic(x, y))
        opt.zero_grad(set_to_none=True)
        (-b).backward()
        opt.step()
        vals.append(b.detach())
    return torch.stack(vals).to("cpu", torch.float64).numpy()


def ours(critic, name, batches, lr):
    return fit(critic, make_estimator(name), lambda i: batches[i], len(batches), lr=lr, progress=False)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pair(base, name, batches, repeats, dev, clock=time.perf_counter, lr=5e-4, plain_fused=False):
    """Median steps/s of ours and plain, median and quartiles of the per-round ratios, max |Δ| between the
    value histories."""
    loops = {"ours": ours, "plain": functools.partial(plain_loop, fused=plain_fused)}
    for fn in loops.values():  # warm-up (allocator, kernels, lazy init), not timed
        fn(copy.deepcopy(base), name, batches[:5], lr)
    rate = {"ours": [], "plain": []}
    hist = {}
    for r in range(repeats):
        for label in (("ours", "plain") if r % 2 == 0 else ("plain", "ours")):
            c = copy.deepcopy(base)
            sync(dev)
            t0 = clock()
            hist[label] = loops[label](c, name, batches, lr)
            sync(dev)
            rate[label].append(len(batches) / (clock() - t0))
    ratios = [o / p for o, p in zip(rate["ours"], rate["plain"])]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    delta = float(abs(hist["ours"] - hist["plain"]).max())
    return statistics.median(rate["ours"]), statistics.median(rate["plain"]), statistics.median(ratios), (q1, q3), delta


def thread_sweep(steps, repeats, threads):
    """Wall-clock steps/s of `fit` (SMILE, separable critic, d = 20, K = 64, hidden 256) at each thread count, in
    one process, rounds interleaved; ratio = steps/s ÷ steps/s at the first count (issue 18 item 7: what
    `python -m divkit.mi.benchmark` should default to on a CPU)."""
    g = torch.Generator().manual_seed(0)
    batches = [dk.mi.correlated_gaussians(20, 4.0, 64, seed=g) for _ in range(steps)]
    torch.manual_seed(0)
    base = make_critic("separable", 20, 20)
    rates = {t: [] for t in threads}
    for r in range(repeats + 1):
        for t in (threads if r % 2 == 0 else threads[::-1]):
            torch.set_num_threads(t)
            c = copy.deepcopy(base)
            t0 = time.perf_counter()
            ours(c, "smile", batches, 5e-4)
            if r:                                       # round 0 is the warm-up
                rates[t].append(steps / (time.perf_counter() - t0))
    print(f"fit, smile, separable critic, d=20, K=64, {steps} steps, {repeats} interleaved rounds, wall clock")
    print("| threads | steps/s (median) | ratio vs " + f"{threads[0]} thread(s) |")
    print("|---|---|---|")
    ref = statistics.median(rates[threads[0]])
    for t in threads:
        m = statistics.median(rates[t])
        print(f"| {t} | {m:.1f} | {m / ref:.2f} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200, help="timed steps per run, separable critic")
    ap.add_argument("--concat-steps", type=int, default=40, help="timed steps per run, concat critic")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--estimators", default="infonce,nwj,dv,smile")
    ap.add_argument("--critics", default="separable,concat")
    ap.add_argument("--plain-fused", action="store_true",
                    help="give the plain loop Adam(fused=True) too (machinery-only comparison; default: the plain "
                         "torch.optim.Adam(params, lr) a user writes)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default=None,
                    help="cpu: process CPU time (default on the CPU with --threads 1); wall: wall-clock")
    ap.add_argument("--thread-sweep", default=None, metavar="1,2,4",
                    help="instead: time fit at these torch thread counts (wall clock) and print the ratios")
    args = ap.parse_args(argv)
    if args.thread_sweep:
        try:
            counts = [int(t) for t in args.thread_sweep.split(",")]
        except ValueError:
            ap.error(f"--thread-sweep must be a comma list of integers; got {args.thread_sweep!r}")
        return thread_sweep(args.steps, args.repeats, counts)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    clock_name = args.clock or ("cpu" if dev.type == "cpu" and args.threads == 1 else "wall")
    if clock_name == "cpu" and dev.type == "cuda":
        ap.error("--clock cpu cannot time CUDA work; use --clock wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    g = torch.Generator().manual_seed(0)
    n = max(args.steps, args.concat_steps)
    batches = [tuple(t.to(dev) for t in dk.mi.correlated_gaussians(20, 4.0, 64, seed=g)) for _ in range(n)]
    print(f"device={dev}, threads={torch.get_num_threads()}, clock={clock_name}, repeats={args.repeats} "
          f"(interleaved, median), d=20, K=64, hidden=256, plain Adam: {'fused' if args.plain_fused else 'default'}")
    print("| estimator | critic | steps | ours (steps/s) | plain (steps/s) | ratio | ratio quartiles | "
          "max abs Δ value |")
    print("|---|---|---|---|---|---|---|---|")
    for critic in args.critics.split(","):
        torch.manual_seed(0)
        base = make_critic(critic, 20, 20).to(dev)
        steps = args.concat_steps if critic == "concat" else args.steps
        for name in args.estimators.split(","):
            so, sp, ratio, (q1, q3), delta = time_pair(base, name, batches[:steps], args.repeats, dev, clock,
                                                       plain_fused=args.plain_fused)
            print(f"| {name} | {critic} | {steps} | {so:.1f} | {sp:.1f} | {ratio:.2f} | {q1:.2f}-{q3:.2f} | "
                  f"{delta:.1e} |", flush=True)


if __name__ == "__main__":
    main()
