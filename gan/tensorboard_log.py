"""TensorBoard events for a training run (optional extra: ``pip install .[tensorboard]``).

`TensorBoardLogger(folder, purge_step, hparams, metric_tags)` writes, through
`torch.utils.tensorboard.SummaryWriter`, into RUN/tensorboard/:

- ``train/<name>`` scalars: the values of every metrics.jsonl step record (loss_d, loss_g, began_k, ...),
- ``eval/<name>`` scalars: the values of every eval.jsonl record (modes, hq_fraction, reverse_kl, fid, kid),
- ``lr/g``, ``lr/d``: the learning rates in use,
- ``samples``: the periodic sample grid (images) or scatter over the data (2-D) as an image,
- the resolved config as hparams (HParams plugin; None and tuples as strings), in the same event file.

On resume from step T the writer is opened with ``purge_step = T + 1``: TensorBoard drops the events of the
killed run's steps after T, which the resumed run writes again.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import os

    from torch.utils.tensorboard import SummaryWriter

EXTRA_HINT = "pip install 'divkit[tensorboard]' (or pip install tensorboard)"


def require_tensorboard() -> type[SummaryWriter]:
    """The SummaryWriter class, or ImportError naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(f"--tensorboard needs the tensorboard package, the optional extra 'tensorboard': "
                          f"{EXTRA_HINT}") from exc
    return SummaryWriter


def _hparam(v):
    return v if isinstance(v, (bool, int, float, str)) else str(v)


class TensorBoardLogger:
    """See module docstring. `folder` is created; `purge_step` None for a fresh run."""

    def __init__(self, folder: str | os.PathLike, purge_step: int | None = None, hparams: dict | None = None,
                 metric_tags: tuple = ()) -> None:
        SummaryWriter = require_tensorboard()
        self.folder = Path(folder)
        self.writer = SummaryWriter(log_dir=str(self.folder), purge_step=purge_step)
        if hparams is not None and purge_step is None:
            from torch.utils.tensorboard.summary import hparams as hp_summary

            exp, ssi, sei = hp_summary({k: _hparam(v) for k, v in hparams.items()},
                                       {t: 0.0 for t in metric_tags})
            for s in (exp, ssi, sei):
                self.writer.file_writer.add_summary(s)

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v is None:
                continue
            self.writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def image(self, tag: str, hwc: np.ndarray, step: int) -> None:
        """hwc: (H, W, C) floats in [0, 1], C = 1 or 3."""
        self.writer.add_image(tag, np.clip(hwc, 0, 1), step, dataformats="HWC")

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
