"""Every ```mermaid block of the docs renders with the real Mermaid library in headless Chromium.

The blocks come from the committed docs/data/*.md and from the docs `weir docs` writes for the example
now; a deliberately broken diagram must fail, or the harness proves nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
REPOSITORY = HERE.parents[2]
_BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def mermaid_blocks(folder: Path, label: str) -> dict[str, str]:
    """Return each mermaid block of the Markdown files in `folder`, named `label/FILE.md:LINE`."""
    blocks = {}
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks[f"{label}/{path.name}:{line}"] = match[1]
    return blocks


def render(diagrams: dict[str, str], chromium: str, tmp_path: Path) -> dict[str, str | None]:
    """Return each diagram's error (None when it rendered), from Mermaid in Chromium."""
    source = tmp_path / "diagrams.json"
    source.write_text(json.dumps(diagrams))
    done = subprocess.run(["node", str(HERE / "render_mermaid.mjs"), str(source), chromium],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results: dict[str, str | None] = json.loads(done.stdout)
    assert sorted(results) == sorted(diagrams)
    return results


def test_every_generated_and_committed_diagram_renders(node_modules, chromium, example_docs, tmp_path) -> None:
    generated = mermaid_blocks(example_docs, "generated")
    assert len(generated) >= 3, sorted(generated)  # ERD per schema, per fact, lineage at least
    committed = mermaid_blocks(REPOSITORY / "docs" / "data", "docs/data")
    failed = {name: error for name, error in render({**generated, **committed}, chromium, tmp_path).items()
              if error is not None}
    assert failed == {}


def test_a_broken_diagram_fails_and_a_good_one_beside_it_renders(node_modules, chromium, tmp_path) -> None:
    results = render({
        "good": "erDiagram\n    raw__orders {\n        bigint order_id PK\n    }\n",
        "broken": "erDiagram\n    raw__orders ||--o{ : \"no entity on the right\"\n",
        "broken flowchart": "flowchart LR\n    a --> \n    --> b[unclosed\n",
    }, chromium, tmp_path)
    assert results["good"] is None
    assert results["broken"] is not None and "Parse error" in results["broken"], results
    assert results["broken flowchart"] is not None, results
