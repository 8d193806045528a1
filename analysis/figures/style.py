"""Shared figure style: an rcParams context (serif-free, readable at column width) and save helpers."""
from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

RC = {"font.size": 10, "axes.labelsize": 10, "axes.titlesize": 10, "legend.fontsize": 8, "xtick.labelsize": 9,
      "ytick.labelsize": 9, "figure.dpi": 100, "savefig.dpi": 200, "savefig.bbox": "tight", "axes.grid": True,
      "grid.alpha": 0.3, "lines.linewidth": 1.5, "pdf.fonttype": 42, "figure.constrained_layout.use": True}


@contextlib.contextmanager
def style():
    with plt.rc_context(RC):
        yield


def save(fig, data: dict, out_dir, name, formats=("pdf", "png")):
    """Write fig as out_dir/name.{fmt} and its data as out_dir/name.npz; returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out / f"{name}.{fmt}"
        fig.savefig(p, format=fmt)
        paths.append(p)
    p = out / f"{name}.npz"
    np.savez(p, **{k: np.asarray(v) for k, v in data.items()})
    paths.append(p)
    plt.close(fig)
    return paths
