"""One batch of runs as a job of its own: `python -m gan.sweep.batch_job SPEC.json`.

`gan compare --jobs N` trains its batches (one per architecture, `gan.sweep.batch_key`) in N processes at once,
and `--emit-commands FILE` writes one such line per batch, so a cluster scheduler trains a sweep batch by batch
(a GPU job per batch) instead of run by run. The spec (`write_spec`) holds the runs' configs, the eval
interval and the step the runs continue from (0: from scratch; S > 0: each from its checkpoint.pt at step S,
`BatchedTrainer.load_runs`); the batch checkpoints next to the spec (SPEC.pt), so a killed job resumes where it
stopped when run again. The job writes what an in-process batch writes (each run's folder, failed.json for a
run stopped on a non-finite loss), so `gan compare` reads its results from the run folders.

Exit status 0 when the batch trained (some runs may have failed: failed.json says which), 1 with a one-line
message on stderr otherwise.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import TrainConfig

if TYPE_CHECKING:
    import os

__all__ = ["write_spec", "read_spec", "main"]


def write_spec(path: str | os.PathLike, configs: Sequence[TrainConfig], eval_every: int = 0, start: int = 0) -> Path:
    """Write the spec of one batch to `path` (JSON); returns the path."""
    from .. import run_folder

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = {"configs": [c.to_dict() for c in configs], "eval_every": int(eval_every), "start": int(start)}
    run_folder.write_text_atomic(path, json.dumps(spec, indent=1) + "\n")
    return path


def read_spec(path: str | os.PathLike) -> tuple[list[TrainConfig], int, int]:
    """(configs, eval_every, start) of a spec file; ValueError naming the file if it is not one."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        configs = [TrainConfig.from_dict(d) for d in spec["configs"]]
        return configs, int(spec["eval_every"]), int(spec["start"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a batch spec (gan.sweep.batch_job.write_spec): {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m gan.sweep.batch_job SPEC.json  (written by gan compare --jobs / --emit-commands)",
              file=sys.stderr)
        return 2
    from ..compare import train_batch

    try:
        configs, eval_every, start = read_spec(argv[0])
        records = train_batch(configs, Path(argv[0]).with_suffix(".pt"), eval_every, start, progress=False)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"batch_job: {exc}", file=sys.stderr)
        return 1
    n_failed = sum(1 for r in records if r.get("failed"))
    print(f"batch_job: {len(records)} runs trained to step {configs[0].steps}"
          + (f", {n_failed} stopped on a non-finite loss (failed.json)" if n_failed else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in tests
    sys.exit(main())
