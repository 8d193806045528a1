"""Data parallel for every flag: 2 gloo processes × batch b ≡ 1 process × batch 2b through the Trainer (R1, R2,
WGAN-GP, the wgan_gp loss, unrolled, MINE, instance noise, BEGAN, conditional, plain DDP); MSG-GAN (BatchNorm in
its generator: per-rank statistics) is checked for replicas that stay in sync."""
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

FLAGS = {
    "plain": {},
    "r1": {"r1": 1.0},
    "r2": {"r2": 1.0},
    "gradient_penalty": {"gradient_penalty": 1.0},
    "wgan_gp": {"divergence": "wgan_gp"},
    "unrolled": {"unrolled_steps": 2},
    "unrolled_sgd": {"unrolled_steps": 2, "unrolled_optimizer": "sgd", "unrolled_lr": 0.01},
    "mine": {"mine_beta": 0.5, "mine_code": "categorical", "mine_code_dim": 3},
    "msg": {"msg": True, "width": 4},
    "instance_noise": {"instance_noise": 0.1},
    "began": {"divergence": "began", "began_lambda_k": 0.05},
    "conditional": {"conditional": "concat"},
    # run tools: every rank takes rank 0's evaluation, so the plateau rule changes the rates alike
    "eval_plateau_decay": {"eval_every": 1, "plateau_patience": 1, "plateau_factor": 0.5, "lr_decay": "cosine"},
}

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    from gan.config import TrainConfig
    from gan.trainer import Trainer

    torch.set_default_dtype(torch.float64)   # the comparison is about the algorithm, not float32 rounding
    torch.set_num_threads(1)
    flags, out, batch = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])

    class Blobs:
        """(1, 8, 8) float64 images for MSG-GAN."""
        shape = (1, 8, 8)
        def sample(self, n, generator=None):
            return torch.tanh(torch.randn(n, 1, 8, 8, generator=generator))

    results = {}
    for name, kw in flags.items():
        cfg = TrainConfig(data="ring8", steps=3, batch_size=batch, hidden=16, layers=1, z_dim=3, log_every=0,
                          sample_every=0, checkpoint_every=0, progress=False, eval_samples=16, lr_g=1e-2, lr_d=1e-2,
                          out=os.path.join(out, name), **kw)
        tr = Trainer(cfg, dataset=Blobs() if kw.get("msg") else None)
        for _ in range(cfg.steps):
            losses = tr.train_step()
            tr.tools.after_step(tr.step, losses)
        assert tr.manual_sync == (tr.dist.distributed and name not in ("plain", "instance_noise", "began",
                                                                        "conditional", "eval_plateau_decay")), name
        results[name] = {"G": tr.G.state_dict(), "D": tr.D.state_dict(),
                         "lr": torch.tensor([g["lr"] for g in tr.opt_g.param_groups])}
    torch.save(results, os.path.join(out, f"states{os.environ.get('RANK', '0')}.pt"))
    from gan.distributed import cleanup
    del tr                                      # its DDP wrappers hold the process group
    cleanup()
''')


def _local_env():
    """test_distributed.py's environment of a local launch and its hang guard (one place for torchrun's launch
    details: --standalone binds its own port, gloo on the loopback, one thread per process)."""
    import importlib.util

    path = Path(__file__).with_name("test_distributed.py")
    spec = importlib.util.spec_from_file_location("_gan_test_distributed", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.local_env(), mod.HANG


def test_two_gloo_processes_equal_one_process_for_every_flag(tmp_path):
    import json

    from gan.distributed import torchrun_argv

    env, hang = _local_env()
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    flags = json.dumps(FLAGS)
    r = subprocess.run([sys.executable, str(script), flags, str(tmp_path / "single"), "16"], env=env,
                       timeout=hang, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    cmd = [*torchrun_argv(2), str(script), flags, str(tmp_path / "multi"), "8"]
    r = subprocess.run(cmd, env=env, timeout=hang, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    a = torch.load(tmp_path / "single" / "states0.pt", weights_only=True)
    b, b1 = (torch.load(tmp_path / "multi" / f"states{r}.pt", weights_only=True) for r in (0, 1))
    for name in FLAGS:
        for net in ("G", "D"):
            for k, v in b[name][net].items():  # the replicas stay identical (same averaged gradients)
                assert torch.equal(v, b1[name][net][k]), (name, net, k)
            if name == "msg":
                # MSG-GAN's generator has BatchNorm: its batch statistics are per rank (b samples, not 2b), as
                # under DDP; the equivalence holds for per-sample models only
                continue
            for k, v in a[name][net].items():
                # float64: only the summation order differs (two half-batch means averaged vs one mean),
                # ~1e-16 relative per operation, amplified by Adam's 1/√v over 3 steps: far below 1e-9
                assert torch.allclose(v, b[name][net][k], rtol=1e-9, atol=1e-11), (name, net, k)
    assert torch.equal(a["eval_plateau_decay"]["lr"], b["eval_plateau_decay"]["lr"])
    assert float(a["eval_plateau_decay"]["lr"][0]) < 1e-2  # the schedule did act
    # the flags change the run (the comparison is not between copies of one plain run)
    for name in FLAGS:
        if name not in ("plain", "msg", "eval_plateau_decay"):
            assert any(not torch.equal(v, a["plain"]["D"].get(k, v + 1)) for k, v in a[name]["D"].items()), name
