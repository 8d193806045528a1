"""The project's version, one source of truth for `divkit.__version__`, `gan.__version__` and
`analysis.__version__` (all three packages ship in the one `divkit` distribution).

Installed (wheel or editable): the distribution's metadata, `importlib.metadata.version("divkit")`.
Imported from a source tree that is not installed (`PYTHONPATH=.`, as `make gpu-check` runs on a GPU
machine), or from a checkout other than the installed one: the `version` of that tree's `pyproject.toml`,
so the number printed is the one of the code that runs. "0+unknown" only if neither exists.
"""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

_DIST = "divkit"


def _from_source_tree() -> str | None:
    """`[project] version` of the pyproject.toml beside this package, if it is the divkit project's."""
    path = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    # [project] table up to the next table header; a regex keeps tomllib (3.11+) out of `import divkit`.
    m = re.search(r"^\[project\]\s*$(.*?)(?=^\[)", text + "\n[", re.S | re.M)
    if m is None or not re.search(rf'^name\s*=\s*"{_DIST}"\s*$', m.group(1), re.M):
        return None
    v = re.search(r'^version\s*=\s*"([^"]+)"\s*$', m.group(1), re.M)
    return v.group(1) if v else None


def _version() -> str:
    source = _from_source_tree()
    if source is not None:
        return source
    try:
        return metadata.version(_DIST)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
