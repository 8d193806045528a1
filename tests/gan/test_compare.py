"""gan.compare: variants × seeds, the table's statistics, reuse of finished runs, the named studies, the CLI."""
import json
import math

import pytest
import torch

import gan.compare as cmp
from gan import run_folder
from gan.cli import main
from gan.config import TrainConfig

BASE = dict(data="ring8", steps=3, batch_size=32, hidden=8, layers=1, z_dim=2, log_every=0, sample_every=0,
            checkpoint_every=0, progress=False, eval_samples=100)


def _forbid_training(monkeypatch):
    """Any training through either engine fails the test, naming the runs."""
    monkeypatch.setattr(cmp, "Trainer", lambda cfg, **kw: pytest.fail(f"retrained {cfg.out}"))
    monkeypatch.setattr(cmp, "BatchedTrainer",
                        lambda cfgs, **kw: pytest.fail(f"retrained {', '.join(c.out for c in cfgs)}"))


def test_compare_trains_each_divergence_loss_seed_and_reuses_finished_runs(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    base = TrainConfig(**BASE)
    recs = cmp.compare(base, "kl,wgan_gp", seeds=2, generator_losses=["saturating", "nonsaturating"], out=tmp_path)
    assert [(r["variant"], r["seed"]) for r in recs] == [
        ("kl-saturating", 0), ("kl-saturating", 1), ("kl-nonsaturating", 0), ("kl-nonsaturating", 1),
        ("wgan_gp--", 0), ("wgan_gp--", 1)]
    # results.json is strict JSON: an undefined metric (NaN in the records) is null there
    from gan.run_folder import dumps

    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(dumps(recs))
    assert (tmp_path / "samples.png").stat().st_size > 0
    # a second call finds every run finished with the same config: nothing is trained
    _forbid_training(monkeypatch)
    again = cmp.compare(TrainConfig(**{**BASE, "progress": True}), "kl,wgan_gp", seeds=2, out=tmp_path)
    assert [r["modes"] for r in again] == [r["modes"] for r in recs]
    # a different budget is a different run
    with pytest.raises(pytest.fail.Exception, match="retrained"):
        cmp.compare(TrainConfig(**{**BASE, "steps": 4}), "kl", seeds=1, out=tmp_path)
    # a run saved before a config field existed is retrained, even if the field's default would match
    cfg_file = tmp_path / "kl-saturating-s0" / "config.json"
    saved = json.loads(cfg_file.read_text())
    cfg_file.write_text(json.dumps({k: v for k, v in saved.items() if k != "unrolled_optimizer"}))
    with pytest.raises(pytest.fail.Exception, match="retrained .*kl-saturating-s0"):
        cmp.compare(base, "kl", seeds=1, generator_losses=["saturating"], out=tmp_path)


def test_table_mean_and_standard_error_over_seeds():
    recs = [{"variant": "v", "divergence": "gan", "generator_loss": "nonsaturating", "tricks": {"pack": 2},
             "seed": s, "modes": m, "hq_fraction": hq, "reverse_kl": kl, "failed": None}
            for s, (m, hq, kl) in enumerate([(8, 0.5, 0.1), (6, 0.3, 0.3), (0, 0.0, math.nan)])]
    row = [line for line in cmp.table_markdown(recs).splitlines() if line.startswith("| v |")][-1]
    # modes: mean 14/3 = 4.67, s.e. = std([8, 6, 0], ddof=1)/√3 = 4.163/1.732 = 2.40; HQ %: 26.7 ± 14.5;
    # reverse KL over the two runs with HQ samples: 0.20 ± 0.10; one run without HQ samples
    assert row == "| v | gan | nonsaturating | pack=2 | 3 | 4.7 ± 2.4 | 26.7 ± 14.5 | 0.20 ± 0.10 | 1 | 0 |"
    assert "counts as 0 modes" in cmp.table_markdown(recs)  # the footnote says how failed runs enter the means


def test_every_study_variant_is_a_valid_config():
    for name in cmp.STUDIES:
        for variant, overrides in cmp.study_variants(name):
            TrainConfig(**{**BASE, **overrides}).validate()
    names = [n for n, _ in cmp.study_variants("mode-collapse")]
    assert {"gan-saturating", "gan-nonsaturating", "unrolled5", "pacgan2", "mine", "sn"} <= set(names)
    with pytest.raises(ValueError, match="unknown study.*mode-collapse"):
        cmp.study_variants("nope")


def test_cli_study_runs_and_unknown_study_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(cmp.STUDIES, "tiny", [("sn", {"spectral_norm": True}), ("pacgan2", {"pack": 2})])
    flags = ["compare", "--study", "tiny", "--seeds", "1", "--data", "ring8", "--steps", "2", "--batch-size", "16",
             "--hidden", "8", "--layers", "1", "--sample-every", "0", "--checkpoint-every", "0", "--no-progress",
             "--eval-samples", "50", "--out", str(tmp_path)]
    assert main(flags) == 0
    table = (tmp_path / "table.md").read_text()
    assert "| sn | gan | nonsaturating | spectral_norm=True |" in table and "| pacgan2 |" in table
    with pytest.raises(SystemExit) as e:
        main(["compare", "--study", "nope", "--out", str(tmp_path)])
    assert e.value.code == 2 and "unknown study" in capsys.readouterr().err


def test_compare_batches_what_it_can_says_what_it_cannot_and_matches_solo(tmp_path, capsys):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # both engines then agree to ~1e-16 (tests/gan/test_sweep.py)
    try:
        base = TrainConfig(**{**BASE, "steps": 6, "progress": True})
        # spectral norm batches (in its own batch: another architecture); unrolling cannot batch
        variants = cmp.divergence_variants("kl,wgan_gp", ["nonsaturating"]) + [("sn", {"spectral_norm": True}),
                                                                                ("unrolled", {"unrolled_steps": 2})]
        auto = cmp.run_variants(base, variants, 2, tmp_path / "a")
        err = capsys.readouterr().err
        solo = cmp.run_variants(base, variants, 2, tmp_path / "s", engine="solo")
    finally:
        torch.set_default_dtype(old)
    assert "unrolled-s0: trained alone, not batched (unrolled_steps=2)" in err and "sn-s0: trained alone" not in err
    assert "6 in 2 batch(es), 2 alone" in err and "[8/8]" in err
    assert [r.get("engine") for r in auto] == ["batched"] * 6 + [None] * 2
    for a, s in zip(auto, solo):
        assert (a["variant"], a["seed"], a["modes"]) == (s["variant"], s["seed"], s["modes"])
        assert a["hq_fraction"] == pytest.approx(s["hq_fraction"], abs=1e-12)
    assert not list((tmp_path / "a" / "_batches").glob("*.pt"))  # a finished batch leaves no batch checkpoint


def test_a_run_that_failed_alone_is_a_finished_result_and_is_not_retrained(tmp_path, monkeypatch):
    """A run stopped on a non-finite loss leaves failed.json (written by the trainer) with the failing step; the
    next call reuses the failure (the same config fails the same way) instead of training it again, at any
    budget that reaches that step; a budget that stops before it trains the run again."""
    from gan.trainer import NonFiniteLossError, Trainer
    calls, real_step = [], Trainer.train_step
    bad = BASE["steps"]                                  # the loss of this step is non-finite

    def failing_step(self):
        if self.step + 1 == bad:
            calls.append(self.config.out)
            raise NonFiniteLossError(self.step + 1, "critic loss", math.inf)
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", failing_step)
    cfgs = [(f"r{s}", TrainConfig(**{**BASE, "seed": s, "out": str(tmp_path / f"r{s}")})) for s in range(2)]
    first = cmp.run_configs(cfgs, tmp_path, engine="solo", progress=False)
    assert all(r["failed"] for r in first.values()) and len(calls) == 2
    for _, c in cfgs:
        rec = json.loads((tmp_path / c.out / "failed.json").read_text())
        assert rec["budget"] == rec["step"] == bad and "non-finite" in rec["failed"]
    again = cmp.run_configs(cfgs, tmp_path, engine="solo", progress=False)
    assert len(calls) == 2                               # nothing retrained
    assert {k: v["failed"] for k, v in again.items()} == {k: v["failed"] for k, v in first.items()}
    longer = [(n, TrainConfig(**{**c.to_dict(), "steps": BASE["steps"] + 2})) for n, c in cfgs]
    again = cmp.run_configs(longer, tmp_path, engine="solo", progress=False)
    assert len(calls) == 2 and all(r["failed"] for r in again.values())  # a longer run fails at the same step
    shorter = [(n, TrainConfig(**{**c.to_dict(), "steps": BASE["steps"] - 1})) for n, c in cfgs]
    done = cmp.run_configs(shorter, tmp_path, engine="solo", progress=False)
    assert len(calls) == 2 and not any(r["failed"] for r in done.values())  # trained: it stops before the step
    assert not any((tmp_path / c.out / "failed.json").exists() for _, c in shorter)  # the stale failure is gone
    monkeypatch.undo()                                   # a third budget trains for real, batched: a stale
    third = [(n, TrainConfig(**{**c.to_dict(), "steps": BASE["steps"] - 2})) for n, c in cfgs]  # failure of a
    for _, c in cfgs:                                    # step past this budget is cleared by the batch
        run_folder.record_failure(c.out, "non-finite critic loss = inf at step 3", BASE["steps"], bad)
    done = cmp.run_configs(third, tmp_path, progress=False)
    assert not any(r["failed"] for r in done.values())
    assert not any((tmp_path / c.out / "failed.json").exists() for _, c in third)
    _forbid_training(monkeypatch)                        # and is reused, not retrained, on the next call
    again = cmp.run_configs(third, tmp_path, progress=False)
    assert {k: v["modes"] for k, v in again.items()} == {k: v["modes"] for k, v in done.items()}


def test_a_run_that_failed_in_a_pool_job_is_a_finished_result(tmp_path, monkeypatch):
    """A run trained alone as a `gan train` job that stops on a non-finite loss (a learning rate of 1e30) exits
    1 and leaves failed.json; compare reports it failed with the trainer's message and does not retrain it."""
    cfg = TrainConfig(**{**BASE, "steps": 200, "divergence": "kl", "lr_g": 1e30, "lr_d": 1e30,
                         "out": str(tmp_path / "huge")})
    first = cmp.run_configs([("huge", cfg)], tmp_path, engine="solo", jobs=2, progress=False)
    rec = json.loads((tmp_path / "huge" / "failed.json").read_text())
    assert rec["budget"] == 200 and 1 <= rec["step"] <= 200 and f"at step {rec['step']}" in rec["failed"]
    assert first[cfg.out]["failed"] == rec["failed"] and first[cfg.out]["modes"] == 0
    _forbid_training(monkeypatch)
    real_pool = __import__("gan.sweep.pool", fromlist=["run_commands"]).run_commands
    monkeypatch.setattr("gan.sweep.pool.run_commands", lambda items, *a, **kw: real_pool(items, *a, **kw) if not (
        items := list(items)) else pytest.fail(f"retrained in the pool: {items}"))
    again = cmp.run_configs([("huge", cfg)], tmp_path, engine="solo", jobs=2, progress=False)
    assert again[cfg.out]["failed"] == rec["failed"]


def test_a_run_that_failed_in_a_batch_is_reused(tmp_path, monkeypatch):
    """The batched engine's frozen run (NaN injected into its critic) is recorded as failed and reused."""
    orig = cmp.BatchedTrainer.__init__

    def init(self, *a, **kw):
        orig(self, *a, **kw)
        with torch.no_grad():
            next(v for k, v in self.dp.items() if k.endswith("weight"))[1].fill_(math.nan)

    monkeypatch.setattr(cmp.BatchedTrainer, "__init__", init)
    cfgs = [(f"b{s}", TrainConfig(**{**BASE, "seed": s, "out": str(tmp_path / f"b{s}")})) for s in range(3)]
    first = cmp.run_configs(cfgs, tmp_path, progress=False)
    failed = [k for k, v in first.items() if v["failed"]]
    assert failed == [str(tmp_path / "b1")] and (tmp_path / "b1" / "failed.json").is_file()
    assert json.loads((tmp_path / "b1" / "failed.json").read_text())["step"] == 1  # its first critic step
    _forbid_training(monkeypatch)
    again = cmp.run_configs(cfgs, tmp_path, progress=False)
    assert again[str(tmp_path / "b1")]["failed"] == first[str(tmp_path / "b1")]["failed"]
    assert again[str(tmp_path / "b0")]["modes"] == first[str(tmp_path / "b0")]["modes"]
    # a longer budget continues b0 and b2 and reuses b1's failure (its run fails at step 1 at any budget)
    monkeypatch.undo()
    longer = [(n, TrainConfig(**{**c.to_dict(), "steps": BASE["steps"] + 2})) for n, c in cfgs]
    grown = cmp.run_configs(longer, tmp_path, progress=False)
    assert grown[str(tmp_path / "b1")]["failed"] == first[str(tmp_path / "b1")]["failed"]
    assert [grown[str(tmp_path / f"b{s}")]["steps"] for s in (0, 2)] == [BASE["steps"] + 2] * 2


def test_a_batch_whose_runs_have_all_failed_stops(tmp_path, float64):
    from gan.sweep import BatchedTrainer

    cfgs = [TrainConfig(**{**BASE, "steps": 50, "seed": s, "out": str(tmp_path / f"x{s}")}) for s in range(2)]
    bt = BatchedTrainer(cfgs)
    with torch.no_grad():
        next(v for k, v in bt.dp.items() if k.endswith("weight")).fill_(math.nan)
    recs = bt.fit()
    assert bt.step == 1 and [r["failed_step"] for r in recs] == [1, 1]  # not 49 more steps of frozen runs
