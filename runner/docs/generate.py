"""Every docs file, as text, from the project and a DocsSource: the same input always gives the same bytes."""

from __future__ import annotations

from runner.docs import data_model, erd, lineage_doc, pipelines, quality, runbook, schema_sql, warehouse
from runner.docs.context import DocsContext
from runner.docs.contracts_seam import contract_files
from runner.docs.source import DocsSource
from runner.project import Project


def generate(project: Project, source: DocsSource) -> dict[str, str]:
    """Return each file of the docs directory (name -> text), sorted by name."""
    from runner.build.graph import ModelGraph

    ctx = DocsContext(project, source)
    ordered = ModelGraph(project.models).in_order()
    files = {
        "DATA-MODEL.md": data_model.render(ctx),
        "ERD.md": erd.render(ctx),
        "WAREHOUSE-SCHEMA.md": warehouse.render(ctx),
        "LINEAGE.md": lineage_doc.render(ctx),
        "PIPELINES.md": pipelines.render(ctx),
        "DATA-QUALITY.md": quality.render(ctx),
        "RUNBOOK.md": runbook.render(ctx),
        "SCHEMA.sql": schema_sql.render(source.catalog.relations, {m.qualified: m.sql for m in ordered}),
        **contract_files(source.catalog),
    }
    return dict(sorted(files.items()))
