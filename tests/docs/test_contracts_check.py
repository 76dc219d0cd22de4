"""`weir docs --check` on a copy of the example: a model's column renamed or added shows in the
contracts as stale files, and TYPE-CONTRACTS.ts's change is classified breaking or additive.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example warehouse with its committed docs/data."""
    for part in ("migrations", "models", "checks", "seeds", "docs"):
        shutil.copytree(REPO / part, tmp_path / part)
    shutil.copy2(REPO / "setup.cfg", tmp_path / "setup.cfg")
    return tmp_path


def _check(weir: Callable[..., Result], project: Path, dsn: str) -> tuple[int, set[str], list[str]]:
    """Return the exit code, the names of the stale files, and the indented lines that classify a change."""
    result = weir("--project", str(project), "docs", "--scratch-server", dsn, "--check")
    stale = {Path(line.removesuffix(": not current")).name for line in result.stdout.splitlines()
             if line.endswith(": not current")}
    return result.exit_code, stale, [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]


def test_a_renamed_model_column_is_a_breaking_change(example: Path, dsn: str, weir) -> None:
    model = example / "models/marts/dim_product.sql"
    model.write_text(model.read_text().replace("p.category,", "p.category AS product_category,"))
    code, stale, changes = _check(weir, example, dsn)
    assert code == 1
    assert {"TYPE-CONTRACTS.ts", "contracts.py"} <= stale
    assert changes == ["1 breaking, 0 additive change(s) to the contracts",
                           "breaking: MartsDimProduct.category renamed to productCategory"]


def test_a_new_model_column_is_an_additive_change(example: Path, dsn: str, weir) -> None:
    model = example / "models/marts/dim_product.sql"
    model.write_text(model.read_text().replace("p.category,", "p.category,\n    p.sku AS sku_again, -- Again.\n"))
    code, stale, changes = _check(weir, example, dsn)
    assert code == 1
    assert {"TYPE-CONTRACTS.ts", "contracts.py"} <= stale
    assert changes == ["0 breaking, 3 additive change(s) to the contracts",
                       "additive: MartsDimProduct.skuAgain added (nullable field: string | null)",
                       "additive: CreateMartsDimProductDTO.skuAgain added (optional)",
                       "additive: UpdateMartsDimProductDTO.skuAgain added (optional)"]
