"""ERD.md: Mermaid erDiagrams from the catalog, one per schema and one per fact with its dimensions."""

from __future__ import annotations

from runner.catalog import Relation
from runner.docs.context import DocsContext
from runner.docs.markdown import document
from runner.docs.mermaid import attribute_name, attribute_type, block, label, node_id
from runner.docs.star import Link, is_dimension, is_fact


def render(ctx: DocsContext) -> str:
    """Return ERD.md."""
    catalog = ctx.source.catalog
    sections = []
    for schema in catalog.schemas():
        relations = [r for r in catalog.relations if r.schema == schema]
        names = {r.qualified for r in relations}
        sections.append(f"## Schema {schema}\n\n" + block(diagram(ctx, relations, [
            link for link in ctx.links if link.child in names and link.parent in names])))
    for fact in (m for m in ctx.project.models if is_fact(m)):
        relation = catalog.relation(fact.qualified)
        if relation is None:
            continue
        joined = [link for link in ctx.links if link.child == fact.qualified]
        dimensions = [catalog.relation(link.parent) for link in joined]
        shown = [relation, *sorted({r for r in dimensions if r is not None}, key=lambda r: r.qualified)]
        dims = [m.qualified for m in ctx.project.models if is_dimension(m)]
        title = f"## Fact {fact.qualified} and its dimensions"
        note = "" if joined else (f"\n\nNo dimension key found among its columns (dimensions: {', '.join(dims)}).")
        sections.append(title + note + "\n\n" + block(diagram(ctx, shown, joined)))
    intro = ("Entity-relationship diagrams (Mermaid `erDiagram`) of every schema, and of each fact with the"
             " dimensions it joins. Relationships are the foreign keys, and a fact's columns named like a"
             " dimension's key. Types are written as one word (`numeric(12,2)` as `numeric_12_2`).")
    return document("Entity-relationship diagrams", intro, sections)


def diagram(ctx: DocsContext, relations: list[Relation], links: list[Link]) -> str:
    """Return the source of one erDiagram of `relations` and the `links` among them."""
    lines = ["erDiagram"]
    for relation in relations:
        lines.append(f"    {node_id(relation.qualified)} {{")
        lines += [f"        {line}" for line in _attributes(relation, links)]
        lines.append("    }")
    for link in links:
        parent = "|o" if link.optional else "||"
        child = "o|" if link.one_to_one else "o{"
        text = label(f"{', '.join(link.columns)}")
        lines.append(f"    {node_id(link.parent)} {parent}--{child} {node_id(link.child)} : \"{text}\"")
    return "\n".join(lines)


def _attributes(relation: Relation, links: list[Link]) -> list[str]:
    primary = set(relation.primary_key)
    unique = {column for c in relation.constraints if c.kind == "unique" for column in c.columns}
    foreign = {column for link in links if link.child == relation.qualified for column in link.columns}
    lines = []
    for column in relation.columns:
        keys = [key for key, present in (("PK", column.name in primary), ("FK", column.name in foreign),
                                         ("UK", column.name in unique and column.name not in primary)) if present]
        line = f"{attribute_type(column.type)} {attribute_name(column.name)}"
        if keys:
            line += " " + ", ".join(keys)
        if column.comment:
            line += f" \"{label(column.comment)}\""
        lines.append(line)
    return lines
