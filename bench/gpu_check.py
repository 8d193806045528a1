"""One command for a machine with a GPU: the CUDA tests, then the GPU rows of the benchmarks, one table + JSON.

    make gpu-check                    # = PYTHONPATH=. python3 bench/gpu_check.py --json gpu-check.json
    make gpu-check DRY=1              # no GPU needed: every step resolves, CUDA parts skip with a reason (CI)
    PYTHONPATH=. python3 bench/gpu_check.py [--dry] [--json FILE] [--budget 480] [--skip STEP ...]

No install and no network: the machine's own python3 with its torch (or .venv's, if there is one) and the
source tree on PYTHONPATH. Steps (run in the order tests, analysis, mi, sweep, gan, so that a budget overrun
cuts only the torch.compile rows, which come last):

1. `tests`: `pytest -m cuda`: every test marked cuda (trainer, MI estimation and simulate on `cuda`, in
   tests/gan/test_trainer_cuda.py, tests/divkit/test_mi_estimate.py, tests/analysis/...). Counted from pytest's
   JUnit XML; any failure or error fails the check.
2. `gan`: DCGAN f-GAN training (gan divergence, non-saturating, Adam 1e-4 (0.5, 0.999), 3 channels, batch
   128) at 32×32 and 64×64, images/s of `gan.Trainer.train_step` against bench/bench_gan.py's hand-written loop
   (the same models and math, no logging or checks) run in the same process, for five settings:
   fp32 (TF32 off for cuBLAS and cuDNN: true IEEE fp32), TF32 (on for both), bf16 autocast, channels_last,
   torch.compile (inductor). Every setting after fp32 keeps TF32 on, so each row changes one thing against TF32.
   Ratio = trainer ÷ hand loop (1.0: no overhead from the trainer).
3. `mi`: steps/s of `divkit.mi.fit` against bench/bench_mi.py's plain loop (`time_pair`: same critic, batches,
   optimiser; interleaved rounds, medians) for InfoNCE, NWJ, DV, SMILE with the separable and concat critics.
4. `analysis`: `analysis.simulate` throughput (point-steps/s) of simultaneous GDA on x·y over 10^5 initial
   points × 1000 steps (bench/bench_analysis.py's sweep), linear path and step loop, float64 and float32 on
   CUDA, against the same path in numpy float64 on the CPU in the same run.
5. `sweep`: where `gan.sweep` exists (engineer G's batched engine), R ring8 runs batched as one model on CUDA
   (bench/bench_sweep.py's `configs` and `time_batched`) against one solo `Trainer` run on CUDA extrapolated to
   R runs; skipped with a reason where the module is absent.

Timings: warm-up steps first (for torch.compile they include the compilation), then a timed block closed by
`torch.cuda.synchronize()`. Each step stops early if the whole check passes `--budget` seconds (default 480
= the 8 minutes allowed on one H200), and says so. Exit status 0 when nothing failed, 1 otherwise.

`--dry` (no GPU): imports every benchmark module, checks each function the steps call exists and accepts the
arguments they pass (`inspect.signature(...).bind`), validates every training config, and runs each row's
exact code path once on the CPU at toy size (one step, tiny batch; the CUDA-only settings skip with a
reason); `pytest -m cuda` runs and must report every test skipped, none failed. No numbers are reported in
dry mode: the CPU is not what the rows measure.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# cheap rows first, torch.compile last: if the budget runs out it cuts the compile rows only
STEPS = ("tests", "analysis", "mi", "sweep", "gan")
GAN_SETTINGS = ("fp32", "tf32", "bf16", "channels_last", "compile")
CUDA_ONLY = {"bf16", "compile"}  # bf16: the trainer autocasts on CUDA only; compile: minutes of CPU codegen
MI_ESTIMATORS, MI_CRITICS = ("infonce", "nwj", "dv", "smile"), ("separable", "concat")


@dataclasses.dataclass
class Row:
    """One line of the table. value/baseline in `unit`; ratio = value / baseline."""

    step: str
    name: str
    status: str                       # ok | failed | skipped | dry-ok
    value: float | None = None
    baseline: float | None = None
    unit: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.value or not self.baseline else self.value / self.baseline


class Check:
    """State shared by the steps: mode, device, the rows, the clock and the budget."""

    def __init__(self, dry: bool, budget: float):
        import torch

        self.torch = torch
        self.dry = dry
        self.device = "cpu" if dry else "cuda"
        self.budget = budget
        self.t0 = time.perf_counter()
        self.rows: list[Row] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def over_budget(self) -> bool:
        return not self.dry and self.elapsed() > self.budget

    def add(self, step: str, name: str, status: str, **kw) -> Row:
        row = Row(step, name, status, **kw)
        self.rows.append(row)
        val = "" if row.value is None else f" {row.value:.4g} {row.unit}"
        print(f"  [{self.elapsed():6.1f}s] {step:8s} {name:44s} {status}{val} {row.note}".rstrip(), flush=True)
        return row

    def sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()


def bench_module(name: str):
    """Import a bench/ script as a module (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def resolve(module, attr: str, *args, **kwargs):
    """`module.attr`, checked to accept (args, kwargs): the dry mode's guarantee that the call below is valid."""
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise AttributeError(f"{module.__name__}.{attr} is missing; the gpu-check step that calls it needs updating")
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{module.__name__}.{attr}{inspect.signature(fn)} no longer accepts the gpu-check call: "
                        f"{exc}") from None
    return fn


