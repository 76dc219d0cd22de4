"""The example warehouse's deterministic sample data: a bulk load and numbered change batches.

All rows are made by set-based SQL in runner/sample/*.sql (generate_series and hashes
of row numbers, never random()), so no row passes through Python and the same inputs
always give byte-identical tables. Simulated time ends at END_AT: the load spans the two
years before it, and change batch k happens on day k after it, later than anything
before it, so watermarks move forward as they would in production.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from runner.db.errors import error_line, primary_message
from runner.db.statements import one_row
from runner.errors import SampleDataError
from runner.project.sqlfile import split_statements

# The last instant of the loaded history; change batches follow it, one simulated day each.
END_AT = "2024-01-01 00:00:00+00"
RAW_TABLES = ("raw.customers", "raw.products", "raw.orders", "raw.order_items")

_STEP = re.compile(r"^--\s*step:\s*(\w+)", re.MULTILINE)
_SET_PARAMETERS = """
SELECT set_config('TimeZone', 'UTC', true),
       set_config('weir_sample.end_at', %(end_at)s, true),
       set_config('weir_sample.scale', %(scale)s, true),
       set_config('weir_sample.batch', %(batch)s, true),
       set_config('weir_sample.fraction', %(fraction)s, true)
"""
_RAW_ROWS = """
SELECT (SELECT count(*) FROM (SELECT FROM raw.customers LIMIT 1) AS c)
     + (SELECT count(*) FROM (SELECT FROM raw.products LIMIT 1) AS p)
     + (SELECT count(*) FROM (SELECT FROM raw.orders LIMIT 1) AS o)
     + (SELECT count(*) FROM (SELECT FROM raw.order_items LIMIT 1) AS i)
"""
# The latest change in raw, and the start of change batch %(batch)s's simulated day.
_LATEST_CHANGE = """
SELECT
    greatest(
        (SELECT max(updated_at) FROM raw.customers), (SELECT max(updated_at) FROM raw.products),
        (SELECT max(updated_at) FROM raw.orders), (SELECT max(updated_at) FROM raw.order_items)
    ),
    %(end_at)s::timestamptz + interval '24 hours' * (%(batch)s - 1)
"""
_TABLE_HASH = """
SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)
FROM {} AS t
"""

Progress = Callable[[str, int, float], None]


@dataclass(frozen=True)
class Step:
    """One statement of a load or change batch: its name, rows affected and seconds."""

    name: str
    rows: int
    seconds: float


def load(conn: psycopg.Connection, scale: int, *, on_step: Progress | None = None) -> list[Step]:
    """Fill an empty raw schema with `scale` order items and proportionate customers, products and orders.

    Customers number scale/50 (at least 20), products scale/100 (10 to 5000), orders
    about scale/3. Runs in one transaction: on any error nothing is loaded.
    """
    if scale < 1:
        raise SampleDataError(f"scale must be at least 1 order item, not {scale}")
    with conn.transaction():
        _set_parameters(conn, scale=scale)
        _require_raw_schema(conn)
        if one_row(conn.execute(_RAW_ROWS))[0]:
            raise SampleDataError(
                "the raw schema already has rows; load sample data into a freshly migrated database"
                " (or add more with change batches)"
            )
        return _run_steps(conn, "load", on_step)


def change_batch(
    conn: psycopg.Connection, batch: int, fraction: float = 0.01, *, on_step: Progress | None = None
) -> list[Step]:
    """Apply change batch number `batch` (1, 2, ...) to loaded raw data, touching about `fraction` of the rows.

    Adds customers and orders with items, re-adds some deleted customers, moves customers
    to new cities, changes prices and order statuses, and deletes customers who never
    ordered. Every change is stamped inside simulated day `batch` after END_AT, so batches
    must be applied in increasing order; a batch at or before the latest change is refused.
    """
    if batch < 1:
        raise SampleDataError(f"change batches are numbered from 1, not {batch}")
    if not 0 < fraction <= 0.5:
        raise SampleDataError(f"fraction must be above 0 and at most 0.5, not {fraction}")
    with conn.transaction():
        _set_parameters(conn, batch=batch, fraction=fraction)
        _require_raw_schema(conn)
        latest, starts = one_row(conn.execute(_LATEST_CHANGE, {"end_at": END_AT, "batch": batch}))
        if latest is None:
            raise SampleDataError("the raw schema is empty; load sample data before applying change batches")
        if latest >= starts:
            raise SampleDataError(
                f"change batch {batch} starts at {starts:%Y-%m-%d %H:%M} UTC but raw data already changed at"
                f" {latest:%Y-%m-%d %H:%M:%S} UTC; apply a later batch number than the last one applied"
            )
        return _run_steps(conn, "batch", on_step)


def content_hash(conn: psycopg.Connection, tables: Iterable[str] = RAW_TABLES) -> str:
    """Return a digest of the rows of `tables` ("schema.name"), equal exactly when their contents are equal.

    Each row's text is hashed and the hashes summed, so row order does not matter and
    nothing but two numbers per table leaves the server.
    """
    parts = []
    with conn.transaction():
        # Timestamps print in the session's time zone; fix it so digests compare anywhere.
        conn.execute("SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true)")
        for table in tables:
            schema, name = table.split(".", 1)
            rows, total = one_row(conn.execute(sql.SQL(_TABLE_HASH).format(sql.Identifier(schema, name))))
            parts.append(f"{table}:{rows}:{total}")
    return "|".join(parts)


def _set_parameters(conn: psycopg.Connection, *, scale: int = 0, batch: int = 0, fraction: float = 0.0) -> None:
    conn.execute(
        _SET_PARAMETERS, {"end_at": END_AT, "scale": str(scale), "batch": str(batch), "fraction": repr(fraction)}
    )


def _require_raw_schema(conn: psycopg.Connection) -> None:
    missing = one_row(conn.execute(
        "SELECT array_agg(t) FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (list(RAW_TABLES),)
    ))[0]
    if missing:
        raise SampleDataError(
            f"{', '.join(missing)} missing; run `weir migrate` to create the example warehouse's raw schema first"
        )


def _run_steps(conn: psycopg.Connection, name: str, on_step: Progress | None) -> list[Step]:
    _run_file(conn, "functions")
    text = _sql_text(name)
    display = f"runner/sample/{name}.sql"
    steps = []
    for statement in split_statements(text, display):
        # The `-- step:` comment above a statement names it.
        found = _STEP.findall(text, 0, statement.offset)
        started = time.perf_counter()
        try:
            cursor = conn.execute(statement.text)
        except psycopg.Error as exc:
            line = error_line(exc, statement.text, statement.line)
            raise SampleDataError(
                f"{display}:{line}: {primary_message(exc)}; nothing was changed"
                " (is the raw schema migrated to the latest version?)"
            ) from None
        step = Step(found[-1] if found else statement.kind, max(cursor.rowcount, 0), time.perf_counter() - started)
        steps.append(step)
        if on_step is not None:
            on_step(step.name, step.rows, step.seconds)
    return steps


def _run_file(conn: psycopg.Connection, name: str) -> None:
    import psycopg

    try:
        conn.execute(_sql_text(name))
    except psycopg.Error as exc:
        message = exc.diag.message_primary or str(exc)
        raise SampleDataError(f"runner/sample/{name}.sql: {message}; nothing was changed") from None


def _sql_text(name: str) -> str:
    return resources.files("runner.sample").joinpath(f"{name}.sql").read_text(encoding="utf-8")
