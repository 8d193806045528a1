"""tools/: the API reference's broken-reference check and module list (build_docs.py), the annotation count
(annotation_coverage.py)."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bd():
    return _load("build_docs")


@pytest.mark.parametrize("ref", ["divkit.bounds.dv_lower_bound", "dk.get", "divkit.fdiv.FDivergence",
                                 "gan.trainer.Trainer.fit", "analysis.simulate", "divkit.mi"])
def test_existing_references_resolve(bd, ref):
    assert bd.resolves(ref)


@pytest.mark.parametrize("ref", ["divkit.bounds.no_such_bound", "dk.mi.estimat", "gan.no_such_module.f",
                                 "analysis.games.Bilinear.no_such_method"])
def test_broken_references_do_not(bd, ref):
    assert not bd.resolves(ref)


def test_broken_references_reports_only_our_packages(bd):
    docs = [("m.f", "See `divkit.bounds.nope(x)`, `dk.get(\"kl\")`, `kl.f` and `np.nothing_here`."),
            ("m.g", None)]
    assert bd.broken_references(docs) == ["m.f: `divkit.bounds.nope` does not resolve"]


def test_public_modules_leave_out_private_and_main(bd):
    mods = bd.public_modules()
    assert {"divkit", "divkit.bounds", "gan.trainer", "analysis.simulate"} <= set(mods)
    assert not [m for m in mods if any(p.startswith("_") for p in m.split("."))]


def test_annotation_coverage_counts_by_hand(tmp_path):
    ac = _load("annotation_coverage")
    pkg = tmp_path / "pkg"
    (pkg / "_private").mkdir(parents=True)
    (pkg / "__init__.py").write_text("def top(x: int) -> int:\n    return x\n")
    (pkg / "_private" / "m.py").write_text("def hidden(x): pass\n")         # private module: not counted
    (pkg / "mod.py").write_text(
        "def full(a: int, *args: int, b: str = '', **kw: float) -> None: ...\n"
        "def no_return(a: int): ...\n"
        "def bare_kwargs(a: int, **kw) -> None: ...\n"
        "def _helper(a): ...\n"                                               # private: not counted
        "class C:\n"
        "    def __init__(self, x: int): ...\n"                               # __init__: return may be omitted
        "    def m(self, y) -> int: ...\n"
        "    @staticmethod\n"
        "    def s(self: int) -> int: ...\n"                                   # staticmethod: first arg counts
        "    def __repr__(self): ...\n"                                        # protocol dunder: not counted
        "class _Hidden:\n"
        "    def m(self): ...\n")
    full, total, missing = ac.coverage("pkg", root=tmp_path)
    assert (full, total) == (4, 7)
    assert sorted(missing) == ["pkg.mod.C.m", "pkg.mod.bare_kwargs", "pkg.mod.no_return"]


def test_pre_commit_hooks_run_the_projects_own_tools():
    """Local hooks only (no hook repository to download), each calling a tool the dev extra installs or a
    script of this repository, with the configuration in pyproject (one place for CI and pre-commit).
    Read line by line (PyYAML is not a dependency): `repo:`, `id:`, `entry:`, `language:` keys."""
    text = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    keys = re.findall(r"^\s*-?\s*(repo|id|entry|language):\s*(.+?)\s*$", text, re.M)
    assert [v for k, v in keys if k == "repo"] == ["local"]
    assert {v for k, v in keys if k == "id"} >= {"ruff", "mypy"}
    entries = [v for k, v in keys if k == "entry"]
    assert entries and len(entries) == len([k for k, _ in keys if k == "id"])
    assert {v for k, v in keys if k == "language"} == {"system"}
    for entry in entries:
        exe, *args = entry.split()
        assert exe.startswith(".venv/bin/"), entry
        assert all((ROOT / a).is_file() for a in args if a.endswith(".py")), entry
