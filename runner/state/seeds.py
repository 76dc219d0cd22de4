"""What Weir keeps about each loaded seed: `weir.seed_state`, its checksum and the table it made.

A row is written in the transaction that swaps the seed's new table in (runner.build.seeds), so
a crash leaves the previous table and its record together.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from runner.db.statements import execute
from runner.state.schema import install

_PRESENT = "SELECT to_regclass('weir.seed_state') IS NOT NULL"

# A seed counts as loaded when its record's checksum matches and its table is still the one the load made.
_CURRENT = """
SELECT s.seed, s.checksum, s.stamp
FROM weir.seed_state AS s
JOIN unnest(%(seeds)s::text[], %(schemas)s::text[], %(names)s::text[]) AS w (seed, schema, name) USING (seed)
JOIN pg_class AS c ON c.oid = s.relid AND c.relname = w.name
JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = w.schema
"""

_RECORD = """
INSERT INTO weir.seed_state AS s (seed, checksum, stamp, columns, rows_loaded, relid, loaded_at)
VALUES (%(seed)s, %(checksum)s, %(stamp)s, %(columns)s::jsonb, %(rows)s, %(relation)s::regclass, clock_timestamp())
ON CONFLICT (seed) DO UPDATE SET
    checksum = excluded.checksum,
    stamp = excluded.stamp,
    columns = excluded.columns,
    rows_loaded = excluded.rows_loaded,
    relid = excluded.relid,
    loaded_at = excluded.loaded_at
"""


def ensure_seed_state(conn: psycopg.Connection[Any]) -> None:
    """Create weir.seed_state if missing; safe when several sessions start at once."""
    install(conn, "seed_state", _PRESENT)


@dataclass(frozen=True)
class Loaded:
    """What the last load of a seed recorded: the checksum of its files, and their stamp (size, time) then."""

    checksum: str
    stamp: str


def loaded(conn: psycopg.Connection[Any], seeds: Sequence[tuple[str, str]]) -> dict[str, Loaded]:
    """Return the record of each of `seeds` ((schema, name)) whose table is still the one Weir loaded."""
    rows = execute(conn, _CURRENT, {
        "seeds": [f"{schema}.{name}" for schema, name in seeds],
        "schemas": [schema for schema, _ in seeds],
        "names": [name for _, name in seeds],
    }).fetchall()
    return {str(seed): Loaded(str(checksum), str(stamp)) for seed, checksum, stamp in rows}


def restamp(conn: psycopg.Connection[Any], seed: str, stamp: str) -> None:
    """Record a new stamp for `seed` whose files were touched but hold what was loaded (the same checksum)."""
    execute(conn, "UPDATE weir.seed_state SET stamp = %s WHERE seed = %s", (stamp, seed))


def record_load(
    conn: psycopg.Connection[Any], seed: str, relation: str, loaded: Loaded, columns: Sequence[tuple[str, str, str]],
    rows: int,
) -> None:
    """Record that `seed` ("schema.name") loaded `rows` rows into `relation` (quoted), in the caller's transaction."""
    execute(conn, _RECORD, {
        "seed": seed, "checksum": loaded.checksum, "stamp": loaded.stamp,
        "columns": json.dumps([list(column) for column in columns]),
        "rows": rows, "relation": relation,
    })
