"""BEGAN: the loss against its equations, the autoencoder critic, k_t checkpointed, composition with stabilisers."""
import json

import pytest
import torch

from gan import losses
from gan.config import TrainConfig
from gan.models.autoencoder import AutoencoderCritic
from gan.trainer import Trainer

TINY = dict(data="ring8", divergence="began", steps=12, batch_size=32, hidden=32, layers=2, z_dim=4, log_every=1,
            sample_every=0, checkpoint_every=4, progress=False, eval_samples=200, began_lambda_k=0.05, began_gamma=1.0)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_began_loss_follows_berthelot_et_al_eqs_4_and_5():
    loss = losses.get("began", gamma=0.4, lambda_k=0.2)
    assert isinstance(loss, losses.BEGANLoss) and loss.autoencoder_critic and loss.k == 0
    k, seq = 0.0, [(1.0, 0.1), (1.0, 0.1), (0.2, 3.0), (2.0, 0.0)]
    for lr_, lf in seq:
        vr, vf = torch.tensor([lr_ - 0.5, lr_ + 0.5]), torch.tensor([lf, lf])  # batch means lr_, lf
        assert float(loss.critic_loss(vr, vf)) == pytest.approx(lr_ - k * lf, abs=1e-7)
        assert float(loss.generator_loss(vf)) == pytest.approx(lf, abs=1e-7)
        loss.after_critic_step(None)
        k = min(max(k + 0.2 * (0.4 * lr_ - lf), 0.0), 1.0)  # eq. 5's update, clipped to [0, 1]
        assert loss.k == pytest.approx(k, abs=1e-7)
        assert loss.log_values() == {"began_k": loss.k, "began_m": pytest.approx(lr_ + abs(0.4 * lr_ - lf), abs=1e-6)}
    assert 0 <= loss.k <= 1
    restored = losses.BEGANLoss()
    restored.load_state_dict(loss.state_dict())
    assert restored.k == loss.k


def test_autoencoder_critic_outputs_the_l1_reconstruction_error():
    for shape in ((2,), (3, 28, 28)):
        ae = AutoencoderCritic(shape, hidden=8, layers=1, width=8, code=4)
        x = torch.rand(5, *shape) * 2 - 1
        v = ae(x)
        assert v.shape == (5,) and (v >= 0).all()
        torch.testing.assert_close(v, (x - ae.reconstruct(x)).abs().flatten(1).mean(1))


def test_began_training_logs_k_and_m_and_resumes_bit_identically(tmp_path):
    full = Trainer(TrainConfig(**TINY, out=str(tmp_path / "full")))
    full.fit()
    recs = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
            if '"final"' not in line]
    assert all(0 <= r["began_k"] <= 1 and r["began_m"] >= 0 for r in recs)
    assert len({r["began_k"] for r in recs}) > 1  # k moves
    cut = Trainer(TrainConfig(**TINY, out=str(tmp_path / "cut")))
    cut.fit(stop_after=6)
    res = Trainer(TrainConfig(**TINY, out=str(tmp_path / "cut")), resume=True)
    assert res.step == 4 and res.loss.k == pytest.approx(recs[3]["began_k"], abs=0)
    res.fit()
    assert res.loss.k == full.loss.k
    for k, v in full.D.state_dict().items():
        assert torch.equal(v, res.D.state_dict()[k]), k


@pytest.mark.parametrize("extra", [dict(pack=2), dict(r1=1.0), dict(spectral_norm=True), dict(unrolled_steps=2),
                                   dict(instance_noise=0.1), dict(conditional="concat"), dict(mine_beta=0.5),
                                   dict(ema_decay=0.9)])
def test_began_composes_with_the_stabilisers(tmp_path, extra):
    s = Trainer(TrainConfig(**{**TINY, "steps": 3}, **extra, out=str(tmp_path))).fit()
    assert s["steps"] == 3


def test_began_on_images(tmp_path):
    from gan.data import ImageData

    ds = ImageData("blobs", torch.rand(16, 1, 28, 28) * 2 - 1)
    cfg = TrainConfig(**{**TINY, "steps": 2, "batch_size": 4}, width=8, out=str(tmp_path))
    tr = Trainer(cfg, dataset=ds)
    assert isinstance(tr.D.net, AutoencoderCritic)
    tr.fit()


def test_began_refuses_projection(tmp_path):
    with pytest.raises(ValueError, match="autoencoder critic does not combine"):
        Trainer(TrainConfig(**TINY, conditional="projection", out=str(tmp_path)))
