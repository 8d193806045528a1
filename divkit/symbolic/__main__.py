"""`python -m divkit.symbolic --table` (docs/divergences.md) and `--generator EXPR`."""
from .table import _main

if __name__ == "__main__":
    raise SystemExit(_main())
