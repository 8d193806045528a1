"""Build the API reference of divkit, gan and analysis with pdoc; fail on any broken docstring reference.

    python tools/build_docs.py [--out build/api] [--check-only]

pdoc renders every public module (no `_private` module, no `__main__`) from its docstrings, Google style
(`Args:` / `Returns:`), with the markdown the docstrings already use. The build fails (exit 1, one line per
problem) when

* pdoc warns (a name in `__all__` that does not resolve, a module that fails to import, ...), or
* a docstring names an object of ours in backticks that does not exist: `divkit.bounds.nwj`,
  `dk.mi.estimate(...)`, `gan.trainer.Trainer.fit`, `analysis.simulate` — any backticked dotted name whose
  first part is `divkit` (or its usual alias `dk`), `gan` or `analysis` must import/resolve.

Why pdoc and not Sphinx autodoc: it needs no configuration tree (conf.py, .rst stubs, napoleon), reads the
docstrings as they are written here (markdown with Google-style sections), is one small dependency
(pdoc + jinja2, pygments, markupsafe) and builds the three packages in seconds.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import pkgutil
import re
import sys
import warnings
from pathlib import Path

PACKAGES = ("divkit", "gan", "analysis")
ALIASES = {"dk": "divkit"}
# Broken references known at the time this check was added, each in a module another engineer is rewriting;
# they are reported as warnings, not failures, until fixed there. An entry that resolves again, or is no longer
# in any docstring, fails the build, so this list can only shrink.
KNOWN_BROKEN = {
    "divkit.fdiv: `divkit._array.safe_exp` does not resolve",  # safe_exp is a method of the ops classes
}
# a backticked span that starts with a dotted name: `divkit.bounds.nwj`, `dk.mi.estimate(x, y)`
_REF = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)[^`]*`")


def public_modules(packages=PACKAGES) -> list[str]:
    """Every importable module of the packages whose dotted name has no part starting with '_'."""
    out = []
    for name in packages:
        pkg = importlib.import_module(name)
        out.append(name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                out.append(info.name)
    return sorted(out)


def materialise_lazy_attributes(packages=PACKAGES) -> None:
    """Packages here resolve some `__all__` names lazily (module `__getattr__`); pdoc reads the module
    `__dict__`, so bind each such name to the object it resolves to (the same object users get)."""
    for name in packages:
        pkg = importlib.import_module(name)
        for attr in getattr(pkg, "__all__", ()):
            if attr not in vars(pkg):
                setattr(pkg, attr, getattr(pkg, attr))


def resolves(ref: str) -> bool:
    """Whether a dotted name is an importable module or an attribute chain under one."""
    parts = ref.split(".")
    parts[0] = ALIASES.get(parts[0], parts[0])
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def broken_references(docstrings) -> list[str]:
    """`where: reference` for every backticked reference to our packages that does not resolve."""
    roots = set(PACKAGES) | set(ALIASES)
    bad = []
    for where, text in docstrings:
        for ref in _REF.findall(text or ""):
            if ref.split(".")[0] in roots and not resolves(ref):
                bad.append(f"{where}: `{ref}` does not resolve")
    return bad


def _walk(doc):
    """(qualified name, docstring) of a pdoc doc object and everything it documents."""
    from pdoc import doc as pdoc_doc

    yield doc.fullname, doc.docstring
    if isinstance(doc, (pdoc_doc.Module, pdoc_doc.Class)):
        for member in doc.own_members:
            yield from _walk(member)


def pdoc_specs(modules: list[str]) -> list[str]:
    """The module specs to hand pdoc so that each module in `modules` is rendered exactly once: pdoc expands a
    package spec into the submodules its `__all__` names, so add a spec only for a module not yet covered."""
    import pdoc.extract

    specs: list[str] = []
    covered: set[str] = set()
    for m in modules:  # sorted: a package comes before its submodules
        if m not in covered:
            specs.append(m)
            covered = set(pdoc.extract.walk_specs(specs))
    return specs


def build(out: Path | None, modules: list[str]) -> list[str]:
    """Render `modules` into `out` (None: render in memory only); return the problems found."""
    import pdoc
    import pdoc.doc
    import pdoc.extract
    import pdoc.render

    from divkit import __version__

    problems = []
    materialise_lazy_attributes()
    specs = pdoc_specs(modules)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.render.configure(docformat="google", footer_text=f"divkit {__version__}", math=False, search=True,
                              show_source=True)
        if out is not None:
            pdoc.pdoc(*specs, output_directory=out)
        # the module objects pdoc renders (from_name is cached), walked for the reference check; with
        # --check-only every page is rendered in memory by the same templates, so it fails the same way
        all_modules = {m: pdoc.doc.Module.from_name(m) for m in pdoc.extract.walk_specs(specs)}
        if out is None:
            for d in all_modules.values():
                pdoc.render.html_module(d, all_modules)
        docstrings = [item for d in all_modules.values() for item in _walk(d)]
    for w in caught:
        if "pdoc" in (w.filename or ""):
            if _hypothesis_annotation(str(w.message)):
                # @st.composite strategies are hypothesis wrappers: pdoc resolves their (string) annotations in
                # hypothesis's namespace, where our names do not exist; the page shows the annotation as written
                print(f"note: {w.message}", file=sys.stderr)
                continue
            problems.append(f"pdoc warning: {w.message}")
    broken = set(broken_references(docstrings))
    for known in sorted(KNOWN_BROKEN & broken):
        print(f"warning: {known} (known, listed in KNOWN_BROKEN)", file=sys.stderr)
    problems += sorted(broken - KNOWN_BROKEN)
    problems += [f"KNOWN_BROKEN entry is fixed or gone, delete it: {k}" for k in sorted(KNOWN_BROKEN - broken)]
    return sorted(set(problems))


def _hypothesis_annotation(message: str) -> bool:
    """A pdoc warning about an annotation of a hypothesis strategy in divkit.testing (see the caller)."""
    return message.startswith("Error parsing type annotation") and " for divkit.testing." in message


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/build_docs.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build/api", help="output folder (default build/api, git-ignored)")
    ap.add_argument("--check-only", action="store_true", help="render in memory, write nothing")
    a = ap.parse_args(argv)
    if importlib.util.find_spec("pdoc") is None:
        print("error: pdoc is not installed; `make docs` installs it (the docs extra: pip install -e '.[docs]')",
              file=sys.stderr)
        return 2
    modules = public_modules()
    problems = build(None if a.check_only else Path(a.out), modules)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        print(f"docs: {len(problems)} problem(s); the API reference is not published until they are fixed",
              file=sys.stderr)
        return 1
    print(f"docs: {len(modules)} modules" + ("" if a.check_only else f" -> {a.out}/index.html"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