@contextlib.contextmanager
def tf32(torch, on: bool):
    """TF32 on/off for cuBLAS matmuls and cuDNN convolutions, restored afterwards (new API where torch has it;
    mixing it with the legacy allow_tf32 flags is an error in recent torch)."""
    conv = torch.backends.cudnn.conv
    if hasattr(conv, "fp32_precision"):
        old = torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision
        torch.backends.cuda.matmul.fp32_precision = conv.fp32_precision = "tf32" if on else "ieee"
        try:
            yield
        finally:
            torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision = old
    else:  # pragma: no cover - torch < 2.9
        old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def timed_rate(ck: Check, fn, warm: int, steps: int) -> float:
    """Calls of `fn` per second: `warm` untimed calls, then `steps` timed calls closed by a device sync."""
    for _ in range(warm):
        fn()
    ck.sync()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    ck.sync()
    return steps / (time.perf_counter() - t)


# ---------------------------------------------------------------------------------------------------- steps
def step_tests(ck: Check) -> None:
    """`pytest -m cuda` in a subprocess (the same Python); counts from its JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "cuda.xml"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep))
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "-rfEs",
               f"--junitxml={xml}", "tests"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t
        if not xml.is_file():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            ck.add("tests", "pytest -m cuda", "failed", note=f"no report (exit {proc.returncode}): {' | '.join(tail)}")
            return
        suite = ET.parse(xml).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        n, fail, err, skip = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        reasons = sorted({(sk.get("message") or "").strip() for sk in suite.iter("skipped")} - {""})
    counts = f"{n} tests: {n - fail - err - skip} passed, {fail} failed, {err} errors, {skip} skipped ({seconds:.0f} s)"
    if n == 0:
        ck.add("tests", "pytest -m cuda", "failed", note="no test marked cuda was collected")
    elif fail or err:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        ck.add("tests", "pytest -m cuda", "failed", note=f"{counts}; {' | '.join(lines[:5])}")
    elif ck.dry:
        status = "dry-ok" if skip == n else "failed"
        ck.add("tests", "pytest -m cuda", status, note=f"{counts}; without CUDA every one must skip")
    else:  # a skip on a GPU machine (e.g. a test that needs two GPUs) is reported with its reason, not a failure
        ck.add("tests", "pytest -m cuda", "ok", note=counts + (f"; skip reasons: {' | '.join(reasons)}" if skip else ""))


def _gan_config(size: int, batch: int, setting: str, device: str, out: str):
    from gan.config import TrainConfig

    return TrainConfig(data="fashion_mnist", model="dcgan", image_size=size, z_dim=100, batch_size=batch,
                       steps=10 ** 6, device=device, bf16=setting == "bf16", channels_last=setting == "channels_last",
                       compile=setting == "compile", progress=False, log_every=10 ** 6, sample_every=0,
                       checkpoint_every=0, out=out).validate()


def step_gan(ck: Check) -> None:
    import torch

    from gan import data as data_mod
    from gan.models import DCGANCritic, DCGANGenerator
    from gan.trainer import Trainer

    bench_gan = bench_module("bench_gan")
    sizes, batch, warm, steps = ((32,), 4, 1, 1) if ck.dry else ((32, 64), 128, 10, 50)
    datasets = {}
    for size in sizes:
        datasets[size] = data_mod.ImageData("noise", torch.rand(1024 if not ck.dry else 8, 3, size, size) * 2 - 1)
        datasets[size].images = datasets[size].images.to(ck.device)
    with tempfile.TemporaryDirectory() as tmp:
        for setting in GAN_SETTINGS:  # setting outermost: the compile rows (minutes of compilation) come last
            for size in sizes:
                ds = datasets[size]
                name = f"DCGAN {size}x{size} batch {batch} {setting}"
                cfg = _gan_config(size, batch, setting, ck.device, os.path.join(tmp, f"{size}-{setting}"))
                if ck.dry and setting in CUDA_ONLY:
                    ck.add("gan", name, "skipped", note="CUDA only (config validated)")
                    continue
                if ck.over_budget():
                    ck.add("gan", name, "skipped", note=f"over the {ck.budget:.0f} s budget")
                    continue
                # the hand loop: the same models (trainer defaults: width 64, BatchNorm critic) and settings
                torch.manual_seed(0)
                G, D = DCGANGenerator(100, 3, size), DCGANCritic(3, size)
                fmt = torch.channels_last if setting == "channels_last" else torch.contiguous_format
                G, D = G.to(ck.device, memory_format=fmt), D.to(ck.device, memory_format=fmt)
                if setting == "compile":
                    G, D = torch.compile(G), torch.compile(D)
                hand_loop = resolve(bench_gan, "hand_loop", G, D, batch, 100, 1, ds, ck.device)
                ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if setting == "bf16" and not ck.dry
                       else contextlib.nullcontext())
                with tf32(torch, setting != "fp32"):
                    tr = Trainer(cfg, dataset=ds)
                    r_ours = timed_rate(ck, tr.train_step, warm, steps)
                    with ctx:  # one call per block: the hand loop builds its Adam optimisers once per call
                        hand_loop(G, D, batch, 100, warm, ds, ck.device)
                        r_hand = timed_rate(ck, lambda: hand_loop(G, D, batch, 100, steps, ds, ck.device), 0, 1) \
                            * steps
                if ck.dry:
                    ck.add("gan", name, "dry-ok", note="trainer and hand loop ran one step on the CPU")
                else:
                    ck.add("gan", name, "ok", value=r_ours * batch, baseline=r_hand * batch, unit="images/s",
                           note="trainer vs hand loop")


def step_mi(ck: Check) -> None:
    import torch

    import divkit as dk
    from divkit.mi import make_critic

    bench_mi = bench_module("bench_mi")
    steps, concat_steps, repeats = (2, 2, 1) if ck.dry else (200, 40, 3)
    dev = torch.device(ck.device)
    g = torch.Generator().manual_seed(0)
    batches = [tuple(t.to(dev) for t in dk.mi.correlated_gaussians(20, 4.0, 64, seed=g))
               for _ in range(max(steps, concat_steps))]
    for critic in MI_CRITICS:
        torch.manual_seed(0)
        base = make_critic(critic, 20, 20).to(dev)
        n = concat_steps if critic == "concat" else steps
        for est in MI_ESTIMATORS:
            name = f"{est} {critic} critic, {n} steps"
            if ck.over_budget():
                ck.add("mi", name, "skipped", note=f"over the {ck.budget:.0f} s budget")
                continue
            time_pair = resolve(bench_mi, "time_pair", base, est, batches[:n], repeats, dev, time.perf_counter)
            ours, plain, _, (q1, q3), delta = time_pair(base, est, batches[:n], repeats, dev, time.perf_counter)
            if ck.dry:
                ck.add("mi", name, "dry-ok", note="divkit.mi.fit and the plain loop ran on the CPU")
            else:
                ck.add("mi", name, "ok", value=ours, baseline=plain, unit="steps/s",
                       note=f"fit vs plain loop; ratio quartiles {q1:.2f}-{q3:.2f}; max|Δ| {delta:.1e}")


def step_analysis(ck: Check) -> None:
    import numpy as np
    import torch

    import analysis
    from analysis import games

    ba = bench_module("bench_analysis")
    n, steps, lr = (1000, 10, ba.LR) if ck.dry else (ba.N, ba.STEPS, ba.LR)
    record = max(1, steps // 100)
    rng = np.random.default_rng(0)
    x0, y0 = rng.normal(size=n), rng.normal(size=n)
    g = games.Bilinear()
    sim = resolve(analysis, "simulate", g, "simultaneous", lr=lr, steps=steps, x0=x0, y0=y0, record=record,
                  fast=None)
    timed = resolve(ba, "timed", lambda: None, repeats=1, sync=ck.sync)
    for path, fast in (("linear path", None), ("step loop", False)):
        t_cpu = timed(lambda fast=fast: sim(g, "simultaneous", lr=lr, steps=steps, x0=x0, y0=y0, record=record,
                                            fast=fast), repeats=1)
        for dtype in (torch.float64, torch.float32):
            name = f"{path} {str(dtype)[6:]}, {n} points x {steps} steps"
            if ck.over_budget():
                ck.add("analysis", name, "skipped", note=f"over the {ck.budget:.0f} s budget")
                continue
            xd = torch.tensor(x0, dtype=dtype, device=ck.device)
            yd = torch.tensor(y0, dtype=dtype, device=ck.device)

            def run(fast=fast, xd=xd, yd=yd):
                tr = sim(g, "simultaneous", lr=lr, steps=steps, x0=xd, y0=yd, record=record, fast=fast)
                assert tr.x.device.type == ck.device and tr.x.dtype == dtype, (tr.x.device, tr.x.dtype)
                return tr

            t_dev = timed(run, repeats=1 if ck.dry else 3, sync=ck.sync)
            if ck.dry:
                ck.add("analysis", name, "dry-ok", note="ran on torch CPU")
            else:
                ck.add("analysis", name, "ok", value=n * steps / t_dev, baseline=n * steps / t_cpu,
                       unit="point-steps/s", note=f"CUDA vs numpy float64 {path} on the CPU")


def step_sweep(ck: Check) -> None:
    if importlib.util.find_spec("gan.sweep") is None or not (BENCH / "bench_sweep.py").is_file():
        ck.add("sweep", "batched sweep", "skipped",
               note="gan.sweep / bench/bench_sweep.py not in this tree (the batched engine is not merged)")
        return
    import torch

    from gan.trainer import Trainer

    bs = bench_module("bench_sweep")
    threads = torch.get_num_threads()  # time_batched sets the thread count; the later steps get it back
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = resolve(bs, "configs", tmp, device=ck.device)(tmp, device=ck.device)
        if ck.dry:
            cfgs = cfgs[:2]
        time_batched = resolve(bs, "time_batched", cfgs, 1, 1, warm=1, sync=ck.sync)
        warm, steps = (1, 1) if ck.dry else (5, 40)
        dt, _ = time_batched(cfgs, steps, 1, warm=warm, sync=ck.sync)
        solo = Trainer(dataclasses.replace(cfgs[0], out=os.path.join(tmp, "solo")))
        solo_rate = timed_rate(ck, solo.train_step, warm, steps)
    torch.set_num_threads(threads)
    name = f"{len(cfgs)} ring8 runs batched"
    if ck.dry:
        ck.add("sweep", name, "dry-ok", note="batched engine and solo trainer ran on the CPU")
    else:
        ck.add("sweep", name, "ok", value=len(cfgs) / dt, baseline=solo_rate, unit="run-steps/s",
               note="batched vs one solo Trainer run after another")


STEP_FUNCTIONS = {"tests": step_tests, "analysis": step_analysis, "mi": step_mi, "sweep": step_sweep,
                  "gan": step_gan}


# ---------------------------------------------------------------------------------------------------- report
def table(rows: list[Row]) -> str:
    head = "| step | row | value | baseline | unit | ratio | status | note |\n|---|---|---|---|---|---|---|---|"
    lines = [head]
    for r in rows:
        fmt = (lambda v: "" if v is None else f"{v:.4g}")
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"| {r.step} | {r.name} | {fmt(r.value)} | {fmt(r.baseline)} | {r.unit} | {ratio} | "
                     f"{r.status} | {r.note} |")
    return "\n".join(lines)


def environment(ck: Check) -> dict:
    import torch

    import divkit

    env = {"divkit": getattr(divkit, "__version__", "unknown"), "python": platform.python_version(), "torch": torch.__version__,
           "cuda_available": torch.cuda.is_available(), "dry": ck.dry, "budget_s": ck.budget}
    if torch.cuda.is_available():
        env.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version())
    return env


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python bench/gpu_check.py", description=__doc__.splitlines()[0])
    ap.add_argument("--dry", action="store_true", help="no GPU: check every step resolves; CUDA parts skip")
    ap.add_argument("--json", default="gpu-check.json", help="where to write the table (default gpu-check.json)")
    ap.add_argument("--budget", type=float, default=480.0,
                    help="seconds; rows that would start after it are skipped, saying so (default 480)")
    ap.add_argument("--skip", nargs="+", default=[], choices=STEPS, metavar="STEP",
                    help=f"steps to leave out, of: {' '.join(STEPS)}")
    a = ap.parse_args(argv)
    import torch

    if not a.dry and not torch.cuda.is_available():
        print(f"error: torch {torch.__version__} ({sys.executable}) sees no CUDA device. If this Python's torch is "
              f"a CPU build (a .venv made by `make test`), use the machine's: make gpu-check GPU_PYTHON=python3. "
              f"Without a GPU, --dry (make gpu-check DRY=1) checks that every step resolves.", file=sys.stderr)
        return 2
    if a.dry:  # toy sizes on a (possibly shared) CPU: one thread, no oversubscription stalls
        torch.set_num_threads(1)
    ck = Check(a.dry, a.budget)
    env = environment(ck)
    print(f"gpu-check {'(dry: no GPU needed) ' if a.dry else ''}" + ", ".join(f"{k} {v}" for k, v in env.items()))
    torch.manual_seed(0)
    for step in STEPS:
        if step in a.skip:
            ck.add(step, "(whole step)", "skipped", note="--skip")
            continue
        print(f"{step}:", flush=True)
        try:
            STEP_FUNCTIONS[step](ck)
        except Exception as exc:  # one broken step must not hide the others' results
            ck.add(step, "(step)", "failed", note=f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300])
    env["elapsed_s"] = round(ck.elapsed(), 1)
    print()
    print(table(ck.rows))
    failed = [r for r in ck.rows if r.status == "failed"]
    print(f"\n{len(ck.rows)} rows, {len(failed)} failed, {ck.elapsed():.0f} s"
          + (f" (over the {a.budget:.0f} s budget)" if ck.elapsed() > a.budget and not a.dry else ""))
    out = {"environment": env, "rows": [dict(dataclasses.asdict(r), ratio=r.ratio) for r in ck.rows]}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
