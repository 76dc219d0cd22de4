"""DATA-MODEL.md: every table and view Weir manages, with columns, keys, constraints and relationships."""

from __future__ import annotations

from runner.catalog import Relation
from runner.docs.context import DocsContext
from runner.docs.markdown import anchor, code, document, raw_code, table
from runner.docs.star import Link


def render(ctx: DocsContext) -> str:
    """Return DATA-MODEL.md."""
    catalog = ctx.source.catalog
    links = ctx.links
    index = table(("relation", "kind", "built by", "description"), [
        (raw_code(relation.qualified), relation.kind, ctx.made_by(relation.qualified),
         relation.comment or "") for relation in catalog.relations
    ])
    sections = [f"## Relations\n\n{index}"]
    sections += [_relation(ctx, relation, links) for relation in catalog.relations]
    sections.append(_undocumented(ctx))
    intro = (f"{len(catalog.relations)} relations in {len(catalog.schemas())} schemas, from the migrations and"
             " the models. Descriptions come from COMMENT ON in migrations, each model's `description` header"
             " and the comments beside the columns of its SELECT.")
    return document("Data model", intro, sections)


def _relation(ctx: DocsContext, relation: Relation, links: list[Link]) -> str:
    lines = [f"### {relation.qualified}", ""]
    made = ctx.made_by(relation.qualified)
    lines.append(f"{relation.kind.capitalize()}, {made}." if made else f"{relation.kind.capitalize()}.")
    if relation.comment:
        lines += ["", relation.comment]
    if ctx.source.row_estimates is not None and relation.qualified in ctx.source.row_estimates:
        lines += ["", f"Rows (estimate from the statistics): {ctx.source.row_estimates[relation.qualified]:,}"]
    keys = {column for c in relation.constraints if c.kind == "primary key" for column in c.columns}
    lines += ["", table(("column", "type", "null", "default", "key", "description"), [
        (raw_code(column.name), raw_code(column.type), "yes" if column.nullable else "no",
         raw_code(_default(column.default, column.identity, column.generation_expression)),
         "PK" if column.name in keys else "", column.comment or "")
        for column in relation.columns
    ])]
    constraints = relation.constraints
    if constraints:
        lines += ["", "Constraints:", ""]
        lines += [f"- {code(c.name)} ({c.kind}): {code(c.definition)}" for c in constraints]
    owned = {constraint.name for constraint in relation.constraints}
    indexes = [index for index in relation.indexes if index.name not in owned]
    if indexes:
        lines += ["", "Indexes:", ""]
        lines += [f"- {code(index.definition)}" for index in indexes]
    related = [link for link in links if relation.qualified in (link.child, link.parent)]
    if related:
        lines += ["", "Relationships:", ""]
        for link in related:
            via = "foreign key " + code(link.name) if link.name != "implied" else "key column shared by name"
            lines.append(
                f"- {link.cardinality}: each [{link.child}](#{anchor(link.child)}) row"
                f" {'may point' if link.optional else 'points'} at one [{link.parent}](#{anchor(link.parent)})"
                f" row ({code(', '.join(link.columns))} -> {code(', '.join(link.parent_columns))}, {via})"
            )
    if relation.view_definition is not None and ctx.model(relation.qualified) is None:
        lines += ["", "```sql", relation.view_definition.strip(), "```"]
    return "\n".join(lines)


def _default(default: str | None, identity: str | None, generation: str | None) -> str:
    if identity:
        return f"identity ({identity})"
    if generation:
        return f"generated: {generation}"
    return default or ""


def _undocumented(ctx: DocsContext) -> str:
    missing = ctx.undocumented
    if not missing:
        return "## Undocumented columns\n\nNone: every column has a description."
    rows = [(raw_code(item.relation), raw_code(item.column), item.where) for item in missing]
    return ("## Undocumented columns\n\nDescribe each in the file named (`weir docs --strict` fails while any"
            " is left):\n\n" + table(("relation", "column", "describe it in"), rows))
