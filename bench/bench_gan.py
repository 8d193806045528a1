"""Steps/s of gan.Trainer vs a minimal hand-written PyTorch loop (same MLP models, batch, losses) on the CPU.

Goal: trainer overhead ≤ 10 %. The hand loop does exactly the f-GAN math with divkit's terms and no logging,
checks or checkpoints. GPU rows (DCGAN images/s, fp32 and bf16) only when CUDA is available.
"""
import tempfile
import time

import torch

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


if __name__ == "__main__":
    main()
