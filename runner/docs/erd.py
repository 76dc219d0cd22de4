"""ERD.md: Mermaid erDiagrams from the catalog, one per schema and one per fact with its dimensions."""

from __future__ import annotations

from runner.catalog import Relation
from runner.docs.context import DocsContext
from runner.docs.markdown import document
from runner.docs.mermaid import attribute_name, attribute_type, block, label, node_id
from runner.docs.star import Link, is_dimension, is_fact

# Mermaid refuses a diagram longer than its maxTextSize (50,000 characters by default, as on GitHub).
DIAGRAM_LIMIT = 45_000


def render(ctx: DocsContext) -> str:
    """Return ERD.md."""
    catalog = ctx.source.catalog
    sections = []
    for schema in catalog.schemas():
        relations = [r for r in catalog.relations if r.schema == schema]
        sections.append(f"## Schema {schema}\n\n" + "\n\n".join(block(part) for part in fitted(ctx, relations)))
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
        sections.append(title + note + "\n\n" + block(diagram(shown, joined)))
    intro = ("Entity-relationship diagrams (Mermaid `erDiagram`) of every schema, and of each fact with the"
             " dimensions it joins. Relationships are the foreign keys, and a fact's columns named like a"
             " dimension's key. Types are written as one word (`numeric(12,2)` as `numeric_12_2`). A schema too big"
             " for one diagram shows its key columns only, split into parts when still too big.")
    return document("Entity-relationship diagrams", intro, sections)


def fitted(ctx: DocsContext, relations: list[Relation]) -> list[str]:
    """Return erDiagrams of `relations`, each small enough for Mermaid's default maxTextSize.

    A schema too big for one diagram is drawn with its key columns only, and when that is
    still too big, split into several diagrams of consecutive relations.
    """
    def among(chosen: list[Relation]) -> list[Link]:
        names = {relation.qualified for relation in chosen}
        return [link for link in ctx.links if link.child in names and link.parent in names]

    whole = diagram(relations, among(relations))
    if len(whole) <= DIAGRAM_LIMIT:
        return [whole]
    keys_only = diagram(relations, among(relations), keys_only=True)
    if len(keys_only) <= DIAGRAM_LIMIT:
        return [keys_only]
    # Each relation's share: its entity, and every link that touches it (an upper bound of its links in a part).
    links = among(relations)
    parts: list[str] = []
    chunk: list[Relation] = []
    size = len("erDiagram")
    for relation in relations:
        touching = [link for link in links if relation.qualified in (link.child, link.parent)]
        share = len(diagram([relation], touching, keys_only=True))
        if chunk and size + share > DIAGRAM_LIMIT:
            parts.append(diagram(chunk, among(chunk), keys_only=True))
            chunk, size = [], len("erDiagram")
        chunk.append(relation)
        size += share
    parts.append(diagram(chunk, among(chunk), keys_only=True))
    return parts


def diagram(relations: list[Relation], links: list[Link], keys_only: bool = False) -> str:
    """Return the source of one erDiagram of `relations` and the `links` among them."""
    lines = ["erDiagram"]
    for relation in relations:
        attributes = _attributes(relation, links, keys_only)
        if not attributes:
            lines.append(f"    {node_id(relation.qualified)}")
            continue
        lines.append(f"    {node_id(relation.qualified)} {{")
        lines += [f"        {line}" for line in attributes]
        lines.append("    }")
    for link in links:
        parent = "|o" if link.optional else "||"
        child = "o|" if link.one_to_one else "o{"
        text = label(f"{', '.join(link.columns)}")
        lines.append(f"    {node_id(link.parent)} {parent}--{child} {node_id(link.child)} : \"{text}\"")
    return "\n".join(lines)


def _attributes(relation: Relation, links: list[Link], keys_only: bool = False) -> list[str]:
    primary = set(relation.primary_key)
    unique = {column for c in relation.constraints if c.kind == "unique" for column in c.columns}
    foreign = {column for link in links if link.child == relation.qualified for column in link.columns}
    lines = []
    for column in relation.columns:
        keys = [key for key, present in (("PK", column.name in primary), ("FK", column.name in foreign),
                                         ("UK", column.name in unique and column.name not in primary)) if present]
        if keys_only and not keys:
            continue
        line = f"{attribute_type(column.type)} {attribute_name(column.name)}"
        if keys:
            line += " " + ", ".join(keys)
        if column.comment:
            line += f" \"{label(column.comment)}\""
        lines.append(line)
    return lines
