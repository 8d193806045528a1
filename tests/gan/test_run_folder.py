"""The run folder's contract (gan.run_folder, gan.resume): SIGKILL at random moments and resume gives the
uninterrupted run's checkpoint bit for bit and its logs line for line; empty folder or --overwrite; resume
refuses a changed run, applies learning rates; one writer; strict JSON; relocatable folders; the NaN guard
sees optimiser state; bad API inputs are named."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gan import checkpoint, run_folder
from gan.config import ConfigKeyError, TrainConfig, load_toml
from gan.resume import ResumeConfigError
from gan.run_folder import RunFolderError
from gan.trainer import NonFiniteLossError, Trainer

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
TINY = dict(data="ring8", steps=12, batch_size=32, hidden=16, layers=1, z_dim=4, log_every=2, sample_every=0,
            checkpoint_every=4, progress=False, eval_samples=200)


def _strict(text):
    """json.loads that refuses NaN / Infinity (RFC 8259)."""
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def _states_equal(a, b):
    for key in ("generator", "critic", "opt_g", "opt_d", "ema", "rng"):
        assert (key in a) == (key in b), key
    for key in ("generator", "critic"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    for key in ("opt_g", "opt_d"):
        assert a[key]["param_groups"] == b[key]["param_groups"]
        for pid, st in a[key]["state"].items():
            for k, v in st.items():
                assert torch.equal(v, b[key]["state"][pid][k]), (key, pid, k)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert a["step"] == b["step"]


def _lines_without_clock(path):
    return [{k: v for k, v in _strict(x).items() if k != "seconds"} for x in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------- SIGKILL
FLAGS = ["train", "--divergence", "js", "--steps", "120", "--batch-size", "32", "--hidden", "256", "--layers", "3",
         "--z-dim", "4", "--checkpoint-every", "8", "--log-every", "3", "--sample-every", "0", "--no-progress",
         "--eval-samples", "200", "--ema-decay", "0.9", "--spectral-norm"]


def _kill_when(proc, out, rng, during_write):
    """SIGKILL `proc` as soon as a checkpoint temp file appears (during_write) or after a random delay once
    training has started; returns whether a checkpoint write was under way at the kill."""
    deadline, mine = time.monotonic() + 120, f".checkpoint.pt.{proc.pid}.*.tmp"
    lock = out / run_folder.LOCK
    while proc.poll() is None and time.monotonic() < deadline:  # until this process holds the folder
        if lock.exists() and lock.read_text().strip() == str(proc.pid):
            break
        time.sleep(0.002)
    if during_write:  # inside the k-th checkpoint write of this process (each has its own temp name)
        k, seen = rng.randint(1, 4), set()
        while proc.poll() is None and time.monotonic() < deadline:
            seen.update(p.name for p in out.glob(mine))
            if len(seen) >= k:
                break
            time.sleep(0.0005)
    else:
        time.sleep(rng.uniform(0.0, 0.4))
    in_write = any(out.glob(mine))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return in_write and proc.returncode == -signal.SIGKILL


def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    r = subprocess.run([sys.executable, "-m", "gan", *FLAGS, "--out", str(full)], env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rng = random.Random(0)
    kills = in_writes = 0
    log = []  # (flags, exit status, checkpoint step after the kill)
    for attempt in range(40):
        mode = ["--resume"] if (cut / "checkpoint.pt").exists() else (["--overwrite"] if cut.exists() else [])
        proc = subprocess.Popen([sys.executable, "-m", "gan", *FLAGS, "--out", str(cut), *mode], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills >= 8:  # enough: let it finish
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()
            break
        in_writes += _kill_when(proc, cut, rng, during_write=attempt % 2 == 0)
        log.append((mode, proc.returncode, checkpoint.load(cut / "checkpoint.pt")["step"]
                    if (cut / "checkpoint.pt").exists() else None))
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break
    assert kills >= 8 and in_writes >= 1, (kills, in_writes, log)  # in_writes: kills with a checkpoint write under way
    a, b = checkpoint.load(full / "checkpoint.pt"), checkpoint.load(cut / "checkpoint.pt")
    _states_equal(a, b)
    for name in ("generator", "critic"):  # EMA and spectral-norm buffers too
        assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"]) if name == "generator" else True
    assert _lines_without_clock(full / "metrics.jsonl") == _lines_without_clock(cut / "metrics.jsonl")
    assert _strict((full / "summary.json").read_text()) == _strict((cut / "summary.json").read_text())
    np.testing.assert_array_equal(np.load(full / "samples.npy"), np.load(cut / "samples.npy"))
    cfg_a, cfg_b = (_strict((d / "config.json").read_text()) for d in (full, cut))
    assert {**cfg_a, "out": None} == {**cfg_b, "out": None}
    # cumulative time: the seconds column never goes back, across the resumes
    secs = [_strict(x)["seconds"] for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert secs == sorted(secs) and b["elapsed"] >= secs[-1] - 1e-3
    resumes = [_strict(x) for x in (cut / "resumes.jsonl").read_text().splitlines()]
    assert len(resumes) >= 1 and all(r["changed"] == {} for r in resumes), log
    assert not list(cut.glob("*.tmp")) and not list(cut.glob(".*.tmp"))
    print(f"SIGKILLs survived: {kills} ({in_writes} during a checkpoint write)")


# ---------------------------------------------------------------------------------------------- contract
def test_stop_resume_does_not_log_a_step_twice_and_keeps_cumulative_seconds(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(**TINY, out=str(tmp_path / "r"))
    Trainer(cfg).fit(stop_after=10)  # last checkpoint at step 8, steps 9-10 logged after it
    steps = [_strict(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8, 10]
    tr = Trainer(cfg, resume=True)
    assert tr.step == 8
    assert [_strict(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6, 8]
    tr.fit()
    lines = [_strict(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4, 6, 8, 10, 12]
    assert [x["seconds"] for x in lines] == sorted(x["seconds"] for x in lines)


def test_new_run_needs_an_empty_folder_overwrite_replaces_only_run_files(tmp_path):
    out = tmp_path / "r"
    Trainer(TrainConfig(**TINY, out=str(out))).fit()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="is not empty"):
        Trainer(TrainConfig(**TINY, out=str(out)))
    Trainer(TrainConfig(**{**TINY, "steps": 4}, out=str(out)), overwrite=True).fit()
    assert (out / "notes.txt").read_text() == "mine"
    assert [_strict(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4]
    assert not (out / "resumes.jsonl").exists()
    with pytest.raises(RunFolderError, match="nothing to resume"):
        Trainer(TrainConfig(**TINY, out=str(tmp_path / "typo")), resume=True)


def test_one_writer_per_folder_and_the_lock_is_released(tmp_path):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "r"))
    first = Trainer(cfg)
    with pytest.raises(RunFolderError, match="being written by another training"):
        Trainer(cfg, overwrite=True)
    first.fit(stop_after=4)  # fit releases the lock when it returns
    Trainer(cfg, resume=True).close()
    # another process holding it: refused from here too
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from gan.run_folder import RunLock; "
                               "lock = RunLock(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(tmp_path / "r")],
                              env={**ENV, "PYTHONPATH": os.getcwd()}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderError, match=f"pid {holder.pid}"):
            Trainer(cfg, resume=True)
    finally:
        holder.kill()
        holder.wait()
    Trainer(cfg, resume=True).close()  # a dead holder's lock is gone


def test_resume_refuses_run_changes_and_applies_learning_rates(tmp_path, capsys):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "r"), lr_d=1e-3)
    Trainer(cfg).fit(stop_after=8)
    for change, shown in ((dict(divergence="kl"), "divergence: 'gan' → 'kl'"), (dict(hidden=32), "hidden: 16 → 32"),
                          (dict(seed=1, batch_size=16), "batch_size: 32 → 16; seed: 0 → 1")):
        with pytest.raises(ResumeConfigError, match=shown):
            Trainer(TrainConfig(**{**TINY, **change}, out=cfg.out, lr_d=1e-3), resume=True)
    capsys.readouterr()
    tr = Trainer(TrainConfig(**{**TINY, "steps": 16}, out=cfg.out, lr_d=1e-5), resume=True)
    assert "resumed from step 8; changed: steps 12 → 16, lr_d 0.001 → 1e-05 (applied to the optimiser)" in \
        capsys.readouterr().err
    assert [g["lr"] for g in tr.opt_d.param_groups] == [1e-5]
    assert tr.opt_d.state  # the Adam moments were loaded, not reset
    tr.fit()
    assert checkpoint.load(tmp_path / "r" / "checkpoint.pt")["opt_d"]["param_groups"][0]["lr"] == 1e-5
    event = _strict((tmp_path / "r" / "resumes.jsonl").read_text().splitlines()[0])
    assert event == {"step": 8, "changed": {"steps": [12, 16], "lr_d": [1e-3, 1e-5]}}
    assert _strict((tmp_path / "r" / "config.json").read_text())["lr_d"] == 1e-5


def test_moved_run_folder_is_found_from_the_folder_given_and_left_untouched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Trainer(TrainConfig(**TINY, out="rel/run")).fit()  # a relative out, as the README's commands
    shutil.move("rel/run", "moved")
    monkeypatch.chdir(tmp_path / "moved")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "moved").iterdir()}
    tr = Trainer.from_run(".")
    ref = checkpoint.load(tmp_path / "moved" / "checkpoint.pt")
    assert all(torch.equal(v, ref["generator"][k]) for k, v in tr.G.state_dict().items())
    assert tr.step == 12 and tr.generate(n=5).shape == (5, 2)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "moved").iterdir()} == before
    assert not (tmp_path / "moved" / "rel").exists() and not (tmp_path / "rel" / "run").exists()  # no stray folder
    with pytest.raises(RuntimeError, match="read-only"):
        tr.fit()


def test_summary_is_strict_json_with_null_for_an_undefined_metric(tmp_path):
    summary = Trainer(TrainConfig(**{**TINY, "steps": 2}, out=str(tmp_path / "r"))).fit()
    on_disk = _strict((tmp_path / "r" / "summary.json").read_text())
    assert np.isnan(summary["reverse_kl"]) and on_disk["reverse_kl"] is None  # no HQ sample after 2 steps
    assert run_folder.dumps({"a": [float("inf"), 1.0]}) == '{"a": [null, 1.0]}'


def test_nan_guard_refuses_a_checkpoint_with_non_finite_optimiser_state(tmp_path):
    tr = Trainer(TrainConfig(**TINY, out=str(tmp_path / "r")))
    tr.fit(stop_after=4)
    good = (tmp_path / "r" / "checkpoint.pt").read_bytes()
    st = next(iter(tr.opt_d.state.values()))
    st["exp_avg_sq"].view(-1)[0] = float("inf")
    with pytest.raises(NonFiniteLossError, match=r"opt_d\.state\.\d+\.exp_avg_sq"):
        tr.save()
    assert (tmp_path / "r" / "checkpoint.pt").read_bytes() == good


# ---------------------------------------------------------------------------------------------- API bad inputs
class _Unlabelled:
    shape = (2,)

    def sample(self, n, generator=None):
        return torch.randn(n, 2, generator=generator)


API_ROWS = [
    ("conditional on unlabelled data", lambda t: Trainer(TrainConfig(**TINY, conditional="concat", out=str(t / "o")),
                                                        dataset=_Unlabelled()), ValueError, "needs labelled data"),
    ("dataset without sample", lambda t: Trainer(TrainConfig(**TINY, out=str(t / "o")), dataset=[1, 2]), TypeError,
     r"dataset must have \.sample"),
    ("resume and overwrite", lambda t: Trainer(TrainConfig(**TINY, out=str(t / "o")), resume=True, overwrite=True),
     RunFolderError, "exclude each other"),
    ("out is a file", lambda t: Trainer(TrainConfig(**TINY, out=str(_file(t)))), RunFolderError, "is a file"),
    ("unknown config key", lambda t: TrainConfig.from_dict({"lr_dd": 1}), ConfigKeyError, "did you mean 'lr_d'"),
    ("toml unknown key", lambda t: load_toml(_toml(t, "[model]\nhiden = 3\n")), ConfigKeyError,
     r"\[model\]: unknown key 'hiden' \(did you mean 'hidden'\?\)"),
    ("steps negative", lambda t: TrainConfig(steps=-1).validate(), ValueError, "steps must be a positive integer"),
    ("lr zero", lambda t: TrainConfig(lr_g=0).validate(), ValueError, "lr_g must be a positive finite"),
    ("lr nan", lambda t: TrainConfig(lr_d=float("nan")).validate(), ValueError, "lr_d must be a positive finite"),
    ("ema 1", lambda t: TrainConfig(ema_decay=1.0).validate(), ValueError, r"ema_decay must lie in \[0, 1\)"),
    ("empty checkpoint", lambda t: checkpoint.load(_file(t, b"")), checkpoint.CorruptCheckpointError,
     "0 bytes, not a torch zip archive"),
    ("threads 0", lambda t: __import__("gan.threads").threads.set_threads(0), ValueError, "threads must be"),
    ("threads bool", lambda t: __import__("gan.threads").threads.set_threads(True), ValueError, "threads must be"),
    ("from_run on no run", lambda t: Trainer.from_run(t), FileNotFoundError, "checkpoint not found"),
]


def _file(t, data=b"x"):
    p = t / "f.bin"
    p.write_bytes(data)
    return p


def _toml(t, text):
    p = t / "c.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("name, call, error, message", API_ROWS, ids=[r[0] for r in API_ROWS])
def test_api_bad_input_names_the_argument(name, call, error, message, tmp_path):
    with pytest.raises(error, match=message):
        call(tmp_path)


# ---------------------------------------------------------------------------------------------- threads
def test_auto_threads_one_for_small_mlps_and_free_cores_for_images(monkeypatch):
    from gan import threads

    assert threads.auto_threads(TrainConfig(), (2,)) == 1  # the README's ring8 MLP
    monkeypatch.setattr(threads, "available_cores", lambda: 6)
    assert threads.auto_threads(TrainConfig(hidden=1024), (2,)) == 6  # 256·1024² MACs per layer: use the cores
    assert threads.auto_threads(TrainConfig(), (1, 28, 28)) == 6
    monkeypatch.setattr(threads, "available_cores", lambda: 64)
    assert threads.auto_threads(TrainConfig(), (3, 32, 32)) == 8
    monkeypatch.undo()
    monkeypatch.setattr(os, "getloadavg", lambda: (1e6, 0.0, 0.0))  # an oversubscribed machine
    assert threads.available_cores() == 1


def test_resume_keeps_the_checkpoint_thread_count(tmp_path):
    from gan.cli import main

    flags = ["--steps", "4", "--batch-size", "16", "--hidden", "8", "--layers", "1", "--no-progress",
             "--sample-every", "0", "--checkpoint-every", "2", "--eval-samples", "50", "--out", str(tmp_path / "r")]
    try:
        assert main(["train", *flags, "--threads", "2"]) == 0
        assert checkpoint.load(tmp_path / "r" / "checkpoint.pt")["threads"] == 2
        torch.set_num_threads(1)
        assert main(["train", "--resume", "--steps", "6", "--out", str(tmp_path / "r")]) == 0
        assert checkpoint.load(tmp_path / "r" / "checkpoint.pt")["threads"] == 2
    finally:
        torch.set_num_threads(1)


def test_demo_reruns_into_its_own_folder_but_not_over_another_run(tmp_path):
    from gan.demo import demo_ring8

    assert demo_ring8(tmp_path / "d", steps=2)["steps"] == 2
    assert demo_ring8(tmp_path / "d", steps=2)["steps"] == 2  # `make demo` twice: the same demo is replaced
    with pytest.raises(RunFolderError, match="is not empty"):
        demo_ring8(tmp_path / "d", steps=3)
    assert demo_ring8(tmp_path / "d", steps=3, overwrite=True)["steps"] == 3


def test_atomic_files_get_the_permissions_open_would_give(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    run_folder.write_text_atomic(tmp_path / "a.json", "{}")
    checkpoint.save_atomic({"format": 1}, tmp_path / "c.pt")
    for name in ("a.json", "c.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "c.pt"]  # no temporary file left


def test_resume_drops_pictures_of_later_steps_and_the_final_outputs(tmp_path):
    cfg = TrainConfig(**{**TINY, "sample_every": 2}, out=str(tmp_path / "r"))
    Trainer(cfg).fit()  # finished at step 12, last checkpoint at 12
    (tmp_path / "r" / "notes.txt").write_text("mine")
    c = checkpoint.load(tmp_path / "r" / "checkpoint.pt")
    c["step"] = 6  # as if the run had been killed after step 6's checkpoint
    checkpoint.save_atomic(c, tmp_path / "r" / "checkpoint.pt")
    Trainer(cfg, resume=True).close()
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert [n for n in names if n.startswith("samples")] == [f"samples_{s:07d}.png" for s in (2, 4, 6)]
    assert "summary.json" not in names and "notes.txt" in names
    assert [_strict(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]


def test_overwrite_with_a_bad_config_keeps_the_old_run(tmp_path):
    out = tmp_path / "r"
    Trainer(TrainConfig(**TINY, out=str(out))).fit()
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(FileNotFoundError):
        Trainer(TrainConfig(**{**TINY, "data": "fashion_mnist"}, data_path=str(tmp_path / "none"), out=str(out)),
                overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before
    assert checkpoint.load(out / "checkpoint.pt")["step"] == 12


@pytest.mark.skipif(torch.cuda.is_available(), reason="the fallback is for machines without CUDA")
def test_a_cuda_run_opens_on_the_cpu_without_cuda(tmp_path):
    Trainer(TrainConfig(**{**TINY, "steps": 2}, out=str(tmp_path / "r"))).fit()
    c = checkpoint.load(tmp_path / "r" / "checkpoint.pt")
    c["config"]["device"] = "cuda"  # as written on a GPU machine
    checkpoint.save_atomic(c, tmp_path / "r" / "checkpoint.pt")
    tr = Trainer.from_run(tmp_path / "r")
    assert tr.device.type == "cpu" and tr.generate(n=4).shape == (4, 2)
    with pytest.raises(ValueError, match="no CUDA device"):
        Trainer.from_run(tmp_path / "r", device="cuda")
