"""gan.sweep: the batched engine equals the solo trainer run by run, runs do not interact, NaN runs freeze alone,
checkpoints resume bit-identically, and the run folders it writes are the trainer's."""
import dataclasses
import json
import math

import pytest
import torch

from gan.config import TrainConfig
from gan.sweep import BatchedAdam, BatchedTrainer, batch_blockers
from gan.trainer import NonFiniteLossError, Trainer

BASE = dict(data="ring8", steps=200, batch_size=32, hidden=16, layers=2, z_dim=4, log_every=0, sample_every=0,
            checkpoint_every=0, progress=False, eval_samples=200)

# one run per batched feature: losses of every family, per-run lr / betas, smoothing, instance noise with its
# anneal, R1 + R2, EMA, WGAN clipping, WGAN-GP and the gradient penalty on any loss
VARIANTS = [dict(seed=0), dict(seed=1, divergence="kl", generator_loss="saturating", lr_d=3e-4, betas_d=(0.0, 0.9)),
            dict(seed=2, label_smoothing=0.1, instance_noise=0.1, instance_noise_anneal=100),
            dict(seed=3, r1=1.0, r2=0.5, ema_decay=0.9), dict(seed=4, divergence="wgan"),
            dict(seed=5, divergence="hinge", lr_g=1e-3), dict(seed=6, divergence="squared_hellinger", n_critic=1),
            dict(seed=7, divergence="least_squares", betas_g=(0.9, 0.99)),
            dict(seed=8, divergence="jeffreys"),  # its Wright ω cannot be vmapped: the per-run loop
            dict(seed=9, divergence="wgan_gp", gp_weight=5.0), dict(seed=10, gradient_penalty=1.0, r1=0.5)]


def _cfgs(tmp_path, variants, tag, **kw):
    return [TrainConfig(**{**BASE, **kw, **v, "out": str(tmp_path / f"{tag}{i}")}) for i, v in enumerate(variants)]


def _max_diff(bt, r, tr):
    d = [(bt.gp[k][r] - v).abs().max().item() for k, v in tr.G.named_parameters()]
    d += [(bt.dp[k][r] - v).abs().max().item() for k, v in tr.D.named_parameters()]
    d += [(bt.g_buf[k][r].double() - v.double()).abs().max().item() for k, v in tr.G.named_buffers()]
    return max(d)


@pytest.mark.parametrize("pack", [1, 2])
def test_batched_runs_equal_the_same_runs_trained_alone(tmp_path, float64, pack):
    # Tolerance 1e-9 (issue 14): the engine does the trainer's operations in the trainer's order on each run's
    # slice, so the only difference is summation order inside batched kernels; in float64 after 200 steps we
    # see ≤ 2e-16. A larger difference would mean a different computation, not rounding.
    cfgs = _cfgs(tmp_path, VARIANTS, "b", pack=pack)
    bt = BatchedTrainer(cfgs)
    records = bt.fit()
    xb = bt.generate()
    for r, c in enumerate(cfgs):
        tr = Trainer(dataclasses.replace(c, out=str(tmp_path / f"solo{r}")))
        summary = tr.fit()
        assert _max_diff(bt, r, tr) <= 1e-9, VARIANTS[r]
        assert (xb[r] - tr.generate(tr.z_plot)).abs().max().item() <= 1e-6  # float32 samples: ≤ a few ulp
        for k in ("modes", "hq_fraction", "reverse_kl", "steps", "divergence", "generator_loss"):
            a, b = records[r][k], summary[k]
            assert a == b or (isinstance(a, float) and (math.isclose(a, b, abs_tol=1e-12) or (a != a and b != b))), (k, a, b)


