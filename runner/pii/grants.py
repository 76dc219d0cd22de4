"""Masked views and the GRANTs that let an analyst role see them, and nothing else of the warehouse.

For every relation the project manages (migrations' tables, seeds and models) in the schemas
it names, a view `<schema>_masked.<name>` shows each column as is, except the PII ones (a
source's `PII(...)` COMMENT, a model's `pii` directive), which it shows through their mask.
The analyst role gets USAGE on the masked schemas, SELECT on their views and EXECUTE on the
masks, and loses what it had on the base schemas: a view reads its table with its owner's
rights, so the analyst needs none on the tables. All in one transaction, idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.catalog import Catalog, Relation, read_catalog
from runner.pii import MASKING
from runner.project import Project
from runner.project.pii import source_pii

MASKED_SUFFIX = "_masked"
_MASK_FUNCTIONS = {"email": "mask_email(text)", "phone": "mask_phone(text)", "redact": "redact(anyelement)"}


@dataclass(frozen=True)
class Grants:
    """What `weir grants` does: the masked views, then the privileges, as statements."""

    role: str
    statements: tuple[sql.Composed, ...]
    views: tuple[str, ...]  # the masked views, schema-qualified
    masked: dict[str, tuple[str, ...]]  # relation -> its masked columns


def pii_columns(project: Project) -> dict[str, dict[str, str]]:
    """Return relation -> {column: mask} for every PII column the project declares."""
    declared: dict[str, dict[str, str]] = {}
    for (relation, column), tag in source_pii(project.migrations).items():
        declared.setdefault(relation, {})[column] = tag.mask
    for model in project.models:
        for column, mask in model.pii:
            declared.setdefault(model.qualified, {})[column] = mask
    return declared


def plan_grants(conn: psycopg.Connection[Any], project: Project, role: str) -> Grants:
    """Return the statements that give `role` masked views of every managed relation, and only those."""
    declared = pii_columns(project)
    schemas = sorted({model.schema for model in project.models} | {relation.split(".")[0] for relation in declared}
                     | {seed.schema for seed in project.seeds} | _migration_schemas(project))
    catalog = read_catalog(conn, schemas)
    statements: list[sql.Composed] = []
    for schema in catalog.schemas():
        masked_schema = sql.Identifier(schema + MASKED_SUFFIX)
        statements.append(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(masked_schema))
    for relation in catalog.relations:
        statements += _masked_view(relation, declared.get(relation.qualified, {}))
    statements += _privileges(catalog, role)
    masked = {relation: tuple(sorted(columns)) for relation, columns in sorted(declared.items())}
    views = tuple(f"{relation.schema}{MASKED_SUFFIX}.{relation.name}" for relation in catalog.relations)
    return Grants(role, tuple(statements), views, masked)


def apply_grants(conn: psycopg.Connection[Any], grants: Grants) -> None:
    """Run `grants` in one transaction, the masking functions installed first."""
    MASKING.install(conn)
    with conn.transaction():
        for statement in grants.statements:
            conn.execute(statement)


def _masked_view(relation: Relation, masks: dict[str, str]) -> list[sql.Composed]:
    view = sql.Identifier(relation.schema + MASKED_SUFFIX, relation.name)
    columns: list[sql.Composable] = []
    for column in relation.columns:
        name = sql.Identifier(column.name)
        mask = masks.get(column.name)
        if mask is None:
            columns.append(name)
        else:
            function = sql.Identifier("weir", _MASK_FUNCTIONS[mask].partition("(")[0])
            argument = name if mask == "redact" else sql.SQL("{}::text").format(name)
            columns.append(sql.SQL("{}({}) AS {}").format(function, argument, name))
    # Dropped first: a column newly masked changes type (to text), which CREATE OR REPLACE refuses.
    return [
        sql.SQL("DROP VIEW IF EXISTS {}").format(view),
        sql.SQL("CREATE VIEW {} AS SELECT {} FROM {}").format(
            view, sql.SQL(", ").join(columns), sql.Identifier(relation.schema, relation.name)),
    ]


def _privileges(catalog: Catalog, role: str) -> list[sql.Composed]:
    grantee = sql.Identifier(role)
    statements = []
    for schema in catalog.schemas():
        base, masked = sql.Identifier(schema), sql.Identifier(schema + MASKED_SUFFIX)
        statements += [
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(base, grantee),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(base, grantee),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(masked, grantee),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(masked, grantee),
        ]
    statements.append(sql.SQL("GRANT USAGE ON SCHEMA weir TO {}").format(grantee))
    functions = sql.SQL(", ").join(sql.SQL("weir.{}").format(sql.SQL(signature))
                                   for signature in _MASK_FUNCTIONS.values())
    statements.append(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(functions, grantee))
    return statements


def _migration_schemas(project: Project) -> set[str]:
    """Return the schemas the migrations create, or create tables in."""
    from pglast import parse_sql

    schemas = set()
    for migration in project.migrations:
        for statement in migration.forward.statements:
            if statement.first_word not in (None, "create"):
                continue
            node: Any = parse_sql(statement.text)[0].stmt
            kind = type(node).__name__
            if kind == "CreateSchemaStmt" and node.schemaname:
                schemas.add(node.schemaname)
            elif kind in ("CreateStmt", "CreateTableAsStmt", "ViewStmt"):
                relation = node.relation if kind != "CreateTableAsStmt" else node.into.rel
                if relation.schemaname:
                    schemas.add(relation.schemaname)
    return schemas
