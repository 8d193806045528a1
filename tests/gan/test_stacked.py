"""Stacked images (three images on three channels, 1000 modes) and their mode metric (Metz et al.; PacGAN)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan.data import ImageData, StackedImages
from gan.metrics import stacked_mode_metrics

ROOT = Path(__file__).resolve().parents[2]


def _labelled_constant_images(n=200, classes=10, size=8):
    """Image of class c is the constant (c − 4.5)/5: its class can be read off any pixel."""
    y = torch.arange(n) % classes
    x = ((y.float() - 4.5) / 5)[:, None, None, None].expand(n, 1, size, size).clone()
    return ImageData("const", x, y)


def _read_class(x):
    return torch.round(x[:, 0, 0, 0] * 5 + 4.5).long()


def test_stacked_sample_puts_independent_images_on_channels_and_labels_are_base_ten_tuples():
    st = StackedImages(_labelled_constant_images(), 3)
    assert st.shape == (3, 8, 8) and st.num_classes == 1000
    x, y = st.sample_labelled(500, torch.Generator().manual_seed(0))
    assert x.shape == (500, 3, 8, 8)
    per_channel = torch.stack([_read_class(x[:, c:c + 1]) for c in range(3)])
    assert torch.equal(y, per_channel[0] + 10 * per_channel[1] + 100 * per_channel[2])
    assert len(set(y.tolist())) > 300  # 500 draws of 1000 equally likely tuples: ~393 distinct expected
    with pytest.raises(ValueError, match="labels"):
        StackedImages(ImageData("nolab", torch.zeros(4, 1, 8, 8)))


def test_stacked_mode_metrics_counts_tuples_and_kl_to_uniform():
    st = StackedImages(_labelled_constant_images(), 3)
    x, y = st.sample_labelled(5000, torch.Generator().manual_seed(1))
    m = stacked_mode_metrics(x, _read_class)
    counts = np.bincount(y.numpy(), minlength=1000)
    assert m["counts"] == counts.tolist() and m["modes"] == int((counts > 0).sum())
    p = counts / counts.sum()
    brute = sum(pi * math.log(pi * 1000) for pi in p if pi > 0)
    assert m["kl"] == pytest.approx(brute, rel=1e-12)
    # a fully collapsed generator: one mode, KL = log 1000
    collapsed = x[:1].expand(300, -1, -1, -1)
    mc = stacked_mode_metrics(collapsed, _read_class)
    assert mc["modes"] == 1 and mc["kl"] == pytest.approx(math.log(1000))
    # logits work as well as labels
    logits = lambda im: torch.nn.functional.one_hot(_read_class(im), 10).float()  # noqa: E731
    assert stacked_mode_metrics(x, logits)["counts"] == m["counts"]
    with pytest.raises(ValueError, match="shape"):
        stacked_mode_metrics(x[:, :2], _read_class)


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Fashion-MNIST not installed (Debian dataset-fashion-mnist; .ci/run installs it)")
def test_stacked_fashion_mnist_train_and_eval_through_the_cli(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "gan", *a], env=env, capture_output=True, text=True,  # noqa: E731
                                    timeout=300, cwd=ROOT)
    r = run("train", "--data", "stacked_fashion_mnist", "--image-size", "32", "--steps", "2", "--batch-size", "8",
            "--width", "8", "--z-dim", "8", "--no-progress", "--sample-every", "0", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("eval", str(tmp_path), "--n", "400", "--classifier-epochs", "1", "--classifier-images", "3000")
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["of"] == 1000 and 1 <= out["modes"] <= 400 and out["n"] == 400
    assert 0 <= out["kl"] <= math.log(1000) + 1e-9
    assert out["classifier_train_accuracy"] > 0.5  # 1 epoch on 3000 Fashion-MNIST images: ≈ 0.7 in practice
    assert (tmp_path / "mode_classifier.pt").is_file()
