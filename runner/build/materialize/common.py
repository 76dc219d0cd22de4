"""What every materialization shares: running a model's SELECT inside Weir's own statements,
reporting PostgreSQL's errors at the model file's line, and checking key columns.

Nothing here pulls a model's rows into Python: statements are set-based, and only counts,
column names and at most five sample keys come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg import sql

from runner.build.materialize.indexes import create_index, index_name
from runner.db.ddl_locks import ACCESS_EXCLUSIVE, SHARE, LockWaitExhausted, with_lock_timeout
from runner.db.ddl_locks import ADVICE as LOCK_ADVICE
from runner.db.errors import detail_and_hint, error_line, primary_message
from runner.db.statements import derived_name, execute
from runner.errors import ModelFailed
from runner.project.indexes import Index, key_index
from runner.project.models import Model, with_since
from runner.project.settings import Timeouts
from runner.state.models import Previous

_SAMPLES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Relation:
    """A relation found in the catalog."""

    oid: int
    kind: str  # pg_class.relkind: r table, v view, m materialized view, p partitioned table, ...


def first_row(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """Return the row of a statement that always returns one (an aggregate, a SELECT without FROM)."""
    row = cursor.fetchone()
    if row is None:
        raise AssertionError("a statement that returns one row returned none")
    return tuple(row)


def join_notes(*notes: str) -> str:
    """Join the notes that are not empty, as the build's table shows them."""
    return "; ".join(note for note in notes if note)


def is_rebuild(model: Model, full_refresh: bool, previous: Previous | None) -> tuple[bool, str]:
    """Say whether a view or table counts as built from scratch, with the note to show."""
    if previous is None:
        return True, ""
    if full_refresh:
        return True, "full refresh"
    if previous.kind != model.kind:
        return True, f"kind changed from {previous.kind}"
    if previous.checksum != model.checksum:
        return True, "SQL changed"
    return False, ""


def directive_line(model: Model, directive: str) -> int:
    """Return the line of a header directive, or the SELECT's line when it is not set."""
    found = model.directives.get(directive)
    return found.line if found is not None else model.sql_line


def select_statement(
    conn: psycopg.Connection[Any],
    model: Model,
    before: sql.Composable,
    after: sql.Composable | None = None,
    since: str | None = None,
) -> tuple[sql.Composed, int]:
    """Return `before` + the model's SELECT + `after`, and the character offset where the SELECT starts.

    With `since`, the SELECT's weir.since() calls for this model are that literal (see project.models.with_since).
    """
    parts = [before, sql.SQL(model.sql if since is None else with_since(model, since))]
    if after is not None:
        parts += [sql.SQL("\n"), after]  # the SELECT may end in a line comment
    return sql.Composed(parts), len(before.as_string(conn))


def run_select(
    conn: psycopg.Connection[Any],
    model: Model,
    before: sql.Composable,
    after: sql.Composable | None = None,
    since: str | None = None,
) -> psycopg.Cursor[Any]:
    """Run `before` + the model's SELECT + `after`; a PostgreSQL error becomes ModelFailed at the file's line."""
    statement, start = select_statement(conn, model, before, after, since)
    try:
        return execute(conn, statement)
    except psycopg.Error as exc:
        raise ModelFailed(failure_message(model, exc, start)) from None


def failure_message(model: Model, exc: Exception, select_start: int | None = None, line: int | None = None) -> str:
    """Return `path:line: PostgreSQL's message (detail) (hint)` for an error while building `model`.

    When the failing statement embedded the model's SELECT at `select_start`, the error
    position is mapped to the line of the file it points at.
    """
    where = line if line is not None else model.sql_line
    if select_start is not None:
        where = error_line(exc, model.sql, where, sent_before=select_start)
    return f"{model.display}:{where}: {primary_message(exc)}{detail_and_hint(exc)}"


def under_lock_timeout(
    conn: psycopg.Connection[Any],
    model: Model,
    timeouts: Timeouts,
    action: Callable[[], T],
    *,
    what: str,
    mode: str = ACCESS_EXCLUSIVE,
) -> T:
    """Run `action`, DDL on the model's live relation, in a savepoint under lock_timeout, retried with backoff.

    A reader holding the relation delays the build, never the readers after it
    (runner.db.ddl_locks). After the last try raises ModelFailed naming the session that held
    the lock; the caller's transaction rolls back, so the previous version stays.
    """
    try:
        return with_lock_timeout(conn, timeouts, [(model.schema, model.name)], action, what=what, mode=mode)
    except LockWaitExhausted as exc:
        raise ModelFailed(
            f"{model.display}:{model.sql_line}: {exc}; {model.qualified} keeps its previous version: {LOCK_ADVICE}"
        ) from None