def test_pacgan_models_batch_exactly(tmp_path, float64):
    # BatchNorm generator (batch statistics, running statistics in eval), maxout critic, PacGAN's optimiser and
    # a fixed training set per run (drawn from the run's own seed)
    variants = [dict(seed=0), dict(seed=1, lr_d=2e-4)]
    cfgs = _cfgs(tmp_path, variants, "p", model="pacgan", z_dim=2, hidden=32, layers=2, steps=60, train_set=500,
                 preset="pacgan")
    bt = BatchedTrainer(cfgs)
    bt.fit()
    for r, c in enumerate(cfgs):
        tr = Trainer(dataclasses.replace(c, out=str(tmp_path / f"ps{r}")))
        tr.fit()
        assert _max_diff(bt, r, tr) <= 1e-9
        assert (bt.generate()[r] - tr.generate(tr.z_plot)).abs().max().item() <= 1e-6


def test_a_runs_result_does_not_depend_on_its_batch_mates(tmp_path, float64):
    cfgs = _cfgs(tmp_path, VARIANTS, "m", steps=40)
    alone = BatchedTrainer([cfgs[2]])
    together = BatchedTrainer(cfgs)
    shuffled = BatchedTrainer([cfgs[5], cfgs[2], cfgs[0]])
    for bt in (alone, together, shuffled):
        for _ in range(40):
            bt.train_step()
    for k in alone.gp:
        assert torch.equal(alone.gp[k][0], together.gp[k][2]) and torch.equal(alone.gp[k][0], shuffled.gp[k][1])
    for k in alone.dp:
        assert torch.equal(alone.dp[k][0], together.dp[k][2]) and torch.equal(alone.dp[k][0], shuffled.dp[k][1])


def test_a_non_finite_run_is_frozen_and_reported_the_others_go_on(tmp_path, float64):
    cfgs = _cfgs(tmp_path, VARIANTS[:3], "n", steps=30)
    ref = BatchedTrainer([cfgs[0], cfgs[2]])
    bt = BatchedTrainer(cfgs)
    solo = Trainer(dataclasses.replace(cfgs[1], out=str(tmp_path / "nsolo")))
    for _ in range(10):
        ref.train_step(), bt.train_step(), solo.train_step()
    with torch.no_grad():
        bt.dp["net.net.0.weight"][1, 0, 0] = math.nan
        solo.D.net.net[0].weight[0, 0] = math.nan
    frozen = {k: v[1].clone() for k, v in bt.gp.items()}
    with pytest.raises(NonFiniteLossError) as exc:
        solo.train_step()
    for _ in range(20):
        ref.train_step(), bt.train_step()
    assert bt.failed[1] == str(exc.value) and "step 11" in bt.failed[1]
    assert bt.failed[0] is None and bt.failed[2] is None and bt.alive.tolist() == [True, False, True]
    for k in frozen:
        assert torch.equal(bt.gp[k][1], frozen[k])
    for k in ref.gp:
        assert torch.equal(bt.gp[k][0], ref.gp[k][0]) and torch.equal(bt.gp[k][2], ref.gp[k][1])
    records = bt.finish()
    assert records[1]["failed"] == str(exc.value) and records[1]["modes"] == 0
    assert not (tmp_path / "n1" / "summary.json").exists() and (tmp_path / "n0" / "summary.json").exists()


def test_checkpoint_resume_is_bit_identical(tmp_path, float64):
    cfgs = _cfgs(tmp_path, VARIANTS[:4], "c", steps=30)
    full = BatchedTrainer(cfgs)
    full.fit()
    cfgs2 = _cfgs(tmp_path, VARIANTS[:4], "d", steps=30)
    first = BatchedTrainer(cfgs2, checkpoint=tmp_path / "batch.pt")
    assert first.fit(stop_after=12) == []
    first.save()
    again = BatchedTrainer(cfgs2, checkpoint=tmp_path / "batch.pt", resume=True)
    assert again.step == 12
    again.fit()
    for k in full.gp:
        assert torch.equal(full.gp[k], again.gp[k])
    for k in full.dp:
        assert torch.equal(full.dp[k], again.dp[k])
    # another step budget is the same runs (an extended batch resumes), unless the checkpoint is past it
    longer = BatchedTrainer(_cfgs(tmp_path, VARIANTS[:4], "d", steps=31), checkpoint=tmp_path / "batch.pt",
                            resume=True)
    assert longer.step == 30  # fit() saved its last step
    with pytest.raises(ValueError, match="other runs"):
        BatchedTrainer(_cfgs(tmp_path, VARIANTS[:4], "d", steps=10), checkpoint=tmp_path / "batch.pt", resume=True)
    with pytest.raises(ValueError, match="other runs"):
        BatchedTrainer(_cfgs(tmp_path, VARIANTS[:4], "d", steps=30, lr_g=3e-4), checkpoint=tmp_path / "batch.pt",
                       resume=True)


