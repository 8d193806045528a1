"""Extending a sweep: `compare` asked for more steps than its runs were trained continues each run from its
checkpoint (batched runs through `BatchedTrainer.load_runs`, solo runs through the trainer's resume), and the
result equals the same runs trained to the new budget without a stop."""
import dataclasses
import json

import pytest
import torch

from gan import checkpoint as ckpt_mod
from gan.compare import run_configs
from gan.config import TrainConfig
from gan.sweep import BatchedTrainer

BASE = dict(data="ring8", batch_size=32, hidden=16, layers=2, z_dim=4, log_every=10, sample_every=0,
            checkpoint_every=0, progress=False, eval_samples=200, eval_every=20)
# losses of several families, per-run Adam, smoothing + instance noise with an anneal that outlasts the first
# budget, R1, EMA, n_critic 2
VARIANTS = [dict(seed=0), dict(seed=1, divergence="kl", lr_d=3e-4, betas_d=(0.0, 0.9)),
            dict(seed=2, label_smoothing=0.1, instance_noise=0.1, instance_noise_anneal=70),
            dict(seed=3, r1=1.0, ema_decay=0.9, divergence="hinge")]


def _runs(folder, steps, variants=VARIANTS, **kw):
    return [(f"v{i}", TrainConfig(**{**BASE, **kw, **v, "steps": steps, "out": str(folder / f"v{i}")}))
            for i, v in enumerate(variants)]


def _weights(run):
    ck = ckpt_mod.load(f"{run}/checkpoint.pt")
    out = {f"g.{k}": v for k, v in ck["generator"].items()}
    out.update({f"d.{k}": v for k, v in ck["critic"].items()})
    out.update({f"m.{i}": s["exp_avg_sq"] for i, s in ck["opt_d"]["state"].items()})
    out.update({f"e.{k}": v for k, v in ck.get("ema", {}).items()})
    out["rng"] = ck["rng"]["torch"].double()
    return out, int(ck["step"])


def _evals(run):
    return [json.loads(x) for x in open(f"{run}/eval.jsonl")]


def _assert_same_runs(a_folder, b_folder, n, tol):
    for i in range(n):
        wa, sa = _weights(a_folder / f"v{i}")
        wb, sb = _weights(b_folder / f"v{i}")
        assert sa == sb
        assert wa.keys() == wb.keys()
        for k in wa:
            if wa[k].is_floating_point():
                assert (wa[k].double() - wb[k].double()).abs().max().item() <= tol, (i, k)
            else:
                assert torch.equal(wa[k], wb[k]), (i, k)
        ea, eb = _evals(a_folder / f"v{i}"), _evals(b_folder / f"v{i}")
        assert [r["step"] for r in ea] == [r["step"] for r in eb]
        for ra, rb in zip(ea, eb):
            assert ra["modes"] == rb["modes"] and ra["hq_fraction"] == pytest.approx(rb["hq_fraction"], abs=1e-12)
        sa_, sb_ = (json.loads((f / f"v{i}" / "summary.json").read_text()) for f in (a_folder, b_folder))
        assert sa_["steps"] == sb_["steps"] and sa_["modes"] == sb_["modes"]


def test_a_batched_sweep_extended_equals_the_sweep_trained_to_the_longer_budget(tmp_path, float64):
    # Tolerance 1e-12 in float64: the same runs in the same batch do the same operations in the same order
    # whether or not they stopped at step 60 (the checkpoint holds every piece of state bit for bit), so any
    # difference would be a piece of state the continuation lost, which shows at O(lr) = 1e-4, not 1e-12.
    ext, straight = tmp_path / "ext", tmp_path / "straight"
    first = run_configs(_runs(ext, 60), ext, progress=False)
    assert all(r["steps"] == 60 and r["engine"] == "batched" for r in first.values())
    assert [r["step"] for r in _evals(ext / "v0")] == [20, 40]  # the final step's metrics are the summary's
    run_configs(_runs(ext, 120), ext, progress=False)
    run_configs(_runs(straight, 120), straight, progress=False)
    assert [r["step"] for r in _evals(ext / "v0")] == [20, 40, 60, 80, 100]  # 60 evaluated when continued
    _assert_same_runs(ext, straight, len(VARIANTS), 1e-12)
    # and the step log goes on from 60 without a gap or a repeat, its training seconds cumulative (the trainer's
    # convention: a continued run does not start its clock again)
    for i in range(len(VARIANTS)):
        log = [json.loads(x) for x in open(ext / f"v{i}" / "metrics.jsonl")]
        assert [r["step"] for r in log] == list(range(10, 121, 10))
        assert [r["seconds"] for r in log] == sorted(r["seconds"] for r in log)
        assert ckpt_mod.load(ext / f"v{i}" / "checkpoint.pt")["elapsed"] == pytest.approx(log[-1]["seconds"],
                                                                                        abs=5e-4)  # rounding


