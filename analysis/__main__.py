"""python -m analysis figures --out DIR [--only NAME ...] [--format pdf png] [--demo]"""
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
    f.add_argument("--demo", action="store_true", help="only the fast subset")
    a = ap.parse_args(argv)
    names = a.only or (figures.CHEAP if a.demo else list(figures.FIGURES))
    try:
        figures.render(names, a.out, tuple(a.format))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
