"""Quarantine: a gate's rows moved out of its model into `<schema>.<name>__rejected`, in the build's transaction.

A gate with `quarantine=true` (table and incremental models) must be `SELECT * FROM <model>
WHERE <bad condition>` (or a library function returning the model's rows, like
weir.not_null(NULL::marts.x, 'col')). Instead of failing the build, the rows it returns are
moved, in the same transaction, to `<schema>.<name>__rejected` (the model's columns plus
rejected_reason, rejected_by_check, rejected_run_id, rejected_at), so every row the model's
SELECT produced is accounted for: loaded, or rejected with a reason. At run time the check's
columns must be the model's, and every row it returns must be a row of the model as built;
otherwise the model fails with a clear message. An explicit error_if on a quarantine gate
(e.g. error_if="> 1000") fails the build instead of quarantining when too many rows are bad:
a broken upstream should stop the build, not empty the table.

What __rejected holds: the rejected rows of the model's current version.
- A model rebuilt whole (every `table` build, an incremental rebuilt from scratch): its
  __rejected is emptied and refilled in the same transaction, so rows(model) + rows(__rejected)
  = rows its SELECT returned.
- An incremental batch: __rejected is keyed on the model's unique_key like the model is. A
  rejected row that comes back in a later batch (the lookback window) replaces its earlier
  rejection instead of being added twice; a key that is loaded now (a fixed version arrived)
  is removed from __rejected. So each key the model has ever seen is in exactly one of the
  model and __rejected. A key whose new version is rejected leaves the model until a good
  version arrives: the model never holds a version its gates refused. The watermark covers
  rejected rows: they were processed, and they are accounted for in __rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runner.checks.query import STORED, STORED_NAME, STORED_SCHEMA, sample_stored, store_violations
from runner.db.ddl_locks import ADVICE as LOCK_ADVICE
from runner.db.ddl_locks import LockWaitExhausted, with_lock_timeout
from runner.db.statements import derived_name, execute, one_row
from runner.project import Check, Model, Timeouts

REJECTED_SUFFIX = "__rejected"
# Columns __rejected adds to the model's, with their types as format_type() shows them.
REJECT_COLUMNS = (
    ("rejected_reason", "text"),
    ("rejected_by_check", "text"),
    ("rejected_run_id", "bigint"),
    ("rejected_at", "timestamp with time zone"),
)

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, NULL)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
# Moves rows of the model equal, column for column, to a row the check returned. With a
# unique key the join is by key (its index), the whole-row comparison only confirms; without
# one, rows are matched as jsonb, which every type has and which hashes. The check's rows
# that matched nothing are counted by comparing distinct rows moved and returned.
_MOVE = """
WITH moved AS (
    DELETE FROM {model} AS m USING {source} AS r
    WHERE {match}
    RETURNING m.*
), stored AS (
    INSERT INTO {rejected} AS j ({columns}, rejected_reason, rejected_by_check, rejected_run_id, rejected_at)
    SELECT {columns}, {reason}, {check}, {run_id}, now() FROM moved
    {conflict}
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored), (SELECT count(DISTINCT to_jsonb(moved.*)) FROM moved)
"""


class CannotQuarantine(Exception):
    """A quarantine gate's rows cannot be moved as they are; its message is the user's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Quarantined:
    """What one quarantine gate found and moved."""

    count: int  # rows the check returned
    moved: int  # rows moved to __rejected
    sample: tuple[str, ...]  # the first `show` rows, each as jsonb text
    status: str  # pass | warn | fail | quarantined
    threshold: str | None


def rejected_table(model: str) -> str:
    """Return "schema.name__rejected" for model "schema.name": where its quarantined rows go."""
    schema, name = model.split(".", 1)
    return f"{schema}.{derived_name(name, REJECTED_SUFFIX)}"


