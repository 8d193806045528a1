"""Runs that cannot batch: a pool of `python -m gan train` processes, or one command per run for a scheduler.

- `train_command(cfg)` is the command line that trains `cfg` alone (every field that differs from the
  `TrainConfig` default, the resolved optimiser values included), so `python -m gan train` parses it back to an
  equal config (tested);
- `write_commands(configs, path)` writes one such line per run (for a SLURM array: ``sed -n
  "${SLURM_ARRAY_TASK_ID}p" FILE | bash``, or any job queue); `gan compare` then builds its table from whatever
  has finished;
- `run_pool(configs, jobs, devices)` runs them `jobs` at a time, each process with one torch thread
  (OMP_NUM_THREADS=1 unless set) and, with `devices`, one GPU each (CUDA_VISIBLE_DEVICES round-robin over the
  list, so a config with ``device="cuda"`` uses the GPU it is given); each run's output goes to RUN/train.log.
"""
from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..config import TrainConfig

__all__ = ["train_command", "write_commands", "run_pool"]

_NEVER = ("progress",)


def train_command(cfg: TrainConfig, python: str | None = None) -> list[str]:
    """argv of `python -m gan train` for `cfg` (validated): --flag value for every non-default field."""
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
    return argv + ["--no-progress", "--overwrite"]  # compare (re)trains only runs that have not finished


def write_commands(configs: Iterable[TrainConfig], path: str | os.PathLike, python: str = "python") -> int:
    """Write one shell command per config to `path` (a run's output to RUN/train.log); returns the count."""
    lines = []
    for c in configs:
        cmd = shlex.join(train_command(c, python))
        log = shlex.quote(str(Path(c.out) / "train.log"))
        lines.append(f"mkdir -p {shlex.quote(str(c.out))} && {cmd} > {log} 2>&1")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return len(lines)


def run_pool(configs: Iterable[TrainConfig], jobs: int = 1, devices: Sequence[str] | None = None,
             on_done: Callable[[TrainConfig, int], object] | None = None, poll: float = 0.2) -> dict:
    """Train every config in its own process, at most `jobs` at a time. Returns {out: (returncode, last log
    line)}; `on_done(cfg, returncode)` is called as each finishes."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    devices = [str(d) for d in (devices or [])]
    pending, running, results = list(configs), [], {}
    slot = 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                c = pending.pop(0)
                Path(c.out).mkdir(parents=True, exist_ok=True)
                env = dict(os.environ)
                env.setdefault("OMP_NUM_THREADS", "1")
                if devices:
                    env["CUDA_VISIBLE_DEVICES"] = devices[slot % len(devices)]
                slot += 1
                log = open(Path(c.out) / "train.log", "w", encoding="utf-8")
                proc = subprocess.Popen(train_command(c), stdout=log, stderr=subprocess.STDOUT, env=env)
                running.append((proc, c, log))
            time.sleep(poll)
            for item in list(running):
                proc, c, log = item
                if proc.poll() is None:
                    continue
                log.close()
                running.remove(item)
                lines = (Path(c.out) / "train.log").read_text(encoding="utf-8", errors="replace").splitlines()
                results[c.out] = (proc.returncode, lines[-1] if lines else "")
                if on_done is not None:
                    on_done(c, proc.returncode)
    finally:
        for proc, _, log in running:  # interrupted: stop what this pool started
            proc.terminate()
            proc.wait()
            log.close()
    return results
