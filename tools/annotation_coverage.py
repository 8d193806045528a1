"""How much of the public API carries type hints: fully annotated public functions per package.

    python tools/annotation_coverage.py [--list] [--min PERCENT] [PACKAGE ...]

Public function: a module-level `def` or a method of a module-level class, whose own name, class name and
module path have no part starting with '_' (dunder methods other than `__init__` and `__call__` are left out:
their types are fixed by the protocol). Fully annotated: every parameter except `self`/`cls` (including
*args/**kwargs) and the return have an annotation (`__init__`'s return may be omitted: mypy infers None).
Read from the source with `ast`: nothing is imported. `--list` prints the functions that are not fully
annotated; `--min` exits 1 when a package falls below PERCENT (for CI, once the team picks a floor).
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("divkit", "gan", "analysis")
KEPT_DUNDERS = {"__init__", "__call__"}


def _public(name: str) -> bool:
    return not name.startswith("_") or name in KEPT_DUNDERS


def _fully_annotated(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> bool:
    a = fn.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    if method and params and params[0].arg in ("self", "cls") and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list):
        params = params[1:]
    params += [p for p in (a.vararg, a.kwarg) if p is not None]
    returns_ok = fn.returns is not None or fn.name == "__init__"
    return returns_ok and all(p.annotation is not None for p in params)


def public_functions(path: Path):
    """(qualified name, fully annotated?) for each public function of one module file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(node.name) \
                and not node.name.startswith("__"):
            yield node.name, _fully_annotated(node, method=False)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(item.name):
                    yield f"{node.name}.{item.name}", _fully_annotated(item, method=True)


def coverage(package: str, root: Path = ROOT) -> tuple[int, int, list[str]]:
    """(fully annotated, public functions, the names not fully annotated) of one package."""
    full = total = 0
    missing = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if any(part.startswith("_") and part != "__init__" for part in rel.parts):
            continue
        module = ".".join(p for p in rel.parts if p != "__init__")
        for name, ok in public_functions(path):
            total += 1
            full += ok
            if not ok:
                missing.append(f"{module}.{name}")
    return full, total, missing


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/annotation_coverage.py", description=__doc__.splitlines()[0])
    ap.add_argument("packages", nargs="*", default=list(PACKAGES))
    ap.add_argument("--list", action="store_true", help="print the functions that are not fully annotated")
    ap.add_argument("--min", type=float, default=None, metavar="PERCENT", help="fail below this coverage")
    a = ap.parse_args(argv)
    print("| package | fully annotated | public functions | coverage |\n|---|---|---|---|")
    low = []
    all_full = all_total = 0
    for pkg in a.packages:
        full, total, missing = coverage(pkg)
        all_full, all_total = all_full + full, all_total + total
        pct = 100.0 * full / total if total else 100.0
        print(f"| {pkg} | {full} | {total} | {pct:.0f} % |")
        if a.min is not None and pct < a.min:
            low.append(pkg)
        if a.list:
            for name in missing:
                print(f"    {name}", file=sys.stderr)
    if len(a.packages) > 1:
        print(f"| all | {all_full} | {all_total} | {100.0 * all_full / max(all_total, 1):.0f} % |")
    if low:
        print(f"error: below {a.min} %: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