def quarantine(
    conn: psycopg.Connection[Any],
    model: Model,
    check: Check,
    rejected: sql.Identifier,
    keys: list[str],
    run_id: int | None,
) -> Quarantined:
    """Move the rows quarantine gate `check` returns from `model` to `rejected`, unless its error_if says stop."""
    count = store_violations(conn, check)
    model_columns = _typed_columns(conn, model.schema, model.name)
    returned = _typed_columns(conn, STORED_SCHEMA, STORED_NAME)
    if returned != model_columns:
        raise CannotQuarantine(
            f"{check.display}:{check.sql_line}: quarantine=true moves the rows the check returns out of"
            f" {model.qualified}, so they must be its rows as they are, but the check returns"
            f" ({_listed(returned)}) and {model.qualified} has ({_listed(model_columns)});"
            f" write SELECT * FROM {model.qualified} WHERE <bad condition>"
        )
    sample = sample_stored(conn, check).json if count else ()
    status, threshold = quarantine_status(check, count)
    if status == "fail" or not count:
        return Quarantined(count, 0, sample, status, threshold)
    columns = [column for column, _ in model_columns]
    moved, matched = one_row(execute(conn, _move_statement(model, check, rejected, keys, columns, run_id)))
    distinct = one_row(execute(conn, sql.SQL("SELECT count(DISTINCT to_jsonb(r.*)) FROM {} AS r").format(STORED)))[0]
    if matched != distinct:
        raise CannotQuarantine(
            f"{check.display}:{check.sql_line}: quarantine=true: {distinct - matched} of the rows the check"
            f" returned are not rows of {model.qualified} as built (a column computed or changed in the check?);"
            f" return the model's rows unchanged: SELECT * FROM {model.qualified} WHERE <bad condition>"
        )
    return Quarantined(count, int(moved), sample, status if status == "warn" else "quarantined", threshold)


def quarantine_status(check: Check, count: int) -> tuple[str, str | None]:
    """Judge a quarantine gate's count by the thresholds written in its header only.

    Without one, any number of rows is quarantined (the default error_if "> 0" would make
    quarantine pointless); an explicit error_if stops the build instead, warn_if notes.
    """
    if "error_if" in check.directives and check.error_if is not None and check.error_if.matches(count):
        return "fail", f"error_if {check.error_if}"
    warn_if = check.warn_if
    if warn_if is not None and ("warn_if" in check.directives or check.severity == "warn") and warn_if.matches(count):
        return "warn", f"warn_if {warn_if}"
    return "pass", None


def prepare_rejected(
    conn: psycopg.Connection[Any], model: Model, keys: list[str], rebuilt: bool, timeouts: Timeouts
) -> tuple[sql.Identifier, str]:
    """Create `<model>__rejected` if missing (emptied when the model was rebuilt whole); return it and a note.

    Dropping an outdated __rejected waits for its readers under lock_timeout, retried (runner.db.ddl_locks).
    """
    name = derived_name(model.name, REJECTED_SUFFIX)
    rejected = sql.Identifier(model.schema, name)
    shown = f"{model.schema}.{name}"
    model_columns = _typed_columns(conn, model.schema, model.name)
    clashing = [column for column, _ in model_columns if column in dict(REJECT_COLUMNS)]
    if clashing:
        raise CannotQuarantine(
            f"{model.display}:{model.sql_line}: the SELECT returns {', '.join(clashing)}, which {shown} adds"
            " itself for quarantined rows; rename that column in the model"
        )
    present = _typed_columns(conn, model.schema, name)
    note = ""
    if present and present != model_columns + list(REJECT_COLUMNS):
        if not rebuilt:
            raise CannotQuarantine(
                f"{model.display}:{model.sql_line}: {shown} has other columns than {model.qualified} plus"
                f" {', '.join(column for column, _ in REJECT_COLUMNS)}; rebuild the model from scratch"
                f" (weir build --full-refresh --select {model.qualified}) to recreate it"
            )
        try:
            with_lock_timeout(conn, timeouts, [(model.schema, name)], lambda: execute(
                conn, sql.SQL("DROP TABLE {}").format(rejected)
            ), what=f"replace {shown}")
        except LockWaitExhausted as exc:
            raise CannotQuarantine(
                f"{model.display}:{model.sql_line}: {exc}; {model.qualified} keeps its previous version: {LOCK_ADVICE}"
            ) from None
        present, note = [], f"{shown} recreated: the model's columns changed"
    elif present and rebuilt:
        execute(conn, sql.SQL("DELETE FROM {}").format(rejected))
    if not present:
        _create_rejected(conn, model, name, keys)
    return rejected, note


