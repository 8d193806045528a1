"""Every figure of the analysis, one function each; `render(names, out_dir, formats, width)` writes PDF/PNG + NPZ.

Registry: FIGURES maps a name to a function `fn(width=...) -> (matplotlib Figure, data dict)`, laid out for that
print width in inches (style.WIDTHS names the usual ones: column 3.25, text 5.5, wide 6.75) with every font
>= style.MIN_PT there. Figures are `matplotlib.figure.Figure` objects: importing or rendering never changes the
matplotlib backend. CHEAP lists the figures that take seconds (the `make demo` subset, `demo_subset`).
"""
from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import dynamics, saturation_figs
from .saturation_figs import FigureUnavailable
from .style import DEFAULT_WIDTH, MIN_PT, WIDTHS, FigureData, save, style, width_inches

FIGURES = {
    "saddle_surface": dynamics.saddle_surface,
    "vector_field": dynamics.vector_field,
    "iterates_vs_time": dynamics.iterates_vs_time,
    "spiral": dynamics.spiral,
    "update_rules": dynamics.update_rules,
    "spectral_radius_vs_lr": dynamics.spectral_radius_vs_lr,
    "dirac_gan": dynamics.dirac_gan,
    "js_saturation": saturation_figs.js_saturation,
    "generator_gradients": saturation_figs.generator_gradients,
    "frozen_generator": saturation_figs.frozen_generator,
    "kl_integrands": saturation_figs.kl_integrands,
    "kl_fits": saturation_figs.kl_fits,
    "conjugate_envelope": saturation_figs.conjugate_envelope,
    "ring8_mode_collapse": saturation_figs.ring8_mode_collapse,
}
CHEAP = ["vector_field", "iterates_vs_time", "spiral", "update_rules", "spectral_radius_vs_lr", "dirac_gan",
         "js_saturation", "kl_integrands", "conjugate_envelope"]

__all__ = ["FIGURES", "CHEAP", "WIDTHS", "DEFAULT_WIDTH", "MIN_PT", "make", "render", "demo_subset", "style",
           "FigureUnavailable"]


def _check_names(names):
    for n in names:
        if n not in FIGURES:
            raise ValueError(f"unknown figure {n!r}; known figures: {', '.join(FIGURES)}")


def make(name: str, width: float | str = DEFAULT_WIDTH, log: Callable[[str], object] | None = None,
         **kwargs: Any) -> FigureData:
    """(Figure, data) of one figure at `width` (inches or a WIDTHS name), in the shared style.

    log: progress callable, passed to figures that report their own progress (generator_gradients);
    kwargs: the figure function's own parameters (e.g. smaller sizes).
    """
    _check_names([name])
    fn = FIGURES[name]
    if log is not None and "log" in inspect.signature(fn).parameters:
        kwargs["log"] = log
    with style():
        return fn(width=width_inches(width), **kwargs)


def render(names: Sequence[str], out_dir: str | os.PathLike[str], formats: Sequence[str] = ("pdf", "png"),
           width: float | str = DEFAULT_WIDTH, log: Callable[[str], object] = print, dpi: float | None = None,
           write_data: bool = True) -> dict[str, list[Path]]:
    """Write each named figure to out_dir; returns {name: [paths]} (unavailable figures are reported, skipped).

    dpi: raster resolution (default 300); write_data=False skips the NAME.npz files (the docs' images).
    Logs a line when a figure starts ("[i/n] name ...", long ones add their own progress lines) and one when it is
    written, with its wall time (computing + saving), and the total at the end.
    """
    _check_names(names)
    w = width_inches(width)
    if dpi is not None and not (isinstance(dpi, (int, float)) and 20 <= dpi <= 2000):
        raise ValueError(f"dpi must be a number in [20, 2000], got {dpi!r}")
    written = {}
    t_all = time.perf_counter()
    for i, n in enumerate(names, 1):
        t0 = time.perf_counter()
        log(f"[{i}/{len(names)}] {n} ...")
        try:
            fig, data = make(n, w, log=log)
        except FigureUnavailable as exc:
            log(f"[skip] {n}: {exc}")
            continue
        with style():
            written[n] = save(fig, data, out_dir, n, formats, dpi, write_data)
        log(f"[ok] {n} ({time.perf_counter() - t0:.1f} s)")
    log(f"{len(written)} figure(s) at {w:g} in wide in {time.perf_counter() - t_all:.1f} s")
    return written


def demo_subset(out_dir: str | os.PathLike[str], formats: Sequence[str] = ("pdf", "png"),
                width: float | str = DEFAULT_WIDTH, log: Callable[[str], object] = print) -> dict[str, list[Path]]:
    """The fast figures (the `make demo` subset, well under a minute on a CPU)."""
    return render(CHEAP, out_dir, formats, width, log)
