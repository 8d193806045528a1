"""Every bad input of `python -m gan` ends in ONE line on stderr and a non-zero exit, never a traceback.

One row per bad input: (id, setup(tmp_path, run) -> argv, exit status, a substring of the message). `run` is a
finished tiny run folder (copied per row, so rows may damage it). Adding a case is one line.
"""
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from gan import checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
ENV.pop("GAN_TRACEBACK", None)
TINY = ["--steps", "4", "--batch-size", "16", "--hidden", "8", "--layers", "1", "--z-dim", "2", "--no-progress",
        "--sample-every", "0", "--checkpoint-every", "2", "--eval-samples", "50"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from gan.cli import main

    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _damage(run, how):
    """Replace run/checkpoint.pt by an empty, truncated, garbage or pickle-payload file."""
    ck = run / "checkpoint.pt"
    good = ck.read_bytes()
    if how == "pickle":
        class Payload:
            def __reduce__(self):
                return (print, ("executed",))
        torch.save({"format": 1, "step": 0, "x": Payload()}, ck)
    else:
        _write(ck, {"empty": b"", "truncated": good[: len(good) // 2], "garbage": bytes(range(256)) * 8}[how])
    return run


def _toml(tmp, text):
    p = tmp / "c.toml"
    p.write_text(text)
    return str(p)


def _locked(run):
    """Hold the run folder's lock as a second writer would."""
    from gan.run_folder import RunLock

    _locked.held = RunLock(run)  # kept alive until the next row replaces it
    return run


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
ROOT_WRITES_ANYWHERE = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc (read-only)")

ROWS = [
    # --- flag values: argparse errors naming the closest known value
    ("divergence typo", lambda t, r: ["train", "--divergence", "pearsn"], 2, "did you mean 'pearson'?"),
    ("data typo", lambda t, r: ["train", "--data", "ring9"], 2, "did you mean 'ring8'?"),
    ("model typo", lambda t, r: ["train", "--model", "mpl"], 2, "did you mean 'mlp'?"),
    ("generator loss", lambda t, r: ["train", "--generator-loss", "vanilla"], 2, "unknown generator_loss 'vanilla'"),
    ("conditional typo", lambda t, r: ["train", "--conditional", "projektion"], 2, "did you mean 'projection'?"),
    ("image size", lambda t, r: ["train", "--image-size", "30"], 2, "choose from 8, 28, 32, 64"),
    ("steps not int", lambda t, r: ["train", "--steps", "ten"], 2, "invalid int value"),
    ("steps 0", lambda t, r: ["train", "--steps", "0", "--out", str(t / "o")], 2, "steps must be a positive integer"),
    ("lr negative", lambda t, r: ["train", "--lr-g", "-1", "--out", str(t / "o")], 2, "lr_g must be a positive"),
    ("lr nan", lambda t, r: ["train", "--lr-d", "nan", "--out", str(t / "o")], 2, "lr_d must be a positive"),
    ("betas", lambda t, r: ["train", "--betas-g", "0.5", "1.5", "--out", str(t / "o")], 2, "betas_g must be two"),
    ("device", lambda t, r: ["train", "--device", "tpu", "--out", str(t / "o")], 2, "device must be cpu, cuda"),
    ("threads 0", lambda t, r: ["train", "--threads", "0"], 2, "must be ≥ 1"),
    ("resume and overwrite", lambda t, r: ["train", "--resume", "--overwrite"], 2, "not allowed with"),
    ("unknown flag", lambda t, r: ["train", "--lr-dd", "1"], 2, "unrecognized arguments"),
    ("missing data file", lambda t, r: ["train", "--data", "fashion_mnist", "--data-path", str(t / "none"),
                                        "--out", str(t / "o")], 2, "not found"),
    # --- config files
    ("toml missing", lambda t, r: ["train", "--config", str(t / "none.toml")], 2, "config file not found"),
    ("toml malformed", lambda t, r: ["train", "--config", _toml(t, "steps = = 3\n")], 2, "malformed TOML"),
    ("toml unknown key", lambda t, r: ["train", "--config", _toml(t, "lr_dd = 0.1\n")], 2, "did you mean 'lr_d'?"),
    ("toml key twice", lambda t, r: ["train", "--config", _toml(t, "steps = 3\n[train]\nsteps = 4\n")], 2,
     "set twice"),
    ("toml bad value", lambda t, r: ["train", "--config", _toml(t, 'steps = "ten"\n'), "--out", str(t / "o")], 2,
     "steps must be a positive integer, got 'ten'"),
    ("toml binary", lambda t, r: ["train", "--config", str(_write(t / "b.toml", b"\xff\xfe\x00"))], 2,
     "not a UTF-8 text file"),
    # --- run folders
    ("out is a file", lambda t, r: ["train", *TINY, "--out", str(_write(t / "f", b"x"))], 2, "is a file"),
    pytest.param("out not writable", lambda t, r: ["train", *TINY, "--out", "/proc/self/gan-run"], 2,
                 "cannot write to the run folder", marks=ROOT_WRITES_ANYWHERE),
    ("out not empty", lambda t, r: ["train", *TINY, "--out", str(r)], 2, "is not empty"),
    ("resume mistyped out", lambda t, r: ["train", *TINY, "--resume", "--out", str(t / "typo")], 2,
     "nothing to resume"),
    ("resume other divergence", lambda t, r: ["train", "--resume", "--divergence", "kl", "--out", str(r)], 2,
     "divergence: 'gan' → 'kl'"),
    ("resume other width", lambda t, r: ["train", "--resume", "--hidden", "32", "--out", str(r)], 2,
     "hidden: 8 → 32"),
    ("resume fewer steps", lambda t, r: ["train", "--resume", "--steps", "2", "--out", str(r)], 2,
     "below the checkpoint's step 4"),
    ("second writer", lambda t, r: ["train", "--resume", "--out", str(_locked(r))], 2,
     "being written by another training"),
    # --- checkpoints
    ("empty checkpoint", lambda t, r: ["train", "--resume", "--out", str(_damage(r, "empty"))], 2,
     "not a readable checkpoint"),
    ("truncated checkpoint", lambda t, r: ["train", "--resume", "--out", str(_damage(r, "truncated"))], 2,
     "not a readable checkpoint"),
    ("garbage checkpoint", lambda t, r: ["eval", str(_damage(r, "garbage"))], 2, "not a readable checkpoint"),
    ("pickle checkpoint", lambda t, r: ["sample", str(_damage(r, "pickle"))], 2, "refusing to load"),
    ("eval no run", lambda t, r: ["eval", str(t)], 2, "is not a run folder"),
    # --- data and devices
    ("conditional unlabelled", lambda t, r: ["train", *TINY, "--data", "spiral", "--conditional", "concat",
                                             "--out", str(t / "o")], 2, "labelled"),
    pytest.param("cuda without cuda", lambda t, r: ["train", *TINY, "--device", "cuda", "--out", str(t / "o")], 2,
                 "torch sees no CUDA device", marks=NO_CUDA),
    # --- sample / eval / compare values
    ("sample n 0", lambda t, r: ["sample", str(r), "--n", "0"], 2, "--n must be ≥ 1"),
    ("sample output dir missing", lambda t, r: ["sample", str(r), "--output", str(t / "no" / "s.npy")], 2,
     "No such file or directory"),
    ("compare seeds 0", lambda t, r: ["compare", "--seeds", "0", "--out", str(t / "o")], 2, "--seeds must be ≥ 1"),
]


@pytest.mark.parametrize("name, setup, status, message", ROWS,
                         ids=[getattr(r, "values", r)[0] for r in ROWS])
def test_bad_input_is_one_line_and_nonzero_exit(name, setup, status, message, tmp_path, finished_run, capsys,
                                                monkeypatch):
    from gan.cli import main

    monkeypatch.delenv("GAN_TRACEBACK", raising=False)
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    argv = setup(tmp_path, run)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == status, err
    assert err.count("\n") == 1 and "Traceback" not in err, err  # one line
    assert message in err, err
    if "pickle" in name:
        assert "executed" not in capsys.readouterr().out


def _fsize_limit(nbytes):
    def limit():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


def test_full_disk_is_one_line_keeps_the_last_checkpoint_and_leaves_no_temp_file(finished_run, tmp_path):
    """The file-size limit makes every write past 4 KiB fail (as ENOSPC would): the checkpoint write of the resumed
    run fails; the step-4 checkpoint stays, loadable, and no temporary file is left behind."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = (run / "checkpoint.pt").read_bytes()
    assert len(before) > 4096
    r = subprocess.run([sys.executable, "-m", "gan", "train", "--resume", "--steps", "8", "--out", str(run)],
                       capture_output=True, text=True, env=ENV, timeout=120, preexec_fn=_fsize_limit(4096))
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr and "cannot write checkpoint" in last, r.stderr
    assert (run / "checkpoint.pt").read_bytes() == before
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 4
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
