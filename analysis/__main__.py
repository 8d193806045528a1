"""python -m analysis figures --out DIR [--only NAME ...] [--format pdf png] [--width IN|column|text|wide]
[--dpi N] [--no-data] [--demo]"""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    from . import __version__, figures

    ap = argparse.ArgumentParser(prog="python -m analysis")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("figures", help="write the figures (PDF/PNG + NPZ data)")
    f.add_argument("--out", required=True)
    f.add_argument("--only", nargs="+", metavar="NAME", help=f"subset of: {', '.join(figures.FIGURES)}")
    f.add_argument("--format", nargs="+", default=["pdf", "png"], choices=["pdf", "png", "svg"])
    f.add_argument("--width", default=str(figures.DEFAULT_WIDTH), metavar="IN",
                   help="print width in inches, or a preset: " + ", ".join(f"{k} = {v} in" for k, v in
                                                                            figures.WIDTHS.items())
                        + f" (default {figures.DEFAULT_WIDTH}); fonts are >= {figures.MIN_PT:g} pt at that width")
    f.add_argument("--dpi", type=float, default=None, help="PNG resolution (default 300)")
    f.add_argument("--no-data", action="store_true", help="do not write the NAME.npz data files")
    f.add_argument("--demo", action="store_true", help="only the fast subset")
    a = ap.parse_args(argv)
    names = a.only or (figures.CHEAP if a.demo else list(figures.FIGURES))
    try:
        figures.render(names, a.out, tuple(a.format), a.width, log=lambda s: print(s, flush=True), dpi=a.dpi,
                       write_data=not a.no_data)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
