"""Sample figures (matplotlib, Agg-safe: figures are created with the object API and never shown)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import os

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def save_scatter(path: str | os.PathLike | None, fake: np.ndarray, real: np.ndarray | None = None, title: str = "",
                 ax: Axes | None = None) -> None:
    """Scatter of 2-D generator samples (n, 2) over real samples (grey); writes `path` unless `ax` is given."""
    from matplotlib.figure import Figure

    fig = None
    if ax is None:
        fig = Figure(figsize=(4, 4))
        ax = fig.add_subplot()
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="C3", alpha=0.5, label="generator")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    if fig is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=100)


def image_grid(images: np.ndarray, nrow: int = 8) -> np.ndarray:
    """(N, C, H, W) in [−1, 1] → one (rows·H, nrow·W, C) array in [0, 1] (1-pixel gaps)."""
    n, c, h, w = images.shape
    rows = int(np.ceil(n / nrow))
    grid = np.ones((rows * (h + 1) - 1, nrow * (w + 1) - 1, c), dtype=np.float32)
    for i, img in enumerate(np.clip((images + 1) / 2, 0, 1)):
        r, k = divmod(i, nrow)
        grid[r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img.transpose(1, 2, 0)
    return grid


def save_image_grid(path: str | os.PathLike, images: np.ndarray, nrow: int = 8) -> None:
    import matplotlib.image as mpimg

    g = image_grid(images, nrow)
    mpimg.imsave(path, g[..., 0] if g.shape[2] == 1 else g, cmap="gray", vmin=0, vmax=1)


# ---------------------------------------------------------------- training curves (`python -m gan plot`)

# The analysis package's figure style (analysis/figures/style.py), repeated here because gan does not import
# analysis (DESIGN.md): same sizes, grid, tight bounding box, TrueType fonts in PDFs.
RC = {"font.size": 10, "axes.labelsize": 10, "axes.titlesize": 10, "legend.fontsize": 8, "xtick.labelsize": 9,
      "ytick.labelsize": 9, "figure.dpi": 100, "savefig.dpi": 200, "savefig.bbox": "tight", "axes.grid": True,
      "grid.alpha": 0.3, "lines.linewidth": 1.5, "pdf.fonttype": 42, "figure.constrained_layout.use": True}


def scatter_array(fake: np.ndarray, real: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """`save_scatter`'s picture as an (H, W, 3) float array in [0, 1] (for TensorBoard)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80)
    canvas = FigureCanvasAgg(fig)
    save_scatter(None, fake, real, title, ax=fig.add_subplot())
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba(), dtype=np.float32)[..., :3] / 255.0


def curves_figure(groups: list, metrics: list, step_label: str = "generator step") -> Figure:
    """One panel per metric; per group a line (mean over its runs) with a ±1 standard-error band when the group
    has several runs (s.e. = sample std (ddof 1) / √n over runs, at the steps every run logged; a step where
    some run logged NaN/null is NaN: a gap, never a mean over fewer runs).

    groups: list of (label, [run curves]); a run's curves: {metric: (steps (T,), values (T,))}, NaN allowed
    (e.g. reverse KL with no HQ sample: a gap in the line). Returns a matplotlib Figure (never shown)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        ncol = min(len(metrics), 3)
        nrow = -(-len(metrics) // ncol)
        fig = Figure(figsize=(3.6 * ncol, 2.8 * nrow))
        axes = fig.subplots(nrow, ncol, squeeze=False)
        for ax, metric in zip(axes.ravel(), metrics):
            for i, (label, runs) in enumerate(groups):
                have = [r[metric] for r in runs if metric in r and len(r[metric][0])]
                if not have:
                    continue
                steps, mean, se = mean_se(have)
                n = len(have)
                # markers: a value between two NaNs (e.g. reverse KL) is a point, not a line
                ax.plot(steps, mean, color=f"C{i}", marker=".", markersize=3,
                        label=label + (f" (n={n})" if n > 1 else ""))
                if n > 1:
                    ax.fill_between(steps, mean - se, mean + se, color=f"C{i}", alpha=0.25, linewidth=0)
            if not any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines()):
                ax.text(0.5, 0.5, "no finite value logged\n(e.g. reverse KL without HQ samples)", ha="center",
                        va="center", transform=ax.transAxes, fontsize=8, color="0.4")
            ax.set_title(metric)
            ax.set_xlabel(step_label)
        for ax in axes.ravel()[len(metrics):]:
            ax.set_visible(False)
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        if handles:
            axes.ravel()[0].legend(handles, labels)
    return fig


def save_figure(fig: Figure, stem: str | os.PathLike) -> list:
    """Write `fig` as STEM.pdf and STEM.png in the shared style; returns the paths."""
    from pathlib import Path

    import matplotlib

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ext) for ext in (".pdf", ".png")]
    with matplotlib.rc_context(RC):
        for p in paths:
            fig.savefig(p)
    return paths


def mean_se(curves: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, s.e.) over runs at the steps all of them have; s.e. 0 for one run. curves: [(steps, values)]."""
    common = curves[0][0]
    for s, _ in curves[1:]:
        common = np.intersect1d(common, s)
    vals = np.stack([np.asarray(v, dtype=np.float64)[np.searchsorted(s, common)] for s, v in curves])
    mean = vals.mean(0)
    se = vals.std(0, ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else np.zeros_like(mean)
    return np.asarray(common), mean, se
