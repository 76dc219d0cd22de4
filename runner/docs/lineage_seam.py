"""The seam to runner.lineage (column lineage), which lands beside `weir docs`.

Until it is there, LINEAGE.md shows model-level lineage only; with it, each column's origins.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from runner.catalog import Catalog
from runner.project import Project


def project_lineage(project: Project, catalog: Catalog) -> Any:
    """Return runner.lineage's Lineage of `project`, with relation columns from `catalog`; None without it."""
    try:
        lineage = importlib.import_module("runner.lineage")
    except ImportError:
        return None
    builder = getattr(lineage, "project_lineage", None)
    if builder is None:
        return None

    def columns_of(qualified: str) -> Sequence[str] | None:
        relation = catalog.relation(qualified)
        return None if relation is None else tuple(column.name for column in relation.columns)

    return builder(project, columns_of)