def find_relation(conn: psycopg.Connection[Any], schema: str, name: str) -> Relation | None:
    """Return the relation `schema.name` (names as stored, not folded), or None."""
    row = execute(
        conn,
        "SELECT c.oid, c.relkind FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return Relation(int(row[0]), str(row[1])) if row else None


def columns_of(conn: psycopg.Connection[Any], relation: sql.Composable) -> list[str]:
    """Return the column names of `relation` (e.g. sql.Identifier('pg_temp', 'weir_batch')) in order."""
    query = sql.SQL(
        "SELECT attname FROM pg_attribute WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum"
    ).format(sql.Literal(relation.as_string(conn)))
    return [row[0] for row in execute(conn, query)]


def index_columns(model: Model) -> list[list[str]]:
    """Return the column lists of the `indexes` directive, one per index: "updated_at; customer_id valid_from"."""
    return [list(index.columns) for index in model.indexes]


def create_indexes(conn: psycopg.Connection[Any], model: Model, table: str, only_missing: bool = False) -> list[str]:
    """Create the model's declared indexes on `model.schema`.`table`, named after `table`; return their names.

    With `only_missing`, an index whose name exists already is left alone (a table kept across
    builds whose header gained an index). A column the SELECT does not return, or an index
    PostgreSQL refuses, raises ModelFailed. The unique index that enforces unique_key is
    created with the key (add_primary_key).
    """
    key = key_index(model.indexes, model.unique_key)
    wanted = [index for index in model.indexes if index is not key]
    if not wanted:
        return []
    relation = sql.Identifier(model.schema, table)
    present = columns_of(conn, relation)
    existing = {row[0] for row in execute(
        conn, "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (model.schema, table)
    )} if only_missing else set()
    created = []
    for index in wanted:
        require_columns(model, present, "indexes", list(index.columns))
        name = index_name(table, index)
        if name in existing:
            continue
        try:
            execute(conn, create_index(index, name, relation))
        except psycopg.errors.LockNotAvailable:
            raise  # under_lock_timeout backs off and tries again
        except psycopg.Error as exc:
            raise ModelFailed(failure_message(model, exc, line=directive_line(model, "indexes"))) from None
        created.append(name)
    return created


def add_missing_indexes(conn: psycopg.Connection[Any], model: Model, timeouts: Timeouts) -> list[str]:
    """Create the indexes the header declares and the kept table lacks; return a note for each.

    CREATE INDEX waits for the table's writers (not its readers), under lock_timeout.
    """
    created = under_lock_timeout(
        conn, model, timeouts, lambda: create_indexes(conn, model, model.name, only_missing=True),
        what=f"index {model.qualified}", mode=SHARE,
    )
    return [f"created index {name}" for name in created]


def analyze(conn: psycopg.Connection[Any], model: Model, table: str, columns: list[str]) -> None:
    """Sample the columns the next build filters and joins on, so its plans fit the table's size.

    A table built from scratch has no statistics until autovacuum comes round, up to a minute
    later; an incremental build planned blind guesses a third of the table for a 1% batch and
    may spend a quarter second JIT-compiling. This is a quick pass over `model.schema`.`table`:
    `columns` (keys, watermark) and the indexed ones only, from 3,000 rows (statistics target 10).
    A column list leaves the table's change counter alone, so autovacuum still runs its full
    ANALYZE later.
    """
    columns = list(dict.fromkeys([*columns, *(column for index in index_columns(model) for column in index)]))
    if not columns:
        return
    previous = first_row(execute(
        conn, "SELECT current_setting('default_statistics_target'), set_config('default_statistics_target', '10', true)"
    ))[0]
    execute(conn, sql.SQL("ANALYZE {} ({})").format(
        sql.Identifier(model.schema, table), sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    ))
    execute(conn, "SELECT set_config('default_statistics_target', %s, true)", (previous,))


def add_primary_key(conn: psycopg.Connection[Any], model: Model, table: str, keys: list[str]) -> None:
    """Make unique_key the primary key of `model.schema`.`table`; NULL or repeated keys raise ModelFailed.

    When `indexes` declares a unique index on exactly the key's columns, that index enforces
    the key instead (the columns are still NOT NULL), and the table has no primary key.
    """
    relation = sql.Identifier(model.schema, table)
    require_columns(model, columns_of(conn, relation), "unique_key", keys)
    declared = key_index(model.indexes, model.unique_key)
    try:
        with conn.transaction():
            if declared is not None:
                _add_key_index(conn, relation, table, keys, declared)
                return
            execute(conn, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                relation,
                sql.Identifier(derived_name(table, "_pkey")),
                sql.SQL(", ").join(sql.Identifier(key) for key in keys),
            ))
    except (psycopg.errors.UniqueViolation, psycopg.errors.NotNullViolation) as exc:
        check_keys(conn, model, relation, keys, "unique_key")
        raise ModelFailed(failure_message(model, exc, line=directive_line(model, "unique_key"))) from None


