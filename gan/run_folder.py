"""The run folder's contract: one writer at a time, nothing overwritten unasked, logs that match the checkpoint.

Layout of a run folder (docs/gan.md, "Run folders"):

- ``config.json``: the resolved `TrainConfig` (rewritten on resume with the fields that may change);
- ``checkpoint.pt``: the latest checkpoint (atomic; it also carries the config and the cumulative seconds);
- ``metrics.jsonl``: one strict-JSON object per logged step, ``{"step", "loss_d", "loss_g", "seconds"}``;
  every other ``*.jsonl`` step log (records with a ``"step"``) follows the same rules;
- ``resumes.jsonl``: one line per resume (step, fields changed) — an event log, never truncated;
- ``summary.json``: the final metrics, written once the run has finished;
- ``failed.json``: written instead when training stopped on a non-finite loss, ``{"failed": message,
  "budget": steps, "step": the failing step}`` (`record_failure`); removed when the run trains again;
- ``samples_<step>.png``, ``samples.png``, ``samples.npy``: pictures and final samples;
- ``.lock``: held (``flock``) by the process writing the folder.

Rules (`prepare`):

1. a new run needs an empty (or missing) folder; with ``overwrite=True`` the trainer deletes the files a run
   writes (`remove_outputs`) once the new run is built, so a bad config does not cost the old run;
2. ``resume=True`` needs ``checkpoint.pt``; every step log is truncated (atomically) to the checkpoint's step, so
   a run killed at any moment and resumed writes the same lines as the uninterrupted run; pictures of later
   steps and the final outputs (``summary.json``, ``samples.png``, ``samples.npy``) are removed until the run
   writes them again (`drop_after`);
3. a second writer (another process holding the lock) is refused; temporary files left by a writer killed
   mid-write (``.<name>.<pid>.<random>.tmp``) are deleted once the lock is held.

Every file is strict JSON (`dumps`): a non-finite float is written as ``null``, never as ``NaN``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

try:  # POSIX; on other systems the folder is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import (os.umask can only be read by setting it)
LOCK = ".lock"
CHECKPOINT = "checkpoint.pt"
FAILED = "failed.json"
EVENT_LOGS = ("resumes.jsonl",)
# what a run writes: deleted by overwrite=True (other files in the folder are left alone)
OUTPUT_PATTERNS = ("config.json", "*.jsonl", CHECKPOINT, "summary.json", FAILED, "samples*.png", "samples*.npy",
                   "mode_classifier.pt", "best.pt", "best.json", "eval_features.pt")
OUTPUT_FOLDERS = ("tensorboard",)  # event files of an overwritten run would mix with the new run's


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (not empty, no checkpoint to resume, locked, not writable)."""


def finite_or_none(obj: object) -> object:
    """`obj` with every non-finite float (NaN, ±inf) replaced by None, recursively through dicts/lists/tuples."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def dumps(obj: object, **kw: Any) -> str:
    """Strict JSON (RFC 8259): non-finite floats become null; `json.dumps(allow_nan=False)` guards the rest."""
    return json.dumps(finite_or_none(obj), allow_nan=False, **kw)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a uniquely named temporary file next to `path` (``.<name>.<pid>.<random>.tmp``); on a clean exit
    flush, fsync and `os.replace` it over `path`; on any error remove it. A reader sees the old file or the new
    one, never a part; two writers never share a temporary file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes it 0600; the file gets the permissions open() would give
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (`atomic_file`)."""
    with atomic_file(path) as fh:
        fh.write(text)


def save_npy_atomic(path: str | os.PathLike, array: npt.ArrayLike) -> None:
    """`numpy.save` to `path` atomically (`atomic_file`): no partial .npy on a full disk."""
    import numpy as np

    with atomic_file(path, "wb") as fh:
        np.save(fh, array)


