"""Periodic evaluation (eval.jsonl, keep-best, resume truncation), learning-rate schedules and the plateau rule."""
import json
import math

import numpy as np
import pytest
import torch

from gan import checkpoint, schedules
from gan.config import TrainConfig
from gan.metrics import mode_metrics
from gan.run_tools import truncate_jsonl
from gan.trainer import Trainer

TINY = dict(data="ring8", steps=30, batch_size=32, hidden=16, layers=1, z_dim=4, log_every=5, sample_every=0,
            checkpoint_every=10, progress=False, eval_samples=300, lr_g=2e-3, lr_d=2e-3)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _records(path):
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    return [json.loads(line) for line in text.splitlines()]


def _params_equal(a, b):
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_evaluation_logs_mode_metrics_of_fixed_noise_and_leaves_training_alone(tmp_path):
    plain = Trainer(TrainConfig(**TINY, out=str(tmp_path / "plain")))
    plain.fit()
    ev = Trainer(TrainConfig(**TINY, eval_every=10, out=str(tmp_path / "ev")))
    ev.fit()
    _params_equal(plain.G, ev.G)  # evaluation draws from its own generators only
    _params_equal(plain.D, ev.D)
    recs = _records(tmp_path / "ev" / "eval.jsonl")
    assert [r["step"] for r in recs] == [10, 20, 30]
    m = mode_metrics(ev.generate(ev.tools.evaluator.z), ev.data.means, ev.data.std)  # the same fixed noise
    last = recs[-1]
    assert last["modes"] == m["modes"] and last["hq_fraction"] == m["hq_fraction"]
    assert (last["reverse_kl"] is None) if math.isnan(m["reverse_kl"]) else last["reverse_kl"] == m["reverse_kl"]
    assert all(r["seconds"] >= 0 for r in recs)


def test_keep_best_writes_the_checkpoint_of_the_best_evaluation(tmp_path):
    cfg = TrainConfig(**{**TINY, "steps": 60}, eval_every=5, keep_best="hq_fraction", out=str(tmp_path))
    Trainer(cfg).fit()
    recs = _records(tmp_path / "eval.jsonl")
    values = [r["hq_fraction"] for r in recs]
    best = json.loads((tmp_path / "best.json").read_text())
    first_max = int(np.argmax(values))  # strictly better replaces: the first maximum is kept
    assert best == {"metric": "hq_fraction", "value": values[first_max], "step": recs[first_max]["step"]}
    assert [r["step"] for r in recs if r.get("best")] == [r["step"] for i, r in enumerate(recs)
                                                         if values[i] > max(values[:i], default=-1)]
    saved = checkpoint.load(tmp_path / "best.pt")
    assert saved["step"] == best["step"]
    # the generator in best.pt reproduces the logged value
    tr = Trainer(TrainConfig(**{**TINY, "steps": 60}, eval_every=5, keep_best="hq_fraction",
                             out=str(tmp_path / "check")))
    tr.G.load_state_dict(saved["generator"])
    assert tr.tools.evaluator.evaluate()["hq_fraction"] == best["value"]


def test_resume_truncates_eval_log_to_the_checkpoint_and_matches_the_full_run(tmp_path):
    kw = dict(**TINY, eval_every=5, keep_best="modes", plateau_patience=1, plateau_factor=0.5, lr_decay="cosine")
    full = Trainer(TrainConfig(**kw, out=str(tmp_path / "full")))
    full.fit()
    cut = Trainer(TrainConfig(**kw, out=str(tmp_path / "cut")))
    cut.fit(stop_after=25)  # last checkpoint at step 20; the step-25 evaluation is past it
    assert [r["step"] for r in _records(tmp_path / "cut" / "eval.jsonl")][-1] == 25
    res = Trainer(TrainConfig(**kw, out=str(tmp_path / "cut")), resume=True)
    assert res.step == 20
    assert [r["step"] for r in _records(tmp_path / "cut" / "eval.jsonl")] == [5, 10, 15, 20]
    assert res.tools.plateau.state_dict() == json.loads(json.dumps(res.tools.plateau.state_dict()))
    res.fit()
    _params_equal(full.G, res.G)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(_records(tmp_path / "full" / "eval.jsonl")) == strip(_records(tmp_path / "cut" / "eval.jsonl"))
    assert (tmp_path / "full" / "best.json").read_text() == (tmp_path / "cut" / "best.json").read_text()
    assert full.opt_g.param_groups[0]["lr"] == res.opt_g.param_groups[0]["lr"]


