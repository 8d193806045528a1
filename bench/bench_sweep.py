"""Throughput of the batched sweep engine (gan.sweep.BatchedTrainer) against the same runs trained one after
another by gan.trainer.Trainer, in one process.

Setting (issue 14 item 3): R = 64 ring8 runs, MLP 2 × 128 (z_dim 16), batch 256, four losses (gan, kl, pearson,
hinge) × 16 seeds. The solo baseline is the trainer's `train_step` at one torch thread (the fastest setting
for these small models on a 2-core machine, issue 18 item 7); a few solo runs are timed and their mean
step time is extrapolated to 64 runs (stated in the output). The batched engine is timed at one and at
all threads. Also printed: the FLOP rate each achieves (a forward+backward MAC count of the two MLPs), the
stacked-matmul (torch.bmm) forward+backward of the critic against torch.func.vmap(functional_call) over the
same stacked weights, and memory per run (persistent state: weights, Adam moments, EMA; plus the tensors
autograd saves for one critic step). GPU rows when CUDA is available.

    PYTHONPATH=$PWD python bench/bench_sweep.py [--quick] [--spectral-norm]

`--spectral-norm`: the same runs with spectral normalisation of the critic and the generator (both engines).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import torch

from gan.config import TrainConfig
from gan.sweep import BatchedTrainer
from gan.trainer import Trainer

R, HIDDEN, LAYERS, BATCH, ZDIM = 64, 128, 2, 256, 16
LOSSES = ("gan", "kl", "pearson", "hinge")


def configs(tmp, device="cpu", sn=False):
    base = TrainConfig(data="ring8", hidden=HIDDEN, layers=LAYERS, batch_size=BATCH, z_dim=ZDIM, steps=10 ** 6,
                       progress=False, log_every=0, sample_every=0, checkpoint_every=0, device=device,
                       spectral_norm=sn, spectral_norm_g=sn)
    return [dataclasses.replace(base, divergence=LOSSES[r % 4], seed=r, out=os.path.join(tmp, f"r{r}"))
            for r in range(R)]


def macs_per_run_step() -> float:
    """Multiply-accumulates of one generator step (critic step + generator step) of one run.
    Critic step: G forward (no grad), D forward on 2B samples, D backward (weight grads + hidden input grads);
    generator step: G forward, D forward, D backward (input grads), G backward (weight + input grads)."""
    g = ZDIM * HIDDEN + (LAYERS - 1) * HIDDEN * HIDDEN + HIDDEN * 2
    d = 2 * HIDDEN + (LAYERS - 1) * HIDDEN * HIDDEN + HIDDEN
    d_in_grads = d - 2 * HIDDEN  # the first layer's input gradient is not needed in the critic step
    critic = BATCH * (g + 2 * d + 2 * d + 2 * d_in_grads)
    gen = BATCH * (g + d + d + g + (g - ZDIM * HIDDEN))
    return float(critic + gen)


def _clock(threads):
    """CPU seconds of this process at one thread (robust on a shared machine: time spent waiting for a core
    is not counted), wall seconds otherwise (CPU time would count every thread)."""
    return time.process_time if threads == 1 else time.perf_counter


def time_solo(cfgs, runs, steps, warm=5):
    torch.set_num_threads(1)
    per_step = []
    clock = _clock(1)
    for c in cfgs[:runs]:
        tr = Trainer(c)
        for _ in range(warm):
            tr.train_step()
        t = clock()
        for _ in range(steps):
            tr.train_step()
        per_step.append((clock() - t) / steps)
    return sum(per_step) / len(per_step)


def time_batched(cfgs, steps, threads, warm=3, sync=None):
    """Seconds per batched step; `sync` (CUDA) forces wall time."""
    torch.set_num_threads(threads)
    clock = time.perf_counter if sync is not None else _clock(threads)
    sync = sync or (lambda: None)
    bt = BatchedTrainer(cfgs)
    for _ in range(warm):
        bt.train_step()
    sync()
    t = clock()
    for _ in range(steps):
        bt.train_step()
    sync()
    return (clock() - t) / steps, bt


def memory_per_run(bt) -> tuple[float, float]:
    """(persistent bytes per run, autograd-saved bytes per run for one critic loss)."""
    tensors = list(bt.gp.values()) + list(bt.dp.values()) + list(bt.g_buf.values()) + list(bt.d_buf.values())
    for opt in (bt.opt_g, bt.opt_d):
        tensors += list(opt.exp_avg.values()) + list(opt.exp_avg_sq.values())
    if bt.ema is not None:
        tensors += list(bt.ema.values())
    persistent = sum(t.numel() * t.element_size() for t in tensors) + sum(
        g.get_state().numel() for g in bt.gens)
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    x_real, z = bt._draw(real=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.no_grad():
            x_fake = bt._G(z, {k: p.detach() for k, p in bt.gp.items()})
        loss = bt._critic_losses(bt._D(x_real).float(), bt._D(x_fake).float()).sum()
    del loss
    return persistent / bt.R, sum(saved) / bt.R


def peak_gflops(threads, reps=20):
    """The machine's matmul peak at `threads` threads, measured here: torch.bmm at the engine's hidden-layer
    shape (R, 2B, H) @ (R, H, H), the largest and best-shaped matmul of a step. No step of any engine can run
    its FLOPs faster than this, so solo_time / (FLOPs of the 64 runs / peak) bounds the batched speed-up."""
    torch.set_num_threads(threads)
    a, b = torch.randn(R, 2 * BATCH, HIDDEN), torch.randn(R, HIDDEN, HIDDEN)
    clock = _clock(threads)
    for _ in range(3):
        torch.bmm(a, b)
    t = clock()
    for _ in range(reps):
        torch.bmm(a, b)
    return 2.0 * R * 2 * BATCH * HIDDEN * HIDDEN * reps / (clock() - t) / 1e9


def bmm_vs_vmap(reps=10):
    """Critic forward+backward on stacked weights: explicit torch.bmm (the engine) vs vmap(functional_call)."""
    from torch.func import functional_call, vmap

    from gan.models import MLPCritic

    torch.set_num_threads(1)
    nets = [MLPCritic(2, HIDDEN, LAYERS) for _ in range(R)]
    params = {k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets]).requires_grad_(True)
              for k, _ in nets[0].named_parameters()}
    x = torch.randn(R, 2 * BATCH, 2)

    def f_bmm():
        h = x
        for i in range(LAYERS + 1):
            w, b = params[f"net.{2 * i}.weight"], params[f"net.{2 * i}.bias"]
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i < LAYERS:
                h = torch.nn.functional.leaky_relu(h, 0.2)
        h.sum().backward()

    def f_vmap():
        v = vmap(lambda p, xx: functional_call(nets[0], p, (xx,)))(params, x)
        v.sum().backward()

    out = {}
    for name, fn in (("bmm", f_bmm), ("vmap", f_vmap)):
        fn()
        t = time.process_time()
        for _ in range(reps):
            fn()
        out[name] = (time.process_time() - t) / reps
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer timed steps")
    ap.add_argument("--spectral-norm", action="store_true", help="spectral norm on the critic and the generator")
    args = ap.parse_args(argv)
    solo_runs, solo_steps, b_steps = (2, 20, 5) if args.quick else (4, 40, 15)
    macs = macs_per_run_step()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"R = {R} ring8 runs, MLP {LAYERS}×{HIDDEN}, batch {BATCH}, z_dim {ZDIM}, losses {LOSSES} × {R // 4} seeds; "
          f"{2 * macs / 1e6:.0f} MFLOP per run-step (without spectral norm's power iterations); "
          f"spectral norm {'on (critic and generator)' if args.spectral_norm else 'off'}; "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = configs(tmp, sn=args.spectral_norm)
        solo = time_solo(cfgs, solo_runs, solo_steps)
        rows = [("solo trainer, 1 thread (baseline)", solo * R, 1.0, solo_runs)]
        bt = None
        for threads in sorted({1, os.cpu_count() or 1}):
            dt, bt = time_batched(cfgs, b_steps, threads)
            rows.append((f"batched engine, {threads} thread{'s' * (threads > 1)}", dt, solo * R / dt, None))
        print(f"\nsolo: {solo * 1e3:.2f} ms per step, mean of {solo_runs} runs × {solo_steps} steps, "
              f"extrapolated × {R} runs (they train one after another)\n")
        print("1-thread rows: CPU seconds of this process; 2-thread row: wall seconds (the machine is shared, so "
              "it also counts waiting for a core)\n")
        print("| engine | s per step of all 64 runs | run-steps / s | GFLOP/s | speed-up vs solo |")
        print("|---|---|---|---|---|")
        for name, dt, ratio, _ in rows:
            print(f"| {name} | {dt:.3f} | {R / dt:.0f} | {2 * macs * R / dt / 1e9:.1f} | {ratio:.1f}× |")
        flops = 2 * macs * R
        for threads in sorted({1, os.cpu_count() or 1}):
            peak = peak_gflops(threads)
            print(f"| ceiling at the measured torch.bmm peak, {threads} thread{'s' * (threads > 1)} | "
                  f"{flops / peak / 1e9:.3f} | {R / (flops / peak / 1e9):.0f} | {peak:.1f} | "
                  f"{solo * R / (flops / peak / 1e9):.1f}× |")
        print(f"\nThe solo trainer already runs its FLOPs at {flops / (solo * R) / 1e9:.1f} GFLOP/s; a speed-up beyond "
              f"the ceiling rows would need FLOPs faster than this CPU's matmul peak, so the ratio a batched engine "
              f"can reach here is bounded by them (the ≥ 20× of issue 14 needs a solo baseline dominated by "
              f"per-step overhead, as on a GPU, not by arithmetic).")
        persistent, saved = memory_per_run(bt)
        print(f"\nmemory per run: {persistent / 1024:.0f} KiB persistent (weights, Adam moments, RNG state), "
              f"{saved / 2 ** 20:.2f} MiB saved for backward in one critic step (float32)")
        vs = bmm_vs_vmap(3 if args.quick else 10)
        print(f"critic forward+backward of {R} stacked MLPs on {2 * BATCH} samples, 1 thread, CPU time: torch.bmm "
              f"{vs['bmm'] * 1e3:.1f} ms, vmap(functional_call) {vs['vmap'] * 1e3:.1f} ms "
              f"(bmm {vs['vmap'] / vs['bmm']:.2f}× faster)")
        if torch.cuda.is_available():
            gcfgs = configs(tmp, device="cuda", sn=args.spectral_norm)
            dt, _ = time_batched(gcfgs, b_steps * 4, 1, sync=torch.cuda.synchronize)
            print(f"| batched engine, {torch.cuda.get_device_name()} | {dt:.4f} | {R / dt:.0f} | "
                  f"{2 * macs * R / dt / 1e9:.1f} | {solo * R / dt:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