class RunLock:
    """An exclusive, non-blocking `flock` on ``<out>/.lock``; released when closed or when the process dies
    (SIGKILL included), so a killed run never leaves a stale lock."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK
        self.fh = open(self.path, "a+", encoding="utf-8")
        if fcntl is None:  # pragma: no cover
            return
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            pid = self.fh.read().strip() or "?"
            self.fh.close()
            raise RunFolderError(f"{out} is being written by another training (pid {pid}); wait for it to end or "
                                 f"choose another --out") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()  # closing the descriptor releases the flock


def _entries(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != LOCK)


def remove_outputs(out: str | os.PathLike) -> None:
    """Delete the files and folders a run writes in `out` (OUTPUT_PATTERNS, OUTPUT_FOLDERS; other files stay);
    nothing if `out` is missing."""
    out = Path(out)
    for pattern in OUTPUT_PATTERNS:
        for p in out.glob(pattern):
            if p.is_file():
                p.unlink()
    for name in OUTPUT_FOLDERS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def prepare(out: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> RunLock:
    """Create/lock the run folder `out` for writing under the rules above; returns the held `RunLock`.

    Raises RunFolderError (a ValueError) with a one-line message saying what to do instead.
    """
    out = Path(out)
    if resume and overwrite:
        raise RunFolderError("resume and overwrite exclude each other: resume continues the run in the folder, "
                             "overwrite deletes it")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out)
    except OSError as exc:
        raise RunFolderError(f"cannot write to the run folder {out}: {exc.strerror or exc}") from None
    try:
        # temporary files left by a writer killed mid-write (we hold the lock: no writer is alive)
        for p in out.glob(".*.*.tmp"):
            p.unlink(missing_ok=True)
        if resume:
            if not (out / CHECKPOINT).is_file():
                raise RunFolderError(f"nothing to resume in {out}: no {CHECKPOINT} there (a mistyped --out? a run "
                                     f"killed before its first checkpoint is started again with --overwrite)")
        elif overwrite:
            pass  # the caller deletes the old run (`remove_outputs`) once the new one is built
        elif _entries(out):
            shown = ", ".join(_entries(out)[:4]) + (", …" if len(_entries(out)) > 4 else "")
            raise RunFolderError(f"--out {out} is not empty ({shown}): pass --resume (resume=True) to continue the run there, "
                                 f"--overwrite (overwrite=True) to replace it, or choose a new folder")
    except BaseException:
        lock.close()
        raise
    return lock


def step_logs(out: str | os.PathLike) -> list[Path]:
    """The folder's step logs: every ``*.jsonl`` but the event logs."""
    return sorted(p for p in Path(out).glob("*.jsonl") if p.name not in EVENT_LOGS)


def truncate_logs(out: str | os.PathLike, step: int) -> dict[str, int]:
    """Drop every record with ``"step" > step`` (and a torn last line) from each step log, atomically per file.
    Returns {file name: lines dropped}."""
    dropped = {}
    for path in step_logs(out):
        keep, n = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # a line torn by a kill
                n += 1
                continue
            if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] > step:
                n += 1
                continue
            keep.append(line)
        if n:
            write_text_atomic(path, "".join(x + "\n" for x in keep))
            dropped[path.name] = n
    return dropped


FINAL_OUTPUTS = ("summary.json", FAILED, "samples.png", "samples.npy")


def drop_after(out: str | os.PathLike, step: int) -> dict[str, int]:
    """Return the folder to its state at `step` (a resume from a checkpoint of that step): truncate the step
    logs (`truncate_logs`), delete pictures ``samples_<s>.png`` of later steps s and the final outputs of a
    finished run (`FINAL_OUTPUTS`, rewritten when the run finishes again). Returns the lines dropped per log."""
    out = Path(out)
    for p in out.glob("samples_*.png"):
        s = p.stem.split("_", 1)[1]
        if s.isdigit() and int(s) > step:
            p.unlink()
    for name in FINAL_OUTPUTS:
        (out / name).unlink(missing_ok=True)
    return truncate_logs(out, step)


def record_failure(out: str | os.PathLike, message: str, budget: int, step: int | None = None) -> None:
    """Write `FAILED` into the run folder `out`: training to `budget` steps stopped on a non-finite loss at
    `step` (when known) with `message`. A run's computation before that step does not depend on its budget, so
    `gan compare` reuses the failure at any budget ≥ step instead of training the run again."""
    rec = {"failed": str(message), "budget": int(budget), **({"step": int(step)} if step is not None else {})}
    write_text_atomic(Path(out) / FAILED, dumps(rec, indent=2) + "\n")


def append_event(out: str | os.PathLike, name: str, record: dict) -> None:
    """Append one strict-JSON line to the event log `name` (e.g. resumes.jsonl)."""
    with open(Path(out) / name, "a", encoding="utf-8") as fh:
        fh.write(dumps(record) + "\n")
