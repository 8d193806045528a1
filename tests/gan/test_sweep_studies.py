"""gan.sweep.studies: the PacGAN Table 1 grid and the fair (random-search) comparison, end to end at toy size;
expected-best-of-k against brute force; the CLI flags of compare's sweeps (emitted commands, job pool)."""
import itertools
import json
import math
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan.cli import _parser, main
from gan.config import TrainConfig, config_from_args
from gan.sweep.pool import train_command, write_commands
from gan.sweep.studies import PUBLISHED, expected_best, fair_draws, fair_study, pacgan_table1

TINY = dict(steps=12, batch_size=16, hidden=8, layers=1, z_dim=2, log_every=0, sample_every=0, checkpoint_every=0,
            progress=False, eval_samples=100)


def test_pacgan_table_side_by_side_with_the_published_numbers(tmp_path):
    torch.set_num_threads(1)
    text = pacgan_table1(tmp_path, steps=12, trials=2, datasets=("ring8", "grid25"), eval_every=6,
                         overrides={"hidden": 8, "layers": 1, "batch_size": 4, "train_set": 200, "progress": False,
                                    "eval_samples": 100, "sample_every": 0, "checkpoint_every": 0})
    rows = [line for line in text.splitlines() if line.startswith("| grid25 | pacgan4 |")]
    assert len(rows) == 1 and "| 24.8 |" in rows[0] and "| 93.6 |" in rows[0] and "| 0.04 |" in rows[0]
    assert "12 iterations" in text and "2 trials" in text
    assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "ring8" / "samples.png").exists()
    res = json.loads((tmp_path / "ring8" / "results.json").read_text())
    assert {r["variant"] for r in res} == {"gan", "pacgan2", "pacgan3", "pacgan4"}
    assert all(r.get("engine") == "batched" for r in res)
    hist = [json.loads(x) for x in (tmp_path / "ring8" / "pacgan3-s1" / "eval.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == [6]  # the periodic evaluation, in the trainer's eval.jsonl
    assert len(PUBLISHED) == 8


def test_fair_study_draws_batches_and_scores(tmp_path):
    torch.set_num_threads(1)
    base = TrainConfig(**{**TINY, "steps": 6}, data="ring8")
    text = fair_study(base, budget=3, seeds=2, divergences="gan,kl", generator_losses=["nonsaturating"],
                      out=tmp_path)
    assert "| gan-nonsaturating | 3 |" in text and "| kl-nonsaturating | 3 |" in text
    scores = json.loads((tmp_path / "draws.json").read_text())
    assert len(scores["gan-nonsaturating"]) == 3 and all(d["seeds"] == 2 for d in scores["kl-nonsaturating"])
    assert (tmp_path / "expected_best.png").stat().st_size > 0 and (tmp_path / "scores.png").exists()
    # the draws: in range, reproducible per name, independent of the other names
    d = fair_draws("gan-nonsaturating", 50)
    assert d[:3] == fair_draws("gan-nonsaturating", 3)
    assert all(1e-5 <= x["lr_g"] <= 1e-2 and 1e-5 <= x["lr_d"] <= 1e-2 for x in d)
    assert {x["betas_g"][0] for x in d} == {0.0, 0.5, 0.9} and {x["n_critic"] for x in d} == {1, 2, 5}
    assert scores["gan-nonsaturating"][0]["lr_g"] == pytest.approx(d[0]["lr_g"])


@pytest.mark.parametrize("higher", [True, False])
def test_expected_best_of_k_equals_brute_force(higher):
    s = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0])
    k, mean, lo, hi = expected_best(s, higher_is_better=higher, boot=200)
    pick = max if higher else min
    for kk in k:
        brute = np.mean([pick(c) for c in itertools.combinations(s, kk)])
        assert mean[kk - 1] == pytest.approx(brute, rel=1e-12)  # exact formula: only rounding
    assert mean[-1] == pick(s)
    assert np.all(lo <= hi)


def test_emitted_commands_parse_back_to_the_same_configs(tmp_path):
    cfgs = [TrainConfig(**TINY, divergence="kl", spectral_norm=True, betas_d=(0.0, 0.9), lr_g=3.3e-4,
                        out=str(tmp_path / "a b")),
            TrainConfig(**TINY, preset="ttur", seed=3, out=str(tmp_path / "c"))]
    n = write_commands(cfgs, tmp_path / "jobs.sh")
    lines = (tmp_path / "jobs.sh").read_text().splitlines()
    assert n == 2 == len(lines)
    for cfg, line in zip(cfgs, lines):
        argv = shlex.split(line.split(" && ", 1)[1].split(" > ")[0])
        assert argv[1:4] == ["-m", "gan", "train"]
        parsed = config_from_args(_parser().parse_args(argv[3:])).validate()
        want = TrainConfig(**{**cfg.to_dict(), "progress": False}).validate()
        assert parsed.to_dict() == want.to_dict()


def test_cli_emit_commands_then_table_from_what_finished(tmp_path, capsys):
    flags = ["compare", "--divergences", "kl", "--generator-losses", "nonsaturating", "--seeds", "2", "--data", "ring8",
             "--steps", "4", "--batch-size", "16", "--hidden", "8", "--layers", "1", "--sample-every", "0",
             "--checkpoint-every", "0", "--eval-samples", "50", "--out", str(tmp_path)]
    solo = flags + ["--engine", "solo"]
    assert main(solo + ["--emit-commands", str(tmp_path / "jobs.sh")]) == 0
    lines = (tmp_path / "jobs.sh").read_text().splitlines()
    assert len(lines) == 2 and not (tmp_path / "kl-nonsaturating-s0" / "summary.json").exists()
    subprocess.run(["bash", "-c", lines[0].replace("python -m", f"{sys.executable} -m", 1)], check=True)
    assert main(solo + ["--emit-commands", str(tmp_path / "jobs2.sh")]) == 0
    assert len((tmp_path / "jobs2.sh").read_text().splitlines()) == 1  # the finished run is not emitted again
    res = json.loads((tmp_path / "results.json").read_text())
    assert [r["seed"] for r in res] == [0]  # the table holds what has finished
    assert "| kl-nonsaturating | kl |" in (tmp_path / "table.md").read_text()


