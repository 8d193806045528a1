"""--tensorboard: scalars, evaluation metrics, sample pictures and hparams read back from the event files;
purge_step on resume; a clear error naming the extra without the package."""
import builtins
import json

import pytest
import torch

from gan.config import TrainConfig
from gan.trainer import Trainer

pytest.importorskip("tensorboard", reason="optional extra 'tensorboard' not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

TINY = dict(data="ring8", steps=20, batch_size=32, hidden=16, layers=1, z_dim=4, log_every=5, sample_every=10,
            checkpoint_every=10, progress=False, eval_samples=200, eval_every=10, tensorboard=True)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_event_files_hold_the_logged_values(tmp_path):
    Trainer(TrainConfig(**TINY, out=str(tmp_path))).fit()
    acc = _events(tmp_path / "tensorboard")
    steps = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if not r.get("final")]
    got = _scalars(acc, "train/loss_d")
    assert [s for s, _ in got] == [r["step"] for r in steps]
    assert [v for _, v in got] == pytest.approx([r["loss_d"] for r in steps], rel=1e-6)  # stored as float32
    ev = [json.loads(x) for x in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert _scalars(acc, "eval/modes") == [(r["step"], r["modes"]) for r in ev]
    assert [s for s, _ in _scalars(acc, "lr/g")] == [5, 10, 15, 20]
    imgs = acc.Images("samples")
    assert [i.step for i in imgs] == [10, 20] and imgs[0].width > 100
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in content
    raw = content["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(raw).session_start_info
    assert info.hparams["divergence"].string_value == "gan" and info.hparams["steps"].number_value == 20


def test_resume_purges_the_killed_runs_later_events(tmp_path):
    Trainer(TrainConfig(**TINY, out=str(tmp_path))).fit(stop_after=15)  # checkpoint at 10, events up to 15
    res = Trainer(TrainConfig(**TINY, out=str(tmp_path)), resume=True)
    assert res.step == 10
    res.fit()
    got = _scalars(_events(tmp_path / "tensorboard"), "train/loss_d")
    assert [s for s, _ in got] == [5, 10, 15, 20]  # step 15 once: the killed run's copy is purged
    full = tmp_path / "full"
    Trainer(TrainConfig(**TINY, out=str(full))).fit()
    assert got == _scalars(_events(full / "tensorboard"), "train/loss_d")


def test_missing_package_names_the_extra(monkeypatch):
    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("torch.utils.tensorboard") or name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"divkit\[tensorboard\]"):
        TrainConfig(tensorboard=True).validate()


def test_image_runs_log_the_sample_grid(tmp_path):
    from gan.data import ImageData

    cfg = TrainConfig(data="digits", steps=2, batch_size=4, width=8, z_dim=4, log_every=1, sample_every=2,
                      checkpoint_every=0, progress=False, tensorboard=True, out=str(tmp_path))
    Trainer(cfg, dataset=ImageData("x", torch.rand(8, 3, 28, 28) * 2 - 1)).fit()
    imgs = _events(tmp_path / "tensorboard").Images("samples")
    assert [(i.step, i.width, i.height) for i in imgs] == [(2, 8 * 29 - 1, 8 * 29 - 1)]  # 64 samples, 8 × 8