def test_run_folders_are_the_trainers(tmp_path, float64):
    cfgs = _cfgs(tmp_path, VARIANTS[:4], "f", steps=20, log_every=10)
    bt = BatchedTrainer(cfgs)
    recs = bt.fit()
    for r, c in enumerate(cfgs):
        folder = tmp_path / f"f{r}"
        assert json.loads((folder / "summary.json").read_text())["modes"] == recs[r]["modes"]
        lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [x["step"] for x in lines] == [10, 20]  # step records only: the summary lives in summary.json
        tr = Trainer(TrainConfig.from_dict(json.loads((folder / "config.json").read_text())), resume=True)
        assert tr.step == 20
        assert torch.equal(tr.generate(tr.z_plot), bt.generate()[r])
        # the exported optimiser state continues the run as the batch would have
        bt2 = BatchedTrainer([dataclasses.replace(c, steps=21, out=str(tmp_path / f"g{r}"))])
        for _ in range(21):
            bt2.train_step()
        tr.config.steps = 21
        tr.train_step()
        assert _max_diff(bt2, 0, tr) <= 1e-12


def test_unbatchable_configs_are_named_and_mixed_shapes_refused(tmp_path):
    assert batch_blockers(TrainConfig(**BASE)) == []
    # spectral norm batches: tests/gan/test_sweep_spectral_norm.py
    assert batch_blockers(TrainConfig(**BASE, spectral_norm=True, spectral_norm_g=True)) == []
    assert any("unrolled_steps" in b for b in batch_blockers(TrainConfig(**BASE, unrolled_steps=5)))
    assert batch_blockers(TrainConfig(**{**BASE, "divergence": "wgan_gp", "gradient_penalty": 1.0})) == []
    assert any("mine_beta" in b for b in batch_blockers(TrainConfig(**BASE, mine_beta=1.0)))
    with pytest.raises(ValueError, match="cannot be batched: unrolled_steps"):
        BatchedTrainer([TrainConfig(**BASE, unrolled_steps=2, out=str(tmp_path / "x"))])
    with pytest.raises(ValueError, match="share"):
        BatchedTrainer([TrainConfig(**BASE, out=str(tmp_path / "a")),
                        TrainConfig(**{**BASE, "hidden": 8}, out=str(tmp_path / "b"))])
    with pytest.raises(ValueError, match="own out folder"):
        BatchedTrainer([TrainConfig(**BASE, out=str(tmp_path / "a")), TrainConfig(**BASE, out=str(tmp_path / "a"))])


def test_every_config_field_is_followed_shared_inert_or_blocking():
    # a field the engine neither follows per run, nor shares across the batch, nor refuses would be ignored in
    # silence by a batched run (lr_decay, keep_best, plateau_patience and tensorboard once were): every
    # TrainConfig field must be in exactly one of the engine's lists
    from gan.sweep import engine

    lists = (engine.SHARED_FIELDS, engine.PER_RUN_FIELDS, engine.INERT_FIELDS, engine.BLOCKING_FIELDS)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    listed = [n for ls in lists for n in ls]
    assert sorted(listed) == sorted(names), (set(names) - set(listed), set(listed) - set(names))