def test_a_solo_sweep_is_extended_through_the_trainers_resume(tmp_path, float64):
    ext, straight = tmp_path / "ext", tmp_path / "straight"
    runs = lambda f, s: _runs(f, s, VARIANTS[:2])  # noqa: E731
    run_configs(runs(ext, 40), ext, engine="solo", progress=False)
    run_configs(runs(ext, 80), ext, engine="solo", progress=False)
    run_configs(runs(straight, 80), straight, engine="solo", progress=False)
    for i in range(2):  # the trainer's resume is bit-identical on the CPU
        wa, _ = _weights(ext / f"v{i}")
        wb, _ = _weights(straight / f"v{i}")
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (ext / "v0" / "resumes.jsonl").is_file()  # the trainer says it resumed


def test_a_batch_interrupted_while_extending_resumes_from_its_batch_checkpoint(tmp_path, float64):
    ext, straight = tmp_path / "ext", tmp_path / "straight"
    run_configs(_runs(ext, 40), ext, progress=False)
    cfgs = [c for _, c in _runs(ext, 100, checkpoint_every=20)]
    bt = BatchedTrainer(cfgs, checkpoint=tmp_path / "b.pt")
    bt.load_runs([f"{c.out}/checkpoint.pt" for c in cfgs])
    bt.fit(stop_after=60)  # killed after the checkpoint of step 60
    bt2 = BatchedTrainer(cfgs, checkpoint=tmp_path / "b.pt", resume=True)
    assert bt2.step == 60 and 0 < bt2.seconds()[0] <= bt.seconds()[0]  # the batch checkpoint keeps the clock
    bt2.fit()
    secs = [json.loads(x)["seconds"] for x in open(ext / "v0" / "metrics.jsonl")]
    assert secs == sorted(secs)
    run_configs(_runs(straight, 100), straight, progress=False)
    _assert_same_runs(ext, straight, len(VARIANTS), 1e-12)


def test_changed_runs_are_retrained_and_foreign_checkpoints_refused(tmp_path):
    f = tmp_path / "f"
    run_configs(_runs(f, 20, VARIANTS[:2]), f, progress=False)
    # another learning rate is another run: trained from step 0, not continued
    changed = [(n, dataclasses.replace(c, steps=30, lr_g=2e-4)) for n, c in _runs(f, 20, VARIANTS[:2])]
    run_configs(changed, f, progress=False)
    assert [json.loads(x)["step"] for x in open(f / "v0" / "metrics.jsonl")][0] == 10
    assert _weights(f / "v0")[1] == 30
    assert not (f / "v0" / "resumes.jsonl").exists()
    cfgs = [c for _, c in _runs(tmp_path / "g", 40, VARIANTS[:2])]
    bt = BatchedTrainer(cfgs)
    with pytest.raises(ValueError, match="another run"):
        bt.load_runs([f / "v1" / "checkpoint.pt", f / "v0" / "checkpoint.pt"])  # swapped: seeds differ
    with pytest.raises(ValueError, match="one checkpoint per run"):
        bt.load_runs([f / "v0" / "checkpoint.pt"])


@pytest.mark.parametrize("arch", [
    dict(model="pacgan", z_dim=2, hidden=32, layers=2, train_set=500, preset="pacgan", pack=2),  # BN + maxout
    dict(spectral_norm=True, spectral_norm_g=True, n_critic=2)])  # u, v and their staleness carried over
def test_pacgan_and_spectral_norm_batches_extend_exactly(tmp_path, float64, arch):
    ext, straight = tmp_path / "ext", tmp_path / "straight"
    variants = [dict(seed=0), dict(seed=1, lr_d=2e-4)]
    run_configs(_runs(ext, 30, variants, **arch), ext, progress=False)
    run_configs(_runs(ext, 60, variants, **arch), ext, progress=False)
    run_configs(_runs(straight, 60, variants, **arch), straight, progress=False)
    _assert_same_runs(ext, straight, 2, 1e-12)


def test_a_copied_comparison_folder_reuses_and_extends_its_runs(tmp_path):
    import shutil

    a, b = tmp_path / "a", tmp_path / "b"
    run_configs(_runs(a, 20, VARIANTS[:2]), a, progress=False)
    shutil.copytree(a, b)
    before = (b / "v0" / "metrics.jsonl").read_text()
    done = run_configs(_runs(b, 20, VARIANTS[:2]), b, progress=False)  # reused: nothing trained
    assert (b / "v0" / "metrics.jsonl").read_text() == before and done[str(b / "v0")]["steps"] == 20
    run_configs(_runs(b, 40, VARIANTS[:2]), b, progress=False)  # continued from step 20
    assert (b / "v0" / "metrics.jsonl").read_text().startswith(before)
    assert _weights(b / "v0")[1] == 40
