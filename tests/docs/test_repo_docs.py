"""The example warehouse's committed docs/data/ is what `weir docs` generates, and editing a model breaks that."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from click.testing import Result

from runner.docs import check_docs, document_throwaway
from runner.project import Project

REPO = Path(__file__).resolve().parents[2]


def _copy_of_the_repo(to: Path) -> Path:
    for part in ("setup.cfg", "migrations", "models", "checks", "seeds", "docs"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, to / part)
        else:
            shutil.copy2(source, to / part)
    return to


def test_the_committed_docs_are_current(db: psycopg.Connection) -> None:
    started = time.perf_counter()
    docs = document_throwaway(db, Project.load(REPO))
    seconds = time.perf_counter() - started
    assert [drift.name for drift in check_docs(REPO / "docs" / "data", docs)] == []
    assert docs.undocumented == ()
    assert seconds < 5, f"weir docs took {seconds:.1f} s on the example warehouse"


def test_editing_a_models_column_makes_check_fail_naming_the_files(
    tmp_path: Path, dsn: str, weir: Callable[..., Result]
) -> None:
    project = _copy_of_the_repo(tmp_path)
    result = weir("--project", str(project), "docs", "--scratch-server", dsn, "--check")
    assert result.exit_code == 0, result.output
    model = project / "models/marts/dim_product.sql"
    model.write_text(model.read_text().replace("p.category,", "p.category AS product_category,"))
    result = weir("--project", str(project), "docs", "--scratch-server", dsn, "--check")
    assert result.exit_code == 1
    out = project / "docs" / "data"
    stale = {line.removesuffix(": not current") for line in result.stdout.splitlines() if line.endswith("current")}
    assert {str(out / name) for name in ("DATA-MODEL.md", "ERD.md", "SCHEMA.sql")} <= stale
    assert str(out / "RUNBOOK.md") not in stale
    assert result.stderr.splitlines()[-1].startswith(f"weir: {len(stale)} file(s) of {out} are not what weir docs")