def _add_key_index(
    conn: psycopg.Connection[Any], relation: sql.Identifier, table: str, keys: list[str], index: Index
) -> None:
    """Enforce unique_key with the header's unique index: one scan checks every key column for NULLs."""
    execute(conn, sql.SQL("ALTER TABLE {} {}").format(relation, sql.SQL(", ").join(
        sql.SQL("ALTER COLUMN {} SET NOT NULL").format(sql.Identifier(key)) for key in keys
    )))
    execute(conn, create_index(index, index_name(table, index), relation))


def require_columns(model: Model, present: list[str], directive: str, wanted: list[str]) -> None:
    """Raise ModelFailed naming the directive's line if a column it lists is not in the SELECT's output."""
    missing = [column for column in wanted if column not in present]
    if missing:
        raise ModelFailed(
            f"{model.display}:{directive_line(model, directive)}: {directive} names column"
            f" {', '.join(missing)}, which the SELECT does not return (it returns {', '.join(present)});"
            f" fix {directive} or the SELECT"
        )


def refuse_columns(model: Model, present: list[str], reserved: list[str], why: str) -> None:
    """Raise ModelFailed if the SELECT returns a column Weir adds itself."""
    clashing = [column for column in reserved if column in present]
    if clashing:
        raise ModelFailed(
            f"{model.display}:{model.sql_line}: the SELECT returns {', '.join(clashing)}, which {why};"
            " rename or drop that column in the SELECT"
        )


def check_keys(
    conn: psycopg.Connection[Any], model: Model, relation: sql.Composable, keys: list[str], directive: str
) -> None:
    """Raise ModelFailed naming sample keys if `keys` are NULL or repeated in `relation`."""
    problem = key_problem(conn, relation, keys)
    if problem:
        raise ModelFailed(f"{model.display}:{directive_line(model, directive)}: {directive} {problem}")


def key_problem(conn: psycopg.Connection[Any], relation: sql.Composable, keys: list[str]) -> str | None:
    """Describe NULL or repeated `keys` in `relation` with up to five samples, or return None."""
    columns = sql.SQL(", ").join(sql.Identifier(key) for key in keys)
    shown = "(" + ", ".join(keys) + ")"
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(key)) for key in keys)
    # One pass answers "is anything wrong?"; the samples below are looked up only when it is.
    # count(DISTINCT) sorts the keys: on a 320,000-row batch that took 58 ms where hashing
    # them in a GROUP BY took 200 ms, with or without the memory to avoid spilling. Of a
    # composite key only the first column is counted: when it alone is unique, so is the key
    # (the GROUP BY below settles the other case exactly). Sorting ROW(a, b) compares records
    # field by field through the generic record comparison: 870 ms for the 370,000-row batch
    # of a partitioned fact keyed on (order_item_id, order_date), where its first column took 120 ms.
    wrong = first_row(execute(
        conn,
        sql.SQL("SELECT count(*) FILTER (WHERE {}) > 0 OR count(*) <> count(DISTINCT {}) FROM {}").format(
            any_null, sql.Identifier(keys[0]), relation
        ),
    ))[0]
    if not wrong:
        return None
    nulls = execute(
        conn,
        sql.SQL(
            "SELECT left(row_to_json(r)::text, 100), count(*) OVER () FROM {} AS r WHERE {} LIMIT {}"
        ).format(relation, any_null, sql.Literal(_SAMPLES)),
    ).fetchall()
    if nulls:
        samples = ", ".join(row[0] for row in nulls)
        return (
            f"{shown} is NULL in {nulls[0][1]} row(s), e.g. {samples};"
            " filter those rows out or choose columns that are never NULL"
        )
    key_text = sql.SQL("{}::text").format(sql.Identifier(keys[0])) if len(keys) == 1 else sql.SQL(
        "ROW({})::text"
    ).format(columns)
    repeated = execute(
        conn,
        sql.SQL(
            "SELECT {}, count(*), count(*) OVER () FROM {} GROUP BY {} HAVING count(*) > 1"
            " ORDER BY count(*) DESC, 1 LIMIT {}"
        ).format(key_text, relation, columns, sql.Literal(_SAMPLES)),
    ).fetchall()
    if repeated:
        samples = ", ".join(f"{row[0]} ({row[1]} rows)" for row in repeated)
        return (
            f"{shown} is not unique: {repeated[0][2]} key(s) appear more than once, e.g. {samples};"
            " make the SELECT return one row per key"
        )
    return None
