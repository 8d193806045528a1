"""Drawing helpers shared by the figures: panel grids for a print width, direction fields, trajectories."""
from __future__ import annotations

import numpy as np

from .style import new_figure


def grid(width, n, wide_cols, narrow_cols, panel_aspect=1.0, extra_h=0.35, **kw):
    """Figure + n axes on a grid: `wide_cols` columns at widths >= 5 in, `narrow_cols` below; spare axes removed.

    Each panel is (width / cols) wide and panel_aspect times as tall, plus `extra_h` inches per row for titles
    and tick labels. Returns (fig, list of n axes).
    """
    cols = wide_cols if width >= 5.0 else narrow_cols
    rows = int(np.ceil(n / cols))
    fig = new_figure(width, rows * (width / cols * panel_aspect + extra_h))
    axes = fig.subplots(rows, cols, squeeze=False, **kw).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, list(axes[:n])


def directions(ax, X, Y, U, V, color="0.45"):
    """Unit-direction arrows at (X, Y) of length 0.7 grid spacing (data units, tips inside the grid's hull)."""
    n = np.hypot(U, V)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = np.where(n > 0, U / n, 0.0), np.where(n > 0, V / n, 0.0)
    h = 0.7 * min(np.diff(np.unique(X)).min(), np.diff(np.unique(Y)).min())
    ax.quiver(X - 0.5 * h * u, Y - 0.5 * h * v, h * u, h * v, angles="xy", scale_units="xy", scale=1.0,
              color=color, width=0.004, headwidth=4, headlength=4, headaxislength=3.5, zorder=1)
    return h


def trajectory(ax, x, y, color="C3", label="iterates", arrows=3):
    """A path with a start marker, the equilibrium star and `arrows` arrowheads showing the direction."""
    x, y = np.asarray(x), np.asarray(y)
    ax.plot(x, y, color=color, lw=1.0, label=label, zorder=3)
    n = len(x)
    for k in np.linspace(0, n - 2, arrows + 2)[1:-1].astype(int):
        ax.annotate("", xy=(x[k + 1], y[k + 1]), xytext=(x[k], y[k]),
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=0, mutation_scale=9), zorder=4)
    ax.plot([x[0]], [y[0]], "o", color="C2", ms=4, label="start", zorder=5)
    ax.plot([0], [0], "k*", ms=6, label="equilibrium", zorder=5)


def symmetric_limits(ax, *arrays, floor=1.0, pad=1.08):
    """Square limits +-L with L = pad * max(|finite values|, floor); returns L."""
    vals = np.concatenate([np.abs(np.asarray(a, dtype=float)).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    L = pad * max(float(vals.max()) if vals.size else 0.0, floor)
    ax.set_xlim(-L, L)
    ax.set_ylim(-L, L)
    ax.set_aspect("equal")
    return L


_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def unicode_log_ticks(axis):
    """Label a log axis 10⁻⁴ with Unicode superscripts at the tick font size (mathtext would set the exponent
    at 70 %, below the 7 pt floor)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def fmt(v, _):
        if v <= 0:
            return ""
        k = np.log10(v)
        return f"10{str(int(round(k))).translate(_SUP)}" if abs(k - round(k)) < 1e-9 else ""

    axis.set_major_locator(LogLocator(base=10, numticks=6))
    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_formatter(NullFormatter())


def wrap(text, width, at=5.0):
    """`text` as is at widths >= `at` inches, else with its first ", " or ": " after the middle made a newline."""
    if width >= at or "\n" in text:
        return text
    mid = len(text) // 2
    cuts = [i for i in (text.find(", ", mid - 10), text.find(": ", mid - 10)) if i > 0]
    if not cuts:
        cuts = [i for i in (text.rfind(", ", 0, mid + 10), text.rfind(": ", 0, mid + 10)) if i > 0]
    if not cuts:
        return text
    i = min(cuts, key=lambda c: abs(c - mid))
    return text[:i + 1] + "\n" + text[i + 2:]
