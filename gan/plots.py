"""Sample figures (matplotlib, Agg-safe: figures are created with the object API and never shown)."""
from __future__ import annotations

import numpy as np


def save_scatter(path, fake: np.ndarray, real: np.ndarray | None = None, title: str = "", ax=None) -> None:
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


def save_image_grid(path, images: np.ndarray, nrow: int = 8) -> None:
    import matplotlib.image as mpimg

    g = image_grid(images, nrow)
    mpimg.imsave(path, g[..., 0] if g.shape[2] == 1 else g, cmap="gray", vmin=0, vmax=1)
