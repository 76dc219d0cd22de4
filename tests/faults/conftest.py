"""Fault trials on the example warehouse: databases cloned per trial, content fingerprints, leftovers.

A trial clones a prepared database (CREATE DATABASE ... TEMPLATE: a file copy, far quicker
than migrating and loading again), hurts a real `weir` process in it, re-runs, and compares
the result with an uninterrupted run by fingerprint. `make faults` runs more trials and a
bigger warehouse (WEIR_FAULT_TRIALS, WEIR_FAULT_SCALE) and records each trial for the
README's table (WEIR_FAULT_RECORD; tests/faults/report.py prints it).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.migrate import migrate
from runner.migrate.fingerprint import fingerprint
from runner.project import Project
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parents[2]
KILLED_AT = Path(__file__).with_name("weir_killed_at.py")
# `make faults` sets a bigger warehouse; this one keeps tests/faults within ~60 s of `make test`.
SCALE = int(os.environ.get("WEIR_FAULT_SCALE", "3000"))
# Simulated time (the sample data and its change batches) ends long before this; an instant
# after it was stamped by a build's own clock (a deleted customer's version closed at now()),
# and two runs at different times rightly differ there.
REAL_CLOCK_AFTER = "2025-01-01 00:00:00+00"
# A surrogate key is a number drawn from a sequence: a killed transaction uses some up, so a
# re-run numbers differently. Compare the version it names instead: natural key and valid_from.
SURROGATES = {"customer_key": ("marts", "dim_customer", "customer_id")}

_RELATIONS = """
SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('raw', 'staging', 'marts') AND c.relkind IN ('r', 'p', 'v', 'm')
ORDER BY 1, 2
"""
_COLUMNS = """
SELECT a.attname, a.atttypid = 'timestamptz'::regtype, a.attidentity = 'a'
FROM pg_attribute AS a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_ROWS_DIGEST = ("SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), ''))"
                " FROM (SELECT {}::text AS r FROM {} AS t) AS s")
_WEIR_RECORDS = {
    "weir.migration": "SELECT id, checksum, rollback_checksum, transactional FROM weir.migration ORDER BY id",
    "weir.migration_log":
        "SELECT migration_id, operation, count(*) FROM weir.migration_log GROUP BY 1, 2 ORDER BY 1, 2",
    "weir.model_state": "SELECT model, kind, checksum, watermark FROM weir.model_state ORDER BY model",
    # The last check run that finished: a killed one stays 'running' with part of its results.
    "weir.check_result": """
        SELECT check_name, status, violations FROM weir.check_result
        WHERE run_id = (SELECT max(run_id) FROM weir.check_run WHERE status <> 'running') ORDER BY check_name""",
    "weir.build_run running": "SELECT run_id FROM weir.build_run WHERE status = 'running'",
}
_LEFTOVERS = {
    "advisory locks": "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                      " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    "temporary tables": "SELECT count(*) FROM pg_class WHERE relpersistence = 't'",
    # A table built under its shadow name keeps its identity sequence's name after the swap:
    # owned by the live table, that sequence is no leftover.
    "shadow relations": r"""
        SELECT count(*) FROM pg_class AS c
        WHERE c.relname LIKE '%\_\_weir\_%' AND NOT (c.relkind = 'S' AND EXISTS (
            SELECT FROM pg_depend AS d
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))""",
    "INVALID indexes": "SELECT count(*) FROM pg_index WHERE NOT indisvalid OR NOT indisready",
    "prepared transactions": "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()",
}
_OTHER_SESSIONS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


@dataclass
class Databases:
    """Databases made on the test server for one test, dropped when it ends."""

    admin: psycopg.Connection[Any]
    base_dsn: str
    prefix: str
    made: list[str] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def dsn(self, name: str) -> str:
        """Return a connection string for database `name` on the test server."""
        return make_conninfo(self.base_dsn, dbname=name)

    def create(self, template: str | None = None) -> str:
        """Create an empty database, or a copy of database `template`; return its name."""
        name = f"{self.prefix}_{next(self._numbers)}"
        if template is None:
            self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            self.admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        """Drop database `name`, ending any session still in it."""
        self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.made:
            self.made.remove(name)

    def warehouse(self, *, migrated_to: str | None = "", loaded: bool = False, built: bool = False,
                  batches: int = 0) -> str:
        """Make a database of the example warehouse in the given state (migrated_to None: nothing at all)."""
        name = self.create()
        if migrated_to is None:
            return name
        with psycopg.connect(self.dsn(name), autocommit=True) as conn:
            migrate(conn, Project.load(ROOT), to=migrated_to or None)
            if loaded:
                sample_data.load(conn, SCALE)
            if built:
                run_weir(self.dsn(name), "build")
            for batch in range(1, batches + 1):
                sample_data.change_batch(conn, batch)
        return name


@pytest.fixture
def databases(db: psycopg.Connection[Any], dsn: str) -> Iterator[Databases]:
    """Make and clone databases on the test server; every one made is dropped at the end."""
    made = Databases(db, dsn, f"{conninfo_to_dict(dsn)['dbname']}_f")
    yield made
    for name in list(made.made):
        made.drop(name)


