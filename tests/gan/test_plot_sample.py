"""`python -m gan plot` (curves, seeds averaged) and `python -m gan sample --out FILE` (format by suffix)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan import plot_cli
from gan.config import TrainConfig
from gan.plots import mean_se
from gan.trainer import Trainer

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
TINY = dict(data="ring8", steps=20, batch_size=32, hidden=16, layers=1, z_dim=4, log_every=5, sample_every=0,
            checkpoint_every=10, progress=False, eval_samples=200, eval_every=10)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gan", *args], capture_output=True, text=True, env=ENV, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    paths = []
    for div, seed in (("gan", 0), ("gan", 1), ("kl", 0)):
        out = root / f"{div}{seed}"
        Trainer(TrainConfig(**TINY, divergence=div, seed=seed, out=str(out))).fit()
        paths.append(out)
    return paths


def test_read_curves_and_groups(runs):
    c = plot_cli.read_curves(runs[0])
    lines = [json.loads(x) for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in lines if not r.get("final")]
    np.testing.assert_array_equal(c["loss_d"][0], steps)
    np.testing.assert_array_equal(c["loss_d"][1], [r["loss_d"] for r in lines if not r.get("final")])
    np.testing.assert_array_equal(c["modes"][0], [10, 20])
    groups = plot_cli.group_runs(runs)
    assert [(label, [p.name for p in ps]) for label, ps in groups] == [("divergence=gan", ["gan0", "gan1"]),
                                                                      ("divergence=kl", ["kl0"])]


def test_mean_and_standard_error_over_seeds():
    a = (np.array([1, 2, 3]), np.array([1.0, 2.0, 4.0]))
    b = (np.array([2, 3, 4]), np.array([3.0, 6.0, 0.0]))
    steps, mean, se = mean_se([a, b])
    np.testing.assert_array_equal(steps, [2, 3])  # steps both runs logged
    np.testing.assert_allclose(mean, [2.5, 5.0])
    np.testing.assert_allclose(se, [np.std([2, 3], ddof=1) / np.sqrt(2), np.std([4, 6], ddof=1) / np.sqrt(2)])


def test_plot_cli_writes_pdf_and_png(runs, tmp_path):
    r = _cli("plot", *map(str, runs), "--metrics", "loss_d,modes", "--out", str(tmp_path / "fig"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fig.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = _cli("plot", str(runs[0]), "--metrics", "fid")
    assert r.returncode == 2 and "fid logged by none of the runs; available:" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("suffix", [".png", ".npy", ".npz"])
def test_sample_format_by_suffix(runs, tmp_path, suffix):
    out = tmp_path / f"s{suffix}"
    r = _cli("sample", str(runs[0]), "--n", "300", "--seed", "4", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out) and sorted(os.listdir(tmp_path)) == [out.name]  # no s.png.npy
    if suffix == ".png":
        from PIL import Image

        assert Image.open(out).size[0] > 100
        return
    x = np.load(out) if suffix == ".npy" else np.load(out)["samples"]
    assert x.shape == (300, 2)
    tr = Trainer.from_run(runs[0])  # read-only: no lock on the folder
    np.testing.assert_array_equal(x, tr.generate(n=300, seed=4).numpy())


def test_sample_unknown_suffix_fails_clearly(runs, tmp_path):
    r = _cli("sample", str(runs[0]), "--out", str(tmp_path / "s.txt"))
    assert r.returncode == 2 and "--out must end in .png, .npy, .npz" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s.txt").exists()


def test_image_sample_grid(tmp_path):
    from gan.data import ImageData
    from gan.plot_cli import write_samples

    tr = Trainer(TrainConfig(data="digits", steps=1, batch_size=4, width=8, z_dim=4, sample_every=0,
                             checkpoint_every=0, progress=False, out=str(tmp_path)),
                 dataset=ImageData("x", torch.rand(8, 3, 28, 28) * 2 - 1))
    p = write_samples(tr, 10, 0, tmp_path / "grid.png")
    from PIL import Image

    w, h = Image.open(p).size
    assert (w, h) == (4 * 29 - 1, 3 * 29 - 1)  # ⌈√10⌉ = 4 columns, 3 rows of 28 px with 1-px gaps