def test_emitted_batch_commands_train_a_sweep_batch_by_batch(tmp_path, capsys):
    # two architectures (widths 8 and 12) × 2 seeds: two batch jobs, then the table, equal to in-process training
    base = ["--generator-losses", "nonsaturating", "--seeds", "2", "--data", "ring8", "--steps", "6",
            "--batch-size", "16", "--layers", "1", "--sample-every", "0", "--checkpoint-every", "0",
            "--eval-samples", "50"]
    emit, inproc = tmp_path / "emit", tmp_path / "inproc"
    for hidden in ("8", "12"):
        flags = ["compare", "--divergences", "kl", "--hidden", hidden, *base]
        assert main(flags + ["--out", str(emit / hidden), "--emit-commands", str(emit / hidden / "jobs.sh")]) == 0
        (line,) = (emit / hidden / "jobs.sh").read_text().splitlines()
        assert " -m gan.sweep.batch_job " in line
        subprocess.run(["bash", "-c", line.replace("python -m", f"{sys.executable} -m", 1)], check=True)
        assert main(flags + ["--out", str(emit / hidden), "--emit-commands", str(emit / hidden / "again.sh")]) == 0
        assert (emit / hidden / "again.sh").read_text() == ""  # both runs finished: nothing left to emit
        assert main(flags + ["--out", str(inproc / hidden)]) == 0
        a = json.loads((emit / hidden / "results.json").read_text())
        b = json.loads((inproc / hidden / "results.json").read_text())
        assert [(x["seed"], x["modes"], x["hq_fraction"], x["engine"]) for x in a] == [
            (y["seed"], y["modes"], y["hq_fraction"], y["engine"]) for y in b]


def test_batches_are_jobs_of_the_pool(tmp_path, capsys):
    from gan.compare import run_configs
    tiny = dict(data="ring8", steps=6, batch_size=16, layers=1, sample_every=0, checkpoint_every=0,
                eval_samples=50, progress=False, log_every=0)
    runs = [(f"h{h}-s{s}", TrainConfig(**tiny, hidden=h, seed=s, out=str(tmp_path / "{}" / f"h{h}-s{s}")))
            for h in (8, 12) for s in (0, 1)] + [("unrolled", TrainConfig(**tiny, hidden=8, unrolled_steps=1,
                                                                           out=str(tmp_path / "{}" / "unrolled")))]
    where = lambda tag: [(n, TrainConfig(**{**c.to_dict(), "out": c.out.format(tag)})) for n, c in runs]  # noqa
    pooled = run_configs(where("pool"), tmp_path / "pool", jobs=2, progress=True)
    err = capsys.readouterr().err
    assert "2 batch(es) and 1 runs alone as 3 jobs in 2 processes" in err and "[5/5]" in err
    inproc = run_configs(where("inproc"), tmp_path / "inproc", progress=False)
    for (_, a), (_, b) in zip(where("pool"), where("inproc")):  # the same float32 computation in both
        x, y = pooled[a.out], inproc[b.out]
        assert (x["modes"], x["hq_fraction"], x.get("failed")) == (y["modes"], y["hq_fraction"], y.get("failed"))
    assert not list((tmp_path / "pool" / "_batches").glob("*.pt"))  # finished batches leave no checkpoint


def test_job_pool_equals_in_process_training(tmp_path, capsys):
    flags = ["compare", "--divergences", "kl,gan", "--generator-losses", "nonsaturating", "--seeds", "1",
             "--data", "ring8", "--steps", "5", "--batch-size", "16", "--hidden", "8", "--layers", "1",
             "--sample-every", "0", "--checkpoint-every", "0", "--eval-samples", "50", "--engine", "solo"]
    assert main(flags + ["--jobs", "2", "--out", str(tmp_path / "pool")]) == 0
    err = capsys.readouterr().err
    assert "[2/2]" in err and "2 runs alone as 2 jobs in 2 processes" in err
    assert main(flags + ["--out", str(tmp_path / "inproc")]) == 0
    a = json.loads((tmp_path / "pool" / "results.json").read_text())
    b = json.loads((tmp_path / "inproc" / "results.json").read_text())
    for x, y in zip(a, b):
        assert (x["modes"], x["hq_fraction"]) == (y["modes"], y["hq_fraction"])
        assert x["reverse_kl"] == y["reverse_kl"] or (math.isnan(x["reverse_kl"]) and math.isnan(y["reverse_kl"]))


def test_cli_rejects_bad_sweep_flags(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", "--jobs", "0", "--out", str(tmp_path)])
    assert e.value.code == 2 and "--jobs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["compare", "--study", "fair", "--out", str(tmp_path)])
    assert e.value.code == 2 and "--budget" in capsys.readouterr().err
    assert train_command(TrainConfig(out="x"))[-2:] == ["--no-progress", "--overwrite"]


def test_batch_job_bad_input_is_one_line_and_a_nonzero_exit(tmp_path, capsys):
    from gan.sweep import batch_job

    assert batch_job.main([]) == 2 and "usage" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{\"configs\": 3}")
    assert batch_job.main([str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a batch spec" in err
    assert batch_job.main([str(tmp_path / "missing.json")]) == 1
