"""Checkpoints: atomic writes, RNG states for bit-identical resumption, loading with weights_only=True.

A checkpoint is a dict of tensors and plain Python values only:
  {"format": 1, "step": int, "config": dict, "generator": state_dict, "critic": state_dict,
   "opt_g": state_dict, "opt_d": state_dict, "rng": {"torch": ByteTensor, "cuda": [ByteTensor] | None,
   "numpy": {...}, "python": [...]}}
It is written to a temporary file with a unique name in the same folder (`.<name>.<pid>.<random>.tmp`, so two
writers never share one), flushed and fsync'd, then `os.replace`d over `path`, so a kill at any moment leaves
either the previous checkpoint or the new one, never a torn file; a failed write (a full disk) removes its
temporary file and raises `CheckpointWriteError` naming the path.
Loading uses `torch.load(weights_only=True)`: a file holding any other pickled object is refused; an empty,
truncated or foreign file raises `CorruptCheckpointError` (both are ValueErrors).
"""
from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

FORMAT = 1


class UnsafeCheckpointError(ValueError):
    """The checkpoint holds pickled objects other than tensors and plain containers."""


class CorruptCheckpointError(ValueError):
    """The file is empty, truncated, or not a torch checkpoint at all."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (full disk, read-only folder); the previous checkpoint is untouched."""


def rng_state() -> dict:
    """Current torch (CPU and CUDA), numpy and python RNG states, as tensors/plain values only."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": _to_lists(random.getstate()),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate(_to_tuples(state["python"]))


def _to_lists(x):
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x):
    return tuple(_to_tuples(v) for v in x) if isinstance(x, (tuple, list)) else x


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """torch.save to `path` atomically (temp file in the same folder + fsync + os.replace)."""
    from .run_folder import atomic_file

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as fh:
            torch.save(obj, fh)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
        raise CheckpointWriteError(f"cannot write checkpoint {path}: {_first_line(exc)} (the previous checkpoint, "
                                   f"if any, is left in place)") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint with `torch.load(weights_only=True)`.

    Raises:
      FileNotFoundError: no file at `path`.
      UnsafeCheckpointError: the file carries a pickle payload (any object other than tensors, numbers,
        strings and containers); it is never unpickled.
      CorruptCheckpointError: the file is empty, truncated or not a torch checkpoint.
      ValueError: the file is a torch file but not a gan checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # torch.save writes a zip archive; an empty or truncated file has no central directory
    if not zipfile.is_zipfile(path):
        raise CorruptCheckpointError(f"{path} is not a readable checkpoint ({path.stat().st_size} bytes, not a "
                                     f"torch zip archive: empty, truncated or another format)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it holds objects other than tensors and plain containers (a pickle "
            f"payload), which torch.load(weights_only=True) will not execute. Only load checkpoints you "
            f"trust; re-save them as plain state_dicts. Detail: {_first_line(exc)}") from None
    except (RuntimeError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CorruptCheckpointError(f"{path} is not a readable checkpoint: {_first_line(exc)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gan checkpoint (format {FORMAT} dict expected)")
    return ckpt
