"""Every ```python block in README.md and docs/*.md runs, each ALONE in a fresh namespace and a fresh folder.

A reader pastes one block into a fresh interpreter; it must work there, so no block may rely on an earlier block
of its page (issue 18: 19 of 39 blocks failed that way while the page-as-a-script test passed).

A block whose first line is `# not-run` is skipped (used only for commands that need a GPU or take minutes).
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text(encoding="utf-8")) if not b.lstrip().startswith("# not-run")]


CASES = [(page, i) for page in PAGES if page.exists() for i in range(len(_blocks(page)))]


@pytest.mark.parametrize("page, index", CASES, ids=[f"{p.name}[{i}]" for p, i in CASES])
def test_block_runs_alone(page, index, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    block = _blocks(page)[index]
    namespace = {"__name__": f"docs_{page.stem}_{index}"}
    try:
        exec(compile(block, f"{page.name}[block {index}]", "exec"), namespace)
    except Exception as exc:  # pragma: no cover - the message is the point
        raise AssertionError(f"{page.name} block {index} failed alone: {exc!r}\n---\n{block}") from exc


def test_every_page_with_code_is_collected():
    # a page whose blocks all vanished (a broken fence) would silently drop out of the parametrisation above
    assert any(p.name == "README.md" for p, _ in CASES)
