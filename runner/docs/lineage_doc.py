"""LINEAGE.md: sources -> staging -> marts as a Mermaid flowchart with checks attached, then each column's origins."""

from __future__ import annotations

from typing import Any

from runner.docs.context import DocsContext
from runner.docs.markdown import Raw, code, document, raw_code, table
from runner.docs.mermaid import block, label, node_id
from runner.project import Model


def render(ctx: DocsContext) -> str:
    """Return LINEAGE.md."""
    chart = flowchart(ctx)
    note = ""
    if not _fits(chart):
        chart = flowchart(ctx, with_checks=False)
        note = "\n\nChecks are left out of the diagram, which would be too big for Mermaid with them."
    if not _fits(chart):
        models = "\n".join(f"- `{m.qualified}` reads " + (", ".join(f"`{s}.{n}`" for s, n in sorted(m.relations))
                                                         or "nothing") for m in ctx.project.models)
        flow = f"## Models\n\nToo many models for one Mermaid diagram; what each reads:\n\n{models}"
    else:
        flow = "## Models" + note + "\n\n" + block(chart)
    sections = [flow, _columns(ctx)]
    intro = ("How data flows from the sources (relations no model builds) through the models, with the checks"
             " that read each relation (dashed). Model dependencies are parsed from each SELECT with pglast.")
    return document("Lineage", intro, sections)


# Mermaid's defaults (as on GitHub): 50,000 characters of diagram, 500 edges.
_MAX_TEXT = 45_000
_MAX_EDGES = 450


def _fits(chart: str) -> bool:
    return len(chart) <= _MAX_TEXT and chart.count(" --> ") + chart.count(" -.-> ") <= _MAX_EDGES


def flowchart(ctx: DocsContext, with_checks: bool = True) -> str:
    """Return the Mermaid flowchart of sources, models (grouped by schema) and, unless told not to, checks."""
    models = ctx.project.models
    built = {model.qualified for model in models}
    sources = sorted({f"{schema}.{name}" for model in models for schema, name in model.relations} - built)
    lines = ["flowchart LR"]
    lines += _group("sources", "sources", sources)
    for schema in sorted({model.schema for model in models}):
        lines += _group(f"schema_{schema}", schema, [m.qualified for m in models if m.schema == schema])
    checks = sorted(ctx.project.checks, key=lambda check: check.name) if with_checks else []
    if checks:
        lines.append("    subgraph checks [checks]")
        lines += [f"        {_check_id(check.name)}{{{{\"{label(check.name)}\"}}}}" for check in checks]
        lines.append("    end")
    for model in models:
        for schema, name in sorted(model.relations):
            lines.append(f"    {node_id(f'{schema}.{name}')} --> {node_id(model.qualified)}")
    shown = set(sources) | built
    for relation, on in sorted(ctx.checks_on.items()):
        if relation in shown and with_checks:
            lines += [f"    {node_id(relation)} -.-> {_check_id(check.name)}" for check in on]
    return "\n".join(lines)


def _group(group_id: str, title: str, members: list[str]) -> list[str]:
    if not members:
        return []
    lines = [f"    subgraph {node_id(group_id)} [{title}]"]
    lines += [f"        {node_id(member)}[\"{member}\"]" for member in members]
    lines.append("    end")
    return lines


def _check_id(name: str) -> str:
    return "check__" + node_id(name.replace("/", "."))


def _columns(ctx: DocsContext) -> str:
    lineage = ctx.lineage
    if lineage is None:
        return ("## Columns\n\nColumn lineage needs runner.lineage, which this version of Weir does not have;"
                " the model-level flow above is complete.")
    parts = ["## Columns", "Each column of each model: the columns of the relations it reads that it is"
             " computed from (`from`), the steps on the way (`how`: CTEs, subqueries, joins, functions,"
             " aggregates, window functions, `*`; `copied` when none), and the source columns it comes"
             " from in the end (`sources`, through every model in between). Run"
             " `weir lineage MODEL.COLUMN` for the whole tree."]
    for model in ctx.project.models:
        relation = ctx.source.catalog.relation(model.qualified)
        if relation is None:
            continue
        rows = [(raw_code(column.name), *_origins(lineage, model, column.name)) for column in relation.columns]
        parts.append(f"### {model.qualified}\n\n" + table(("column", "from", "how", "sources"), rows))
    return "\n\n".join(parts)


def _origins(lineage: Any, model: Model, column: str) -> tuple[Raw, str, Raw]:
    try:
        origins = lineage.origins(model.qualified, column)
        sources = lineage.sources(model.qualified, column)
    except Exception:  # a column lineage cannot follow: say so rather than fail the docs
        return Raw(""), "not traced", Raw("")
    if not origins:
        return Raw(""), "added by Weir" if model.kind == "scd2" else "a constant", Raw("")
    read = Raw("<br>".join(code(f"{relation}.{name}")
                           for relation, name in dict.fromkeys((o.relation, o.column) for o in origins)))
    steps = list(dict.fromkeys(step for origin in origins for step in origin.how))
    ends = Raw("<br>".join(code(f"{relation}.{name}") for relation, name in sources))
    return read, ", ".join(steps) or "copied", ends
