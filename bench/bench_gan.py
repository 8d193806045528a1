"""Steps/s of gan.Trainer vs a minimal hand-written PyTorch loop (same MLP models, batch, losses) on the CPU.

Goal: trainer overhead ≤ 10 %. The hand loop does exactly the f-GAN math with divkit's terms and no logging,
checks or checkpoints. GPU rows (DCGAN images/s, fp32 and bf16) only when CUDA is available.

Threads (`python bench/bench_gan.py threads`): seconds for 100 trainer steps at torch's default thread count,
at one thread, and at the count `gan.threads.auto_threads` picks (what `python -m gan train` uses without
--threads), for the README's ring8 MLP, a wider MLP and a small DCGAN; ratios against the default.
"""
import sys
import tempfile
import time

import torch

DEFAULT_THREADS = torch.get_num_threads()  # torch's choice at start-up, before anything sets it

import divkit
from gan.config import TrainConfig
from gan.models import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from gan.trainer import Trainer

STEPS, WARM = 60, 5


def hand_loop(G, D, batch, z_dim, steps, data, device="cpu", autocast=None):
    d = divkit.get("gan")
    og = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    for _ in range(steps):
        x = data.sample(batch).to(device)
        z = torch.randn(batch, z_dim, device=device)
        with torch.no_grad():
            xf = G(z)
        ld = -(d.p_term(D(x)).mean() - d.q_term(D(xf)).mean())
        od.zero_grad()
        ld.backward()
        od.step()
        lg = -d.p_term(D(G(torch.randn(batch, z_dim, device=device)))).mean()
        og.zero_grad()
        lg.backward()
        og.step()
    if device != "cpu":
        torch.cuda.synchronize()


def rate(fn, steps):
    t = time.perf_counter()
    fn(steps)
    return steps / (time.perf_counter() - t)


def main():
    rows = []
    for batch, hidden in ((256, 128),):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(data="ring8", batch_size=batch, hidden=hidden, layers=3, z_dim=16, steps=STEPS + WARM,
                              progress=False, log_every=100, sample_every=0, checkpoint_every=0, out=tmp)
            tr = Trainer(cfg)

            def ours(n):
                for _ in range(n):
                    tr.train_step()

            ours(WARM)
            r_ours = rate(ours, STEPS)
            torch.manual_seed(0)
            G, D = MLPGenerator(16, 2, hidden, 3), MLPCritic(2, hidden, 3)
            hand_loop(G, D, batch, 16, WARM, tr.data)
            r_hand = rate(lambda n: hand_loop(G, D, batch, 16, n, tr.data), STEPS)
        rows.append((f"cpu MLP batch {batch} hidden {hidden}", r_hand, r_ours))
    print(f"{'setting':38s} {'hand steps/s':>12s} {'trainer steps/s':>15s} {'trainer/hand':>12s}")
    for name, h, o in rows:
        print(f"{name:38s} {h:12.1f} {o:15.1f} {o / h:12.3f}")
    if torch.cuda.is_available():
        from gan import data as data_mod

        print(f"\n{'DCGAN (CUDA)':38s} {'images/s':>12s}")
        for size in (32, 64):
            for batch in (64, 256):
                for bf16 in (False, True):
                    G, D = DCGANGenerator(100, 3, size).cuda(), DCGANCritic(3, size).cuda()
                    ds = data_mod.ImageData("noise", torch.rand(1024, 3, size, size) * 2 - 1)
                    ds.images = ds.images.cuda()
                    ctx = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
                    with ctx:
                        hand_loop(G, D, batch, 100, 5, ds, "cuda")
                        r = rate(lambda n: hand_loop(G, D, batch, 100, n, ds, "cuda"), 50)
                    print(f"{f'{size}x{size} batch {batch} ' + ('bf16' if bf16 else 'fp32'):38s} {r * batch:12.0f}")


def threads_table(steps: int = 100, only: str | None = None):
    """Seconds per 100 trainer steps (timed over `steps`) at the default, one, and the auto-chosen thread count;
    `only`: run the settings whose name contains it."""
    from gan import data as data_mod
    from gan.threads import auto_threads

    settings = [("ring8 MLP 2×128, batch 256 (README)", dict(data="ring8", hidden=128, layers=2, z_dim=8), None),
                ("ring8 MLP 3×512, batch 256", dict(data="ring8", hidden=512, layers=3), None),
                ("DCGAN 28×28 width 32, batch 64", dict(data="digits", model="dcgan", image_size=28, width=32,
                                                         batch_size=64), "images")]
    print(f"{'setting':38s} {'threads':>12s} {'s/100 steps':>11s} {'vs default':>10s}")
    for name, kw, kind in settings:
        if only and only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(steps=10 ** 6, progress=False, log_every=0, sample_every=0, checkpoint_every=0,
                              out=tmp, **{"batch_size": 256, **kw})
            ds = (data_mod.ImageData("noise", torch.rand(512, 1, 28, 28) * 2 - 1) if kind == "images" else None)
            tr = Trainer(cfg, dataset=ds)
            counts = {"default": DEFAULT_THREADS, "one": 1, "auto": auto_threads(cfg, tr.data.shape)}
            times = {}
            for label, n in counts.items():
                torch.set_num_threads(n)
                for _ in range(3):
                    tr.train_step()
                t = time.perf_counter()
                for _ in range(steps):
                    tr.train_step()
                times[label] = time.perf_counter() - t
            for label, n in counts.items():
                print(f"{name if label == 'default' else '':38s} {f'{n} ({label})':>12s} "
                      f"{times[label] * 100 / steps:11.2f} {times['default'] / times[label]:9.2f}×", flush=True)
    torch.set_num_threads(DEFAULT_THREADS)


if __name__ == "__main__":
    if sys.argv[1:2] == ["threads"]:  # threads [STEPS [NAME-PART]]
        threads_table(int(sys.argv[2]) if len(sys.argv) > 2 else 100, sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        main()
