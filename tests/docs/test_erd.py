"""ERD diagrams stay within what Mermaid (and so GitHub) will draw, however big the schema."""

from __future__ import annotations

import re
from pathlib import Path

from runner.catalog import Catalog, Column, Constraint, Relation
from runner.docs.context import DocsContext
from runner.docs.erd import DIAGRAM_LIMIT, render
from runner.docs.source import DocsSource
from runner.project import Project


def _table(number: int, columns: int) -> Relation:
    cols = tuple(Column(name=f"column_{n:02}", position=n, type="numeric(12,2)", base_type="numeric",
                        is_array=False, nullable=n > 1, default=None, generated=False, identity=None,
                        comment=f"What column {n} of table {number} means.", enum_values=None)
                 for n in range(1, columns + 1))
    key = Constraint(name=f"t{number:03}_pkey", kind="primary key", columns=("column_01",),
                     definition="PRIMARY KEY (column_01)", references=None, referenced_columns=(),
                     allowed_values=None)
    return Relation(schema="big", name=f"t{number:03}", kind="table", comment=None, columns=cols,
                    constraints=(key,), indexes=(), view_definition=None)


def _diagrams(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", markdown, re.S)


def test_a_small_schema_is_one_diagram_with_every_column(project: Path) -> None:
    catalog = Catalog(tuple(_table(n, 5) for n in range(3)))
    diagrams = _diagrams(render(DocsContext(Project.load(project), DocsSource(catalog))))
    assert len(diagrams) == 1
    assert "numeric_12_2 column_05 \"What column 5 of table 2 means.\"" in diagrams[0]


def test_a_big_schema_shows_keys_only_and_is_split_to_fit(project: Path) -> None:
    catalog = Catalog(tuple(_table(n, 30) for n in range(2000)))
    diagrams = _diagrams(render(DocsContext(Project.load(project), DocsSource(catalog))))
    assert len(diagrams) > 1
    assert all(len(diagram) <= DIAGRAM_LIMIT for diagram in diagrams)
    assert "column_02" not in "".join(diagrams)
    assert sum(diagram.count(" {\n") for diagram in diagrams) == 2000  # every table, in some part


def test_a_lineage_too_big_for_mermaid_becomes_a_list(project: Path) -> None:
    from runner.docs.lineage_doc import render as render_lineage

    for number in range(500):
        path = project / "models" / "staging" / f"m{number:03}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"-- weir: kind=view\nSELECT a.id FROM src.t{number % 7} AS a;\n")
    markdown = render_lineage(DocsContext(Project.load(project), DocsSource(Catalog(()))))
    assert "```mermaid" not in markdown
    assert "- `staging.m499` reads `src.t2`" in markdown
