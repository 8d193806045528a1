"""`make demo`: a quick tour that prints numbers and writes figures to --out (default out/).

1. Every registered divergence between two example Gaussians: closed form beside numeric quadrature.
2. The Fenchel conjugate of the TV generator as the upper envelope of the lines u·t − f(u).
3. A small f-GAN trained on ring8 on the CPU, with its sample plot and mode metrics.
4. A fast subset of the analysis figures (saddle dynamics, update rules, Dirac-GAN, JS saturation, ...).
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import scipy.stats as st

import divkit as dk

P = st.norm(0.0, 1.0)
Q = st.norm(1.0, 1.5)


def divergence_table(p=P, q=Q) -> list[tuple[str, float, float, str]]:
    """(name, closed form or nan, quadrature, method of the first column) for every registered divergence."""
    rows = []
    for name in dk.names() + ["alpha(0.5)", "alpha(2)", "alpha(-1)"]:
        quad = float(dk.divergence(p, q, name, method="quadrature"))
        try:
            closed = float(dk.divergence(p, q, name, method="closed_form"))
            how = "closed form"
        except (NotImplementedError, LookupError, ValueError):
            closed, how = math.nan, "no closed form"
        rows.append((name, closed, quad, how))
    return rows


def print_divergence_table(rows) -> None:
    print(f"D(P || Q), P = N(0, 1), Q = N(1, 1.5²), nats")
    print(f"{'divergence':<20}{'closed form':>16}{'quadrature':>16}{'rel. diff':>12}")
    for name, closed, quad, how in rows:
        rel = abs(closed - quad) / max(abs(quad), 1e-300) if math.isfinite(closed) and math.isfinite(quad) else math.nan
        c = f"{closed:16.10f}" if not math.isnan(closed) else f"{'(' + how + ')':>16}"
        r = f"{rel:12.1e}" if math.isfinite(rel) else f"{'':>12}"
        print(f"{name:<20}{c}{quad:16.10f}{r}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m divkit.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out", help="folder for figures (default: out)")
    ap.add_argument("--skip-gan", action="store_true", help="skip the f-GAN training step")
    ap.add_argument("--skip-analysis", action="store_true", help="skip the analysis figures")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    print_divergence_table(divergence_table())

    import matplotlib

    matplotlib.use("Agg")
    from divkit.plotting import envelope_figure

    fig = envelope_figure("tv")
    for ext in ("pdf", "png"):
        fig.savefig(out / f"conjugate_envelope_tv.{ext}", bbox_inches="tight")
    print(f"\nwrote {out / 'conjugate_envelope_tv.pdf'} (.png): TV conjugate as the envelope of u·t − f(u)")

    if not args.skip_gan:
        _gan_demo(out)
    if not args.skip_analysis:
        _analysis_demo(out)
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; outputs in {out}/")
    return 0


def _gan_demo(out: Path) -> None:
    from gan.demo import demo_ring8

    print("\ntraining a small f-GAN (gan divergence, non-saturating G loss) on ring8, CPU...")
    s = demo_ring8(out / "gan_ring8")
    print(f"after {s['steps']} steps: {s['modes']}/8 modes captured, high-quality {100 * s['hq_fraction']:.1f}%, "
          f"reverse KL {s['reverse_kl']:.3f} (VEEGAN/PacGAN protocol, 2,500 samples); "
          f"samples in {out / 'gan_ring8' / 'samples.png'}")


def _analysis_demo(out: Path) -> None:
    from analysis.figures import demo_subset

    print("\nwriting a fast subset of the analysis figures (python -m analysis figures --out DIR for all)...")
    demo_subset(out / "figures")


if __name__ == "__main__":
    raise SystemExit(main())
