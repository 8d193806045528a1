"""Packaging contract: one version everywhere, license, PEP 561 markers, console scripts, changelog.

The wheel itself is built and imported from a clean venv outside the source tree by `make wheel-check` (CI);
these tests check the declarations that the wheel is built from, quickly and without a build.
"""
from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("divkit", "gan", "analysis")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    tomllib = pytest.importorskip("tomli")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("package", PACKAGES)
def test_version_is_the_projects(package, pyproject):
    mod = importlib.import_module(package)
    assert mod.__version__ == pyproject["project"]["version"]
    # PEP 440: release segment, optional pre/post/dev/local parts
    assert re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?", mod.__version__)


def test_version_falls_back_to_metadata_outside_a_source_tree(tmp_path, monkeypatch):
    """Installed from a wheel there is no pyproject.toml beside the package: the metadata is used."""
    from divkit import _version

    monkeypatch.setattr(_version, "__file__", str(tmp_path / "divkit" / "_version.py"))
    assert _version._from_source_tree() is None
    monkeypatch.setattr(_version.metadata, "version", lambda dist: "9.8.7" if dist == "divkit" else None)
    assert _version._version() == "9.8.7"

    def missing(dist):
        raise _version.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(_version.metadata, "version", missing)
    assert _version._version() == "0+unknown"


def test_version_ignores_another_projects_pyproject(tmp_path, monkeypatch):
    from divkit import _version

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "3.0"\n\n[tool.x]\n')
    monkeypatch.setattr(_version, "__file__", str(tmp_path / "divkit" / "_version.py"))
    assert _version._from_source_tree() is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "divkit"\nversion = "3.0"\n\n[tool.x]\nversion = "4"\n')
    assert _version._from_source_tree() == "3.0"


@pytest.mark.parametrize("package", PACKAGES)
def test_py_typed_marker_shipped(package, pyproject):
    assert (ROOT / package / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["*"]


def test_license_is_the_declared_mit(pyproject):
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


@pytest.mark.parametrize("script", ["divkit-gan", "divkit-figures", "divkit-mi-benchmark"])
def test_console_scripts_resolve_to_callables(script, pyproject):
    target = pyproject["project"]["scripts"][script]
    module, attr = target.split(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_console_script_names_are_prefixed(pyproject):
    """Names that cannot collide with another distribution's scripts (a bare `gan` could)."""
    assert all(name.startswith("divkit-") for name in pyproject["project"]["scripts"])


@pytest.mark.parametrize("main", ["analysis.__main__:main", "divkit.mi.benchmark:main"])
def test_cli_version_flag(main, capsys, pyproject):
    module, attr = main.split(":")
    with pytest.raises(SystemExit) as exc:
        getattr(importlib.import_module(module), attr)(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.split()[-1] == pyproject["project"]["version"]


def test_changelog_has_an_unreleased_or_current_section(pyproject):
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert heads and heads[0] in ("Unreleased", pyproject["project"]["version"])
    assert "keepachangelog.com" in text
