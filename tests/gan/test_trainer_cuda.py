"""The trainer on `cuda`: every GPU-only setting (bf16 autocast, channels_last, torch.compile with inductor)
and the fp32 path, on 2-D and image data, with a checkpoint written and resumed on the device.

These are the trainer's share of `make gpu-check` (`pytest -m cuda`). The same checks run on the CPU where the
setting exists there (fp32), so the assertions themselves are exercised on every machine; on the CPU the runs
are a few steps of tiny models (compile on the CPU is tested in test_trainer_flags.py).
"""
from __future__ import annotations

import math

import pytest
import torch

from gan import data as data_mod
from gan.config import TrainConfig
from gan.trainer import Trainer

CUDA = pytest.param("cuda", marks=pytest.mark.cuda)


def _quiet(**kw) -> TrainConfig:
    return TrainConfig(**{"progress": False, "log_every": 1, "sample_every": 0, "checkpoint_every": 0, **kw})


def _noise_images(n=32, size=32, device="cpu"):
    ds = data_mod.ImageData("noise", torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    ds.images = ds.images.to(device)
    return ds


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_mlp_run_trains_checkpoints_and_resumes_on_device(device, tmp_path):
    out = tmp_path / "run"
    tr = Trainer(_quiet(data="ring8", steps=6, batch_size=32, hidden=32, layers=2, device=device,
                        eval_samples=200, checkpoint_every=3, out=str(out)))
    assert {p.device.type for p in [*tr.G.parameters(), *tr.D.parameters()]} == {device}
    tr.fit(stop_after=3)                      # as an interrupted run: checkpoint at step 3, no final outputs
    assert (out / "checkpoint.pt").is_file()
    resumed = Trainer(_quiet(data="ring8", steps=6, batch_size=32, hidden=32, layers=2, device=device,
                             eval_samples=200, checkpoint_every=3, out=str(out)), resume=True)
    assert resumed.step == 3
    assert {p.device.type for p in resumed.G.parameters()} == {device}
    summary = resumed.fit()
    assert summary["steps"] == 6
    x = resumed.generate(n=100, seed=0)
    assert x.device.type == "cpu" and x.shape == (100, 2) and torch.isfinite(x).all()


@pytest.mark.parametrize("setting", [pytest.param(s, marks=pytest.mark.cuda)
                                     for s in ("fp32", "bf16", "channels_last", "compile")] + ["cpu-fp32"])
def test_dcgan_setting_trains_on_device(setting, tmp_path):
    device = "cpu" if setting.startswith("cpu-") else "cuda"
    feature = setting.removeprefix("cpu-")
    cfg = _quiet(data="fashion_mnist", model="dcgan", image_size=32, z_dim=16, width=8, batch_size=8, steps=3,
                 device=device, bf16=feature == "bf16", channels_last=feature == "channels_last",
                 compile=feature == "compile", compile_backend="inductor",
                 out=str(tmp_path / setting))
    tr = Trainer(cfg, dataset=_noise_images(device=device))
    losses = [tr.train_step() for _ in range(3)]
    assert all(math.isfinite(v) for rec in losses for v in rec.values()), losses
    assert next(tr.G.parameters()).device.type == device
    if feature == "channels_last":
        convs = [p for p in [*tr.G.parameters(), *tr.D.parameters()] if p.dim() == 4]
        assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    if feature == "bf16":
        x, _ = tr.sample_real()
        with tr.autocast:
            v = tr.D_run(x)
        assert v.dtype == torch.bfloat16
    if feature == "compile":
        assert tr.G_run is not tr.G and tr.D_run is not tr.D   # the loop calls the compiled wrappers
    x = tr.generate(n=4, seed=0)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert float(x.abs().max()) <= 1.0  # tanh output
