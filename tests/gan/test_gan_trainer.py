"""Trainer: deterministic CPU runs, bit-identical resume after an abrupt exit, NaN stop, unsafe checkpoints, CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan import checkpoint
from gan.config import TrainConfig, load_toml
from gan.run_folder import finite_or_none
from gan.trainer import NonFiniteLossError, Trainer

TINY = dict(data="ring8", steps=12, batch_size=32, hidden=16, layers=1, z_dim=4, log_every=4, sample_every=0,
            checkpoint_every=4, progress=False, eval_samples=200)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "gan", *args], capture_output=True, text=True, env=ENV, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(r.stderr)
    return r


def _states_equal(a, b):
    for key in ("generator", "critic"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    for key in ("opt_g", "opt_d"):
        for pid, st in a[key]["state"].items():
            for k, v in st.items():
                assert torch.equal(v, b[key]["state"][pid][k]), (key, pid, k)
    assert a["step"] == b["step"]


def test_interrupted_cli_run_resumes_bit_identical(tmp_path):
    flags = ["train", "--divergence", "pearson", "--steps", "12", "--batch-size", "32", "--hidden", "16",
             "--layers", "1", "--z-dim", "4", "--checkpoint-every", "4", "--sample-every", "0", "--no-progress",
             "--eval-samples", "200"]
    _cli(*flags, "--out", str(tmp_path / "full"))
    r = _cli(*flags, "--out", str(tmp_path / "cut"), "--stop-after", "6", check=False)
    assert r.returncode == 3  # exited abruptly after step 6; last checkpoint is step 4
    assert checkpoint.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 4
    _cli(*flags, "--out", str(tmp_path / "cut"), "--resume")
    a, b = (checkpoint.load(tmp_path / d / "checkpoint.pt") for d in ("full", "cut"))
    _states_equal(a, b)
    np.testing.assert_array_equal(np.load(tmp_path / "full" / "samples.npy"), np.load(tmp_path / "cut" / "samples.npy"))


def test_same_seed_same_run_and_outputs(tmp_path):
    torch.set_num_threads(1)
    s1 = Trainer(TrainConfig(**TINY, out=str(tmp_path / "a"))).fit()
    s2 = Trainer(TrainConfig(**TINY, out=str(tmp_path / "b"))).fit()
    assert s1 == s2
    _states_equal(checkpoint.load(tmp_path / "a" / "checkpoint.pt"), checkpoint.load(tmp_path / "b" / "checkpoint.pt"))
    for f in ("config.json", "metrics.jsonl", "samples.npy", "samples.png", "summary.json"):
        assert (tmp_path / "a" / f).exists()
    assert np.load(tmp_path / "a" / "samples.npy").shape == (200, 2)
    lines = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    # step records only; the final metrics live apart in summary.json (strict JSON: null, never NaN)
    assert [x["step"] for x in lines] == [4, 8, 12] and all(set(x) == {"step", "loss_d", "loss_g", "seconds"}
                                                            for x in lines)
    assert json.loads((tmp_path / "a" / "summary.json").read_text()) == finite_or_none(s1)


class _Poisoned:
    """ring8-shaped data that turns to NaN from call `bad` on."""
    shape = (2,)

    def __init__(self, bad):
        self.calls, self.bad = 0, bad

    def sample(self, n, generator=None):
        self.calls += 1
        x = torch.randn(n, 2, generator=generator)
        return x * float("nan") if self.calls >= self.bad else x


def test_nan_stops_with_step_and_loss_and_keeps_last_checkpoint(tmp_path):
    cfg = TrainConfig(**TINY, out=str(tmp_path))
    tr = Trainer(cfg, dataset=_Poisoned(bad=7))
    with pytest.raises(NonFiniteLossError, match="critic loss = nan at step 7"):
        tr.fit()
    assert checkpoint.load(tmp_path / "checkpoint.pt")["step"] == 4
    # the folder says why it stopped; a resume (it trains again from the last good checkpoint) removes that
    rec = json.loads((tmp_path / "failed.json").read_text())
    assert rec["step"] == 7 and rec["budget"] == cfg.steps and "critic loss = nan at step 7" in rec["failed"]
    Trainer(cfg, resume=True).close()
    assert not (tmp_path / "failed.json").exists()


def test_huge_learning_rate_stops_cleanly(tmp_path):
    cfg = TrainConfig(**{**TINY, "steps": 200, "checkpoint_every": 1}, lr_d=1e30, lr_g=1e30, divergence="kl",
                      out=str(tmp_path))
    with pytest.raises(NonFiniteLossError, match="at step"):
        Trainer(cfg).fit()
    # A checkpoint with non-finite parameters is never written: any checkpoint left is a good one.
    if (tmp_path / "checkpoint.pt").exists():
        c = checkpoint.load(tmp_path / "checkpoint.pt")
        assert all(torch.isfinite(v).all() for v in c["generator"].values())


def test_checkpoint_with_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "step": 0, "x": Payload()}, path)
    with pytest.raises(checkpoint.UnsafeCheckpointError, match="refusing to load"):
        checkpoint.load(path)
    assert not marker.exists()


def test_toml_config_and_flag_override(tmp_path):
    (tmp_path / "c.toml").write_text('[train]\ndivergence = "kl"\nsteps = 7\nbetas_g = [0.0, 0.9]\n')
    from gan.cli import _parser
    from gan.config import config_from_args

    args = _parser().parse_args(["train", "--config", str(tmp_path / "c.toml"), "--steps", "9"])
    cfg = config_from_args(args)
    assert (cfg.divergence, cfg.steps, cfg.betas_g) == ("kl", 9, (0.0, 0.9))
    assert load_toml(tmp_path / "c.toml")["steps"] == 7


def test_cli_sample_and_eval(tmp_path, capsys):
    from gan.cli import main

    out = tmp_path / "r"
    assert main(["train", "--steps", "4", "--batch-size", "16", "--hidden", "8", "--layers", "1", "--no-progress",
                 "--sample-every", "0", "--eval-samples", "100", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--n", "300"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["n"] == 300 and 0 <= m["hq_fraction"] <= 1
    assert main(["sample", str(out), "--n", "50", "--output", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (50, 2)


def test_sigkilled_cli_run_resumes_bit_identical(tmp_path):
    """A real kill: SIGKILL the training process once its first checkpoint exists (at whatever step it has reached
    then), resume, and end bit-identical to an uninterrupted run."""
    import signal
    import time

    flags = ["train", "--divergence", "js", "--steps", "150", "--batch-size", "32", "--hidden", "16", "--layers", "1",
             "--z-dim", "4", "--checkpoint-every", "10", "--sample-every", "0", "--no-progress", "--eval-samples",
             "200", "--spectral-norm", "--ema-decay", "0.9"]
    _cli(*flags, "--out", str(tmp_path / "full"))
    proc = subprocess.Popen([sys.executable, "-m", "gan", *flags, "--out", str(tmp_path / "cut")], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    step = checkpoint.load(ckpt)["step"]
    assert 10 <= step < 150 and not (tmp_path / "cut" / "summary.json").exists()
    _cli(*flags, "--out", str(tmp_path / "cut"), "--resume")
    a, b = (checkpoint.load(tmp_path / d / "checkpoint.pt") for d in ("full", "cut"))
    _states_equal(a, b)
    np.testing.assert_array_equal(np.load(tmp_path / "full" / "samples.npy"), np.load(tmp_path / "cut" / "samples.npy"))
