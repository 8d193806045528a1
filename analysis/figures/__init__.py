"""Every figure of the analysis, one function each; `render(names, out_dir, formats)` writes PDF/PNG + NPZ.

Registry: FIGURES maps a name to a function returning (matplotlib Figure, data dict). CHEAP lists the figures
that take seconds (the `make demo` subset, `demo_subset`).
"""
from __future__ import annotations

import time

from . import dynamics, saturation_figs
from .saturation_figs import FigureUnavailable
from .style import save, style

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


def make(name):
    """(Figure, data) of one figure, in the shared style."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    with style():
        return FIGURES[name]()


def render(names, out_dir, formats=("pdf", "png"), log=print):
    """Write each named figure to out_dir; returns {name: [paths]} (unavailable figures are reported, skipped).

    Logs one line per figure with its wall time (computing + saving), and the total at the end.
    """
    for n in names:
        if n not in FIGURES:
            raise ValueError(f"unknown figure {n!r}; known figures: {', '.join(FIGURES)}")
    written = {}
    t_all = time.perf_counter()
    for n in names:
        t0 = time.perf_counter()
        try:
            fig, data = make(n)
        except FigureUnavailable as exc:
            log(f"[skip] {n}: {exc}")
            continue
        with style():
            written[n] = save(fig, data, out_dir, n, formats)
        log(f"[ok] {n} ({time.perf_counter() - t0:.1f} s)")
    log(f"{len(written)} figure(s) in {time.perf_counter() - t_all:.1f} s")
    return written


def demo_subset(out_dir, formats=("pdf", "png")):
    """The fast figures (the `make demo` subset, well under a minute on a CPU)."""
    return render(CHEAP, out_dir, formats)
