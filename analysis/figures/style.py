"""Shared figure style: figures built for a target print width, fonts >= MIN_PT there, and the save helper.

Every figure is a `matplotlib.figure.Figure` made here (never pyplot): importing or rendering does not touch
the backend the user chose (Jupyter's inline backend keeps working), and nothing is registered with pyplot.
A figure is laid out for its print width (inches; `WIDTHS` names the usual ones) and saved at exactly that
size (no bbox cropping), so a font of n pt in the rc settings prints at n pt when the PDF is placed at 100 %.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

# what every figure function returns: the Figure and the arrays it draws (saved as NAME.npz)
FigureData: TypeAlias = tuple[Figure, dict[str, Any]]

# print widths (inches): a column of a two-column paper (ICML/CVPR/NeurIPS-workshop style, 3.25 in), the text
# width of a one-column paper (NeurIPS/ICLR, 5.5 in) and the full width of a two-column paper (ICML, 6.75 in)
WIDTHS = {"column": 3.25, "text": 5.5, "wide": 6.75}
DEFAULT_WIDTH = WIDTHS["text"]
MIN_PT = 7.0  # smallest font on any figure at its print width (journal guides ask for 6-8 pt)

RC = {"font.size": 8, "axes.labelsize": 8, "axes.titlesize": 8, "figure.titlesize": 8, "legend.fontsize": 7,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.dpi": 100, "savefig.dpi": 300, "axes.grid": True,
      "grid.alpha": 0.3, "lines.linewidth": 1.2, "pdf.fonttype": 42, "ps.fonttype": 42,
      "legend.handlelength": 1.8, "legend.borderaxespad": 0.3, "mathtext.fontset": "dejavusans",
      "axes.titlepad": 3.0, "figure.constrained_layout.use": True}


def width_inches(width: float | str) -> float:
    """A print width in inches from a number or a WIDTHS name; ValueError otherwise (naming the choices)."""
    if isinstance(width, str):
        if width in WIDTHS:
            return WIDTHS[width]
        try:
            width = float(width)
        except ValueError:
            raise ValueError(f"width must be inches (a number) or one of {sorted(WIDTHS)}, got {width!r}") from None
    if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)) \
            or not 2.0 <= float(width) <= 20.0:
        raise ValueError(f"width must be a number of inches in [2, 20] or one of {sorted(WIDTHS)}, got {width!r}")
    return float(width)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The rc settings of every figure (matplotlib.rc_context: restored on exit, backend untouched)."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout Figure of `width` x `height` inches (not registered with pyplot)."""
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, data: Mapping[str, ArrayLike], out_dir: str | os.PathLike[str], name: str,
         formats: Sequence[str] = ("pdf", "png"), dpi: float | None = None, write_data: bool = True) -> list[Path]:
    """Write fig as out_dir/name.{fmt} (at its exact size; raster formats at `dpi`, default savefig.dpi = 300)
    and, with write_data, its data as out_dir/name.npz; returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out / f"{name}.{fmt}"
        fig.savefig(p, format=fmt, **({"dpi": dpi} if dpi else {}))
        paths.append(p)
    if write_data:
        p = out / f"{name}.npz"
        np.savez(p, **{k: np.asarray(v) for k, v in data.items()})
        paths.append(p)
    return paths