def test_truncate_jsonl_drops_later_and_torn_lines(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1}\n{"step": 5}\n{"step": 9}\n{"step": 1')
    truncate_jsonl(p, 5)
    assert p.read_text() == '{"step": 1}\n{"step": 5}\n'
    truncate_jsonl(tmp_path / "missing.jsonl", 3)  # nothing to do


@pytest.mark.parametrize("kind", schedules.KINDS)
def test_trainer_learning_rates_follow_the_schedule(tmp_path, kind):
    cfg = TrainConfig(**{**TINY, "steps": 20}, lr_decay=kind, lr_decay_every=6, lr_decay_gamma=0.3,
                      out=str(tmp_path))
    tr = Trainer(cfg)
    seen = []
    for _ in range(20):
        seen.append((tr.opt_g.param_groups[0]["lr"], tr.opt_d.param_groups[0]["lr"]))
        tr.train_step()
        tr.tools.after_step(tr.step, {})
    for t, (lg, ld) in enumerate(seen):  # the rate used by step t + 1 is set after step t
        expect = {"none": 1.0, "linear": 1 - t / 20, "cosine": 0.5 * (1 + math.cos(math.pi * t / 20)),
                  "step": 0.3 ** (t // 6)}[kind]
        assert lg == pytest.approx(2e-3 * expect, rel=1e-12) and ld == pytest.approx(2e-3 * expect, rel=1e-12)


def test_lr_factor_closed_forms_and_errors():
    assert schedules.lr_factor("linear", 0, 10) == 1 and schedules.lr_factor("linear", 10, 10) == 0
    assert schedules.lr_factor("cosine", 5, 10) == pytest.approx(0.5, abs=1e-15)
    assert schedules.lr_factor("cosine", 10, 10) == pytest.approx(0.0, abs=1e-15)
    assert schedules.lr_factor("step", 2999, 10**4, every=1000, gamma=0.5) == 0.25
    with pytest.raises(ValueError, match="lr_decay must be one of"):
        schedules.lr_factor("exp", 0, 10)


def test_plateau_rule():
    r = schedules.PlateauRule(patience=2, factor=0.5, maximise=False)
    assert [r.update(v) for v in (3.0, 2.0, float("nan"), None, 1.0, 1.0, 1.0)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    s = r.state_dict()
    r2 = schedules.PlateauRule(2, 0.5, False)
    r2.load_state_dict(s)
    assert r2.update(0.5) == r.update(0.5) == 0.25
    with pytest.raises(ValueError, match="patience"):
        schedules.PlateauRule(0)


@pytest.mark.parametrize("kw,message", [
    (dict(keep_best="modes"), "set eval_every > 0"),
    (dict(eval_every=5, keep_best="accuracy"), "keep_best must be one of"),
    (dict(lr_decay="exponential"), "lr_decay must be one of"),
    (dict(plateau_factor=1.5), "plateau_factor"),
    (dict(channels=2), "channels must be 1 or 3"),
    (dict(eval_every=-1), "eval_every must be an integer"),
    (dict(began_gamma=2.0), "began_gamma"),
])
def test_config_errors_name_the_field(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw).validate()


def test_evaluation_refuses_what_it_cannot_measure(tmp_path):
    with pytest.raises(ValueError, match="mixture data .* or labelled images"):
        TrainConfig(**{**TINY, "data": "spiral"}, eval_every=5).validate()
    with pytest.raises(ValueError, match="keep_best 'fid' is not measured on 'ring8'"):
        TrainConfig(**TINY, eval_every=5, keep_best="fid").validate()
    with pytest.raises(ValueError, match="keep_best 'modes' is not measured on 'digits'"):
        TrainConfig(**{**TINY, "data": "digits"}, eval_every=5, keep_best="modes").validate()
    # a dataset object is checked when the trainer starts
    from gan.data import Spiral

    with pytest.raises(ValueError, match="has neither"):
        Trainer(TrainConfig(**TINY, eval_every=5, out=str(tmp_path / "a")), dataset=Spiral())
    with pytest.raises(ValueError, match="labelled data"):
        from gan.data import ImageData

        Trainer(TrainConfig(**{**TINY, "data": "digits"}, width=8, eval_every=5, out=str(tmp_path / "b")),
                dataset=ImageData("x", torch.rand(8, 1, 28, 28) * 2 - 1))


class _Labelled:
    """Tiny labelled 1×28×28 image data: class k is a bright square at position k (3 classes)."""
    shape = (1, 28, 28)
    num_classes = 3

    def __init__(self, n=60):
        g = torch.Generator().manual_seed(0)
        self.labels = torch.arange(n) % 3
        self.images = -torch.ones(n, 1, 28, 28) + 0.1 * torch.randn(n, 1, 28, 28, generator=g)
        for i, k in enumerate(self.labels.tolist()):
            self.images[i, 0, 8 * k:8 * k + 8, 8:16] = 1.0

    def __len__(self):
        return len(self.images)

    def sample_labelled(self, n, generator=None):
        i = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[i], self.labels[i]

    def sample(self, n, generator=None):
        return self.sample_labelled(n, generator)[0]


def test_image_evaluation_fid_kid_on_cached_classifier_features(tmp_path):
    from gan.metrics import extract, fid_from_features

    cfg = TrainConfig(data="digits", steps=2, batch_size=8, width=8, z_dim=4, log_every=1, sample_every=0,
                      checkpoint_every=0, progress=False, eval_samples=40, eval_every=1, keep_best="fid",
                      out=str(tmp_path))
    tr = Trainer(cfg, dataset=_Labelled())
    tr.fit()
    recs = _records(tmp_path / "eval.jsonl")
    assert [r["step"] for r in recs] == [1, 2] and all(r["fid"] > 0 and "kid" in r for r in recs)
    assert (tmp_path / "eval_features.pt").is_file() and (tmp_path / "best.pt").is_file()
    extractor, real = tr.tools.evaluator._image_features()
    fake = extract(extractor, tr.generate(tr.tools.evaluator.z))
    assert fid_from_features(fake, real) == pytest.approx(recs[-1]["fid"], rel=1e-12)
