"""Figures for divkit objects (imports matplotlib; `import divkit` never loads this module).

`envelope_figure` draws the Fenchel conjugate as the upper envelope of lines: for each fixed u the function
t ↦ u·t − f(u) is a line of slope u and intercept −f(u), and f*(t) = sup_{u ≥ 0} (u·t − f(u)) is their upper
envelope (Rockafellar, Convex Analysis §12; Boyd & Vandenberghe §3.3). For total variation, f(u) = ½|u − 1|,
the lines through (0, −½) [u = 0] and the line t [u = 1] give f*(t) = max(t, −½), and lines of slope u > 1
rise without bound past t = ½: dom f* = (−∞, ½]. (f-GAN's table, Nowozin et al. 2016, writes f*(t) = t on
|t| ≤ ½: the same function on the range (−½, ½) of TV's output activation ½ tanh v, which is all the critic
can output; below −½ the sup over u ≥ 0 is −½, not +∞.) Where f* = +∞ the figure shades the t-range and says
so in the legend. This is the one envelope figure of the project: analysis's `conjugate_envelope` draws it
into its own axes (`ax=`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from ._typing import Array
    from .fdiv import FDivergence

__all__ = ["envelope_figure"]


def _f_numpy(div_or_f):
    from .catalog import get
    from .fdiv import FDivergence

    if isinstance(div_or_f, (str, FDivergence)):
        d = get(div_or_f)

        def f(u):
            u = np.asarray(u, dtype=np.float64)
            with np.errstate(all="ignore"):
                v = np.asarray(d.f(u), dtype=np.float64)
            return np.where(u == 0, d.f_at_zero, v)

        return d, f, d.name
    if callable(div_or_f):
        def f(u):
            with np.errstate(all="ignore"):
                return np.asarray(div_or_f(np.asarray(u, dtype=np.float64)), dtype=np.float64)

        return None, f, getattr(div_or_f, "__name__", "f")
    raise TypeError(f"envelope_figure: div_or_f must be an FDivergence, a registered name or a callable u -> f(u), "
                    f"got {type(div_or_f).__name__}")


def envelope_figure(div_or_f: FDivergence | str | Callable[[np.ndarray], np.ndarray],
                    u_grid: Array | None = None, t_range: tuple[float, float] = (-1.5, 1.0),
                    ax: Axes | None = None, n_lines: int = 9, n_t: int = 801) -> Figure | SubFigure:
    """Lines t ↦ u·t − f(u) for several u and their upper envelope f*(t) (the conjugate).

    Args:
      div_or_f: FDivergence, registered name (e.g. "tv"), or a callable u -> f(u) on numpy arrays.
      u_grid: 1-D increasing grid of u ≥ 0 for the envelope (default 0 … 4, 2001 points). `n_lines` of its
        points (evenly spread, with u = 0 and u = 1 when present) are drawn as lines.
      t_range: (lo, hi) of the horizontal axis.
      ax: a matplotlib Axes to draw into; a new Figure is made when None.
    Returns:
      the matplotlib Figure. The envelope is the discrete Legendre transform of f on `u_grid`
      (divkit.legendre_transform); for an FDivergence the exact f* is drawn dashed on top (+inf outside its
      domain is left blank and the domain's end is marked), so grid truncation is visible where they part.
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig: Figure | SubFigure = Figure(figsize=(6.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    from .legendre import legendre_transform

    d, f, name = _f_numpy(div_or_f)
    u = np.linspace(0.0, 4.0, 2001) if u_grid is None else np.asarray(u_grid, dtype=np.float64)
    if u.ndim != 1 or u.size < 2 or np.any(np.diff(u) <= 0):
        raise ValueError("envelope_figure: u_grid must be a 1-D strictly increasing array with ≥ 2 points")
    lo, hi = map(float, t_range)
    if not lo < hi:
        raise ValueError(f"envelope_figure: t_range must be (lo, hi) with lo < hi, got {t_range}")
    t = np.linspace(lo, hi, n_t)
    fu = f(u)
    fu = np.where(np.isnan(fu), np.inf, fu)

    pick = set(np.linspace(0, u.size - 1, n_lines).round().astype(int).tolist())
    for special in (0.0, 1.0):
        hit = np.flatnonzero(np.isclose(u, special, rtol=0, atol=1e-12))
        if hit.size:
            pick.add(int(hit[0]))
    cmap = _cmap()
    shown = sorted(i for i in pick if np.isfinite(fu[i]))
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    norm = Normalize(float(u[shown[0]]), float(u[shown[-1]]))
    for i in shown:  # coloured by slope u (the colour bar), so the legend keeps only the envelope and f*
        ax.plot(t, u[i] * t - fu[i], lw=0.9, color=cmap(0.9 * norm(u[i])), alpha=0.85)
    ax.figure.colorbar(ScalarMappable(norm, _cmap_part(cmap)), ax=ax,
                       label="slope u of the line", shrink=0.85)
    env = legendre_transform(u, fu, t)
    ax.plot(t, env, color="black", lw=2.4, label=f"envelope: max over {u[0]:.3g} ≤ u ≤ {u[-1]:.3g} of u·t − f(u)")
    if d is not None:
        with np.errstate(all="ignore"):
            exact = np.asarray(d.conjugate(t), dtype=np.float64)
        ax.plot(t, np.where(np.isfinite(exact), exact, np.nan), color="tab:red", lw=1.4, ls="--",
                label=f"exact f*, finite on dom f* = {d.conjugate_domain}")
        dom = d.conjugate_domain
        spans = [(dom.hi, hi)] if math.isfinite(dom.hi) and dom.hi < hi else []
        spans += [(lo, dom.lo)] if math.isfinite(dom.lo) and dom.lo > lo else []
        for k, (a, b) in enumerate(spans):
            ax.axvspan(a, b, color="tab:red", alpha=0.12, lw=0,
                       label="f* = +∞ (lines of growing slope u → ∞)" if k == 0 else None)
    finite = env[np.isfinite(env)]
    if finite.size:
        span = finite.max() - finite.min()
        ax.set_ylim(finite.min() - 0.3 * span - 0.1, finite.max() + 0.3 * span + 0.1)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("t")
    ax.set_ylabel("u·t − f(u)")
    ax.set_title(f"conjugate of {name} as the envelope of lines")
    ax.legend(fontsize=7, loc="upper left", framealpha=0.9)
    return fig


def _cmap_part(cmap):
    """The first 90 % of `cmap` (viridis' last tenth is too light to see on white), as a colormap."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(cmap(np.linspace(0, 0.9, 256)))


def _cmap():
    from matplotlib import colormaps

    return colormaps["viridis"]