@pytest.mark.parametrize("kw", [dict(lr_decay="cosine"), dict(plateau_patience=2, eval_every=5),
                                dict(keep_best="modes", eval_every=5), dict(tensorboard=True),
                                dict(divergence="began")])
def test_run_tools_the_engine_does_not_reproduce_send_the_run_to_the_solo_trainer(tmp_path, kw):
    from gan.compare import run_configs

    cfg = TrainConfig(**{**BASE, **kw, "steps": 3, "out": str(tmp_path / "r")})
    field = next(iter(kw))
    assert any(b.startswith(field + "=") for b in batch_blockers(cfg)), batch_blockers(cfg)
    if field == "tensorboard":
        pytest.importorskip("torch.utils.tensorboard")
    cfg2 = dataclasses.replace(cfg, seed=1, out=str(tmp_path / "r2"))
    done = run_configs([("a", cfg), ("b", cfg2)], tmp_path, progress=False)
    for c in (cfg, cfg2):  # trained by the trainer (a batched run would say engine "batched")
        assert done[c.out].get("engine") != "batched"
        assert json.loads((tmp_path / c.out / "summary.json").read_text())["steps"] == 3


def test_the_configs_eval_every_is_honoured_by_the_engine(tmp_path):
    cfgs = _cfgs(tmp_path, [dict(seed=0), dict(seed=1)], "e", steps=10, eval_every=5)
    BatchedTrainer(cfgs).fit()
    for c in cfgs:
        rows = [json.loads(x) for x in open(f"{c.out}/eval.jsonl")]
        assert [r["step"] for r in rows] == [5]  # the final step's metrics are the summary's


def test_batched_adam_equals_torch_adam_per_run(float64):
    torch.manual_seed(0)
    lrs, b1, b2 = [1e-3, 3e-2, 1e-4], [0.0, 0.5, 0.9], [0.9, 0.999, 0.99]
    w0 = torch.randn(3, 4, 5)
    params = {"w": w0.clone().requires_grad_(True)}
    opt = BatchedAdam(params, lrs, b1, b2)
    singles = [w0[r].clone().requires_grad_(True) for r in range(3)]
    opts = [torch.optim.Adam([singles[r]], lr=lrs[r], betas=(b1[r], b2[r])) for r in range(3)]
    active = torch.tensor([True, True, True])
    for t in range(50):
        g = torch.randn(3, 4, 5) * 10.0 ** torch.randint(-6, 2, (3, 1, 1))
        if t == 20:
            active = torch.tensor([True, False, True])  # run 1 frozen from here on
        params["w"].grad = g.clone()
        opt.step(active)
        for r in range(3):
            if active[r]:
                singles[r].grad = g[r].clone()
                opts[r].step()
    for r in range(3):
        # float64: ≤ 1e-15 relative (one rounding of the update formula in another order)
        assert torch.allclose(params["w"][r], singles[r], rtol=1e-14, atol=1e-15)
    assert opt.steps.tolist() == [50, 20, 50]


def test_pacgan_preset_from_the_command_line():
    from gan.cli import _parser
    from gan.config import config_from_args

    cfg = config_from_args(_parser().parse_args(["train", "--preset", "pacgan", "--pack", "3", "--data", "grid25"]))
    cfg.validate()
    assert (cfg.model, cfg.z_dim, cfg.hidden, cfg.layers, cfg.batch_size, cfg.train_set, cfg.steps) == (
        "pacgan", 2, 400, 4, 300, 100_000, 400_000)
    assert (cfg.lr_g, cfg.lr_d, cfg.betas_g, cfg.betas_d) == (1e-4, 1e-4, (0.8, 0.999), (0.8, 0.999))
    # explicit flags still win over the preset
    cfg = config_from_args(_parser().parse_args(["train", "--preset", "pacgan", "--steps", "10", "--lr-d", "3e-4"]))
    assert (cfg.steps, cfg.lr_d, cfg.batch_size) == (10, 3e-4, 100)
