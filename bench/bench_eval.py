"""Cost of periodic evaluation, and trainer overhead with evaluation + logging against bench_gan's hand loop.

Rows (CPU, one torch thread unless --threads):
1. one ring8 evaluation (mode metrics on eval_samples = 2,500 fixed-noise samples), median of 20;
2. one Fashion-MNIST 28×28 evaluation (FID/KID on classifier features of 2,500 samples vs 2,500 real): the
   first (trains the feature classifier on 10,000 images for 2 epochs and extracts the real features) and a
   later one (median of 3); skipped when the data set is not installed;
3. `Trainer.fit()` for STEPS ring8 steps (REPS times, alternated with the hand loop) with eval_every 500,
   log_every 100 and checkpoints every 500
   against the hand-written loop of bench_gan.py (same models, batch 256, hidden 128), in the same process.

    python bench/bench_eval.py [--steps 2000] [--reps 3] [--threads 1]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_gan import hand_loop  # noqa: E402

from gan import data as data_mod  # noqa: E402
from gan.config import TrainConfig  # noqa: E402
from gan.models import MLPCritic, MLPGenerator  # noqa: E402
from gan.trainer import Trainer  # noqa: E402


def _median_time(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(TrainConfig(data="ring8", eval_every=500, progress=False, sample_every=0, out=tmp))
        ev = tr.tools.evaluator
        t = _median_time(ev.evaluate, 20)
        print(f"{'ring8 evaluation (2,500 samples)':48s} {t * 1e3:9.1f} ms")
    if os.path.isdir(data_mod.FASHION_MNIST_DIR):
        with tempfile.TemporaryDirectory() as tmp:
            tr = Trainer(TrainConfig(data="fashion_mnist", eval_every=500, progress=False, sample_every=0, out=tmp))
            ev = tr.tools.evaluator
            t0 = time.perf_counter()
            ev.evaluate()
            first = time.perf_counter() - t0
            later = _median_time(ev.evaluate, 3)
            print(f"{'Fashion-MNIST evaluation, first (classifier)':48s} {first:9.2f} s")
            print(f"{'Fashion-MNIST evaluation, later (2,500 vs 2,500)':48s} {later:9.2f} s")
    else:
        print(f"Fashion-MNIST not installed at {data_mod.FASHION_MNIST_DIR}: image row skipped")

    steps, reps = args.steps, args.reps
    hands, ours = [], []  # (wall s, CPU s of this process: less sensitive to other jobs on a shared machine)
    for _ in range(reps):  # alternated, so that load changes on a shared machine hit both alike
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(data="ring8", batch_size=256, hidden=128, layers=3, z_dim=16, steps=steps,
                              progress=False, log_every=100, sample_every=0, checkpoint_every=500, eval_every=500,
                              out=tmp)
            tr = Trainer(cfg)
            t, c = time.perf_counter(), time.process_time()
            tr.fit()
            ours.append((time.perf_counter() - t, time.process_time() - c))
        torch.manual_seed(0)
        G, D = MLPGenerator(16, 2, 128, 3), MLPCritic(2, 128, 3)
        t, c = time.perf_counter(), time.process_time()
        hand_loop(G, D, 256, 16, steps, data_mod.ring8())
        hands.append((time.perf_counter() - t, time.process_time() - c))
    print(f"\n{f'ring8, batch 256, hidden 128, {steps} steps':40s} {'hand':>7s} {'trainer':>8s} {'ratio':>7s}"
          f" {'hand':>7s} {'trainer':>8s} {'ratio':>7s}")
    print(f"{'':40s} {'wall s':>24s} {'CPU s':>24s}")
    for (hw, hc), (ow, oc) in zip(hands, ours):
        print(f"{'eval + checkpoint every 500, log 100':40s} {hw:7.2f} {ow:8.2f} {ow / hw:7.3f} {hc:7.2f} {oc:8.2f}"
              f" {oc / hc:7.3f}")
    print(f"{'median ratio':40s} {'':16s} {statistics.median(o[0] / h[0] for o, h in zip(ours, hands)):7.3f}"
          f" {'':16s} {statistics.median(o[1] / h[1] for o, h in zip(ours, hands)):7.3f}")
    print("(trainer time includes logging, the evaluations, checkpoints and the final outputs: samples.npy/png, "
          "summary, final checkpoint)")


if __name__ == "__main__":
    main()
