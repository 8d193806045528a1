"""Every ```python block in README.md and docs/*.md runs (blocks of one page share a namespace, in order).

A block whose first line is `# not-run` is skipped (used only for commands that need a GPU or take minutes).
"""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks(page: Path):
    return [b for b in BLOCK.findall(page.read_text(encoding="utf-8")) if not b.lstrip().startswith("# not-run")]


@pytest.mark.parametrize("page", [p for p in PAGES if p.exists() and _blocks(p)], ids=lambda p: p.name)
def test_page_examples_run(page, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(_blocks(page)):
        try:
            exec(compile(block, f"{page.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name} block {i} failed: {exc!r}\n---\n{block}") from exc