def run_weir(dsn: str, *args: str, kill_at: int = 0, mode: str = "before", project: Path = ROOT,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `weir ARGS` on `project` (the example) and database `dsn` as its own process; kill_at > 0 kills it there."""
    command = [sys.executable, str(KILLED_AT), str(kill_at), mode, *args, "--project", str(project), "--dsn", dsn]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def statements_sent(finished: subprocess.CompletedProcess[str]) -> int:
    """Return how many statements an uninterrupted `run_weir` sent (kill points are drawn from 1 to it)."""
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith("weir-statements: "), finished.stderr
    return int(last.split(": ")[1])


@pytest.fixture
def weir_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """weir_process(dsn, *args, kill_at=0, mode="before", project=ROOT) runs weir as a process, killed -9 at kill_at."""
    return run_weir


@pytest.fixture
def count_statements() -> Callable[[subprocess.CompletedProcess[str]], int]:
    """count_statements(finished) says how many statements an uninterrupted weir_process sent."""
    return statements_sent


def content_fingerprint(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Return what a run leaves: rows of every raw, staging and marts relation, the catalog, Weir's records.

    Equal for two databases exactly when a re-run after a fault did what one uninterrupted run
    does; a build's own clock and surrogate key numbers are left out (REAL_CLOCK_AFTER, SURROGATES).
    """
    conn.execute("SET TimeZone = 'UTC'")
    result: dict[str, Any] = {}
    for schema, name in conn.execute(_RELATIONS).fetchall():
        relation = f"{schema}.{name}"
        parts = [_comparable(schema, name, column, is_time, is_identity)
                 for column, is_time, is_identity in conn.execute(_COLUMNS, (relation,)).fetchall()]
        row = sql.SQL("ROW({})").format(sql.SQL(", ").join(part for part in parts if part is not None))
        query = sql.SQL(_ROWS_DIGEST).format(row, sql.Identifier(schema, name))
        result[relation] = tuple(conn.execute(query, {"clock": REAL_CLOCK_AFTER}).fetchone() or ())
    result.update({f"catalog {key}": value for key, value in fingerprint(conn).items()})
    for record, query in _WEIR_RECORDS.items():
        exists = conn.execute("SELECT to_regclass(%s)", (record.split()[0],)).fetchone()
        if exists and exists[0] is not None:
            result[record] = conn.execute(query).fetchall()
    return result


def _comparable(schema: str, name: str, column: str, is_time: bool, is_identity: bool) -> sql.Composable | None:
    """The column as two runs at different times should agree on it; None to leave it out."""
    value = sql.Identifier("t", column)
    if is_identity:
        return None
    if column in SURROGATES and (schema, name) != SURROGATES[column][:2]:
        dim_schema, dim_name, natural_key = SURROGATES[column]
        return sql.SQL(
            "(SELECT ROW(d.{key}, CASE WHEN d.valid_from >= %(clock)s THEN 'build time' ELSE d.valid_from::text END)"
            " FROM {dim} AS d WHERE d.{surrogate} = {value})"
        ).format(key=sql.Identifier(natural_key), dim=sql.Identifier(dim_schema, dim_name),
                 surrogate=sql.Identifier(column), value=value)
    if is_time:
        return sql.SQL("CASE WHEN {0} >= %(clock)s THEN 'build time' ELSE {0}::text END").format(value)
    return value


@pytest.fixture
def content() -> Callable[[psycopg.Connection[Any]], dict[str, Any]]:
    """content(conn) fingerprints a database's rows, catalog and Weir records (see content_fingerprint)."""
    return content_fingerprint


def leftovers_in(conn: psycopg.Connection[Any], seconds: float = 30) -> dict[str, int]:
    """Return what a run that ended should not have left: locks, temp tables, shadow relations, INVALID indexes.

    First waits (up to `seconds`) for the sessions of killed processes to end, as the server
    notices their sockets closed; a session that never ends is itself a leftover.
    """
    deadline = time.monotonic() + seconds
    while (sessions := (conn.execute(_OTHER_SESSIONS).fetchone() or (0,))[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = {"sessions": sessions} if sessions else {}
    for what, query in _LEFTOVERS.items():
        count = (conn.execute(query).fetchone() or (0,))[0]
        if count:
            found[what] = count
    return found


@pytest.fixture
def leftovers() -> Callable[[psycopg.Connection[Any]], dict[str, int]]:
    """leftovers(conn) names what ended runs left behind in the database ({} when nothing)."""
    return leftovers_in


def _record(kind: str, **facts: Any) -> None:
    """Append one trial to WEIR_FAULT_RECORD (JSON lines), when `make faults` asks for a record."""
    path = os.environ.get("WEIR_FAULT_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"kind": kind, **facts}) + "\n")


@pytest.fixture
def record_trial() -> Callable[..., None]:
    """record_trial(kind, **facts) notes one trial for tests/faults/report.py's table."""
    return _record
