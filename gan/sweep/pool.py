"""Jobs in processes: a pool of `python -m gan train` (one run) and `python -m gan.sweep.batch_job` (one batch)
processes, or one command per job for a scheduler.

- `train_command(cfg)` is the command line that trains `cfg` alone (every field that differs from the
  `TrainConfig` default, the resolved optimiser values included), so `python -m gan train` parses it back to an
  equal config (tested); `resume=True` continues the run in its folder (a larger step budget) instead of
  overwriting it;
- `batch_command(spec)` trains the batch described by a spec file (`gan.sweep.batch_job.write_spec`);
- `write_commands(configs, path)` / `write_command_lines(jobs, path)` write one line per job (for a SLURM array:
  ``sed -n "${SLURM_ARRAY_TASK_ID}p" FILE | bash``, or any job queue); `gan compare` then builds its table from
  whatever has finished;
- `run_pool(configs, jobs, devices)` / `run_commands(jobs, ...)` run them `jobs` at a time, each process with one
  torch thread (OMP_NUM_THREADS=1 unless set) and, with `devices`, one GPU each (CUDA_VISIBLE_DEVICES
  round-robin over the list, so a config with ``device="cuda"`` uses the GPU it is given); each job's output goes
  to its log (RUN/train.log for a run).
"""
from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path

from ..config import TrainConfig

__all__ = ["train_command", "batch_command", "write_commands", "write_command_lines", "run_pool", "run_commands"]

_NEVER = ("progress",)


def train_command(cfg: TrainConfig, python: str | None = None, resume: bool = False) -> list[str]:
    """argv of `python -m gan train` for `cfg` (validated): --flag value for every non-default field; ends in
    --overwrite (compare retrains only runs that have not finished), or --resume with `resume=True`."""
    cfg = dataclasses.replace(cfg).validate()
    default = TrainConfig()
    argv = [python or sys.executable, "-m", "gan", "train"]
    for f in dataclasses.fields(TrainConfig):
        v, d = getattr(cfg, f.name), getattr(default, f.name)
        if f.name in _NEVER or v is None or (v == d and f.name not in ("out", "seed")):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(v, bool):
            argv.append(flag if v else "--no-" + f.name.replace("_", "-"))
        elif isinstance(v, (tuple, list)):
            argv += [flag, *(repr(float(x)) for x in v)]
        elif isinstance(v, float):
            argv += [flag, repr(v)]
        else:
            argv += [flag, str(v)]
    return argv + ["--no-progress", "--resume" if resume else "--overwrite"]


def batch_command(spec: str | os.PathLike, python: str | None = None) -> list[str]:
    """argv that trains the batch of the spec file `spec` (`gan.sweep.batch_job`)."""
    return [python or sys.executable, "-m", "gan.sweep.batch_job", str(spec)]


#: one job: (key, argv, log file)
Job = tuple[Hashable, list[str], Path]


def write_command_lines(jobs: Iterable[Job], path: str | os.PathLike) -> int:
    """Write one shell line per job to `path` (its output to its log file); returns the count."""
    lines = []
    for _, argv, log in jobs:
        log = Path(log)
        lines.append(f"mkdir -p {shlex.quote(str(log.parent))} && {shlex.join(argv)} > {shlex.quote(str(log))} 2>&1")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return len(lines)


def train_job(cfg: TrainConfig, python: str | None = None, resume: bool = False) -> Job:
    return cfg.out, train_command(cfg, python, resume), Path(cfg.out) / "train.log"


def write_commands(configs: Iterable[TrainConfig], path: str | os.PathLike, python: str = "python") -> int:
    """Write one shell command per config to `path` (a run's output to RUN/train.log); returns the count."""
    return write_command_lines([train_job(c, python) for c in configs], path)


def run_pool(configs: Iterable[TrainConfig], jobs: int = 1, devices: Sequence[str] | None = None,
             on_done: Callable[[TrainConfig, int], object] | None = None, poll: float = 0.2) -> dict:
    """Train every config in its own process, at most `jobs` at a time. Returns {out: (returncode, last log
    line)}; `on_done(cfg, returncode)` is called as each finishes."""
    configs = list(configs)
    by_out = {c.out: c for c in configs}
    done = None if on_done is None else (lambda key, rc: on_done(by_out[key], rc))
    return run_commands([train_job(c) for c in configs], jobs, devices, done, poll)


def run_commands(items: Iterable[Job], jobs: int = 1, devices: Sequence[str] | None = None,
                 on_done: Callable[[Hashable, int], object] | None = None, poll: float = 0.2) -> dict:
    """Run every job (key, argv, log) in its own process, at most `jobs` at a time. Returns {key: (returncode,
    last log line)}; `on_done(key, returncode)` is called as each finishes."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    devices = [str(d) for d in (devices or [])]
    pending, running, results = list(items), [], {}
    slot = 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                key, argv, log_path = pending.pop(0)
                log_path = Path(log_path)
                log_path.parent.mkdir(parents=True, exist_ok=True)
                env = dict(os.environ)
                env.setdefault("OMP_NUM_THREADS", "1")
                if devices:
                    env["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
                slot += 1
                log = open(log_path, "w", encoding="utf-8")
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
                running.append((proc, key, log, log_path))
            time.sleep(poll)
            for item in list(running):
                proc, key, log, log_path = item
                if proc.poll() is None:
                    continue
                log.close()
                running.remove(item)
                lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                results[key] = (proc.returncode, lines[-1] if lines else "")
                if on_done is not None:
                    on_done(key, proc.returncode)
    finally:
        for proc, _, log, _ in running:  # interrupted: stop what this pool started
            proc.terminate()
            proc.wait()
            log.close()
    return results