def forget_loaded(conn: psycopg.Connection[Any], rejected: sql.Identifier, keys: list[str], model: Model) -> int:
    """Delete from __rejected the keys the model holds now (a good version arrived); return how many."""
    return max(execute(conn, sql.SQL("DELETE FROM {} AS j USING {} AS m WHERE ({}) = ({})").format(
        rejected,
        _identifier(model),
        sql.SQL(", ").join(sql.SQL("j.{}").format(sql.Identifier(key)) for key in keys),
        sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(key)) for key in keys),
    )).rowcount, 0)


def _create_rejected(conn: psycopg.Connection[Any], model: Model, name: str, keys: list[str]) -> None:
    """Create the model's empty __rejected table `name`: its columns, the reject columns, its unique key."""
    rejected = sql.Identifier(model.schema, name)
    execute(conn, sql.SQL(
        "CREATE TABLE {} AS SELECT m.*, NULL::text AS rejected_reason, NULL::text AS rejected_by_check,"
        " NULL::bigint AS rejected_run_id, NULL::timestamptz AS rejected_at FROM {} AS m WITH NO DATA"
    ).format(rejected, _identifier(model)))
    execute(conn, sql.SQL(
        "ALTER TABLE {} ALTER rejected_reason SET NOT NULL, ALTER rejected_by_check SET NOT NULL,"
        " ALTER rejected_at SET NOT NULL"
    ).format(rejected))
    if keys:
        execute(conn, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
            rejected,
            sql.Identifier(derived_name(name, "_pkey")),
            sql.SQL(", ").join(sql.Identifier(key) for key in keys),
        ))
    execute(conn, sql.SQL("COMMENT ON TABLE {} IS {}").format(rejected, sql.Literal(
        f"Rows of {model.qualified} its quarantine gates rejected (see runner/checks/quarantine.py); with the model,"
        " every row its SELECT produced"
    )))


def _move_statement(
    model: Model, check: Check, rejected: sql.Identifier, keys: list[str], columns: list[str], run_id: int | None
) -> sql.Composed:
    source: sql.Composable
    match: sql.Composable
    conflict: sql.Composable
    if keys:
        source = STORED
        match = sql.SQL("({}) = ({}) AND to_jsonb(m.*) = to_jsonb(r.*)").format(
            sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(key)) for key in keys),
            sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(key)) for key in keys),
        )
        others = [column for column in columns if column not in keys] + [name for name, _ in REJECT_COLUMNS]
        conflict = sql.SQL("ON CONFLICT ({}) DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.Identifier(key) for key in keys),
            sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(column)) for column in others),
        )
    else:
        source = sql.SQL("(SELECT DISTINCT to_jsonb(t.*) AS row FROM {} AS t)").format(STORED)
        match = sql.SQL("to_jsonb(m.*) = r.row")
        conflict = sql.SQL("")
    return sql.SQL(_MOVE).format(
        model=_identifier(model),
        source=source,
        match=match,
        rejected=rejected,
        columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        reason=sql.Literal(check.description or f"returned by {check.display}"),
        check=sql.Literal(check.name),
        run_id=sql.Literal(run_id),
        conflict=conflict,
    )


def _typed_columns(conn: psycopg.Connection[Any], schema: str, name: str) -> list[tuple[str, str]]:
    """Return (name, type) of each column of relation `schema`.`name`, [] when it does not exist."""
    return [(row[0], row[1]) for row in execute(conn, _COLUMNS, (schema, name))]


def _identifier(model: Model) -> sql.Identifier:
    return sql.Identifier(model.schema, model.name)


def _listed(columns: list[tuple[str, str]], shown: int = 8) -> str:
    names = [f"{name} {kind}" for name, kind in columns[:shown]]
    return ", ".join(names) + (f", ... {len(columns) - shown} more" if len(columns) > shown else "")
