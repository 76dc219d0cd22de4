"""Weir's own schema, `weir`: installing the SQL files that create its tables and functions, and upgrading them.

Each concern owns one part, a file under runner/state/sql/ (migration_state, build_state,
model_state, check_state, gates, ...), installed on first use through `install`. A part
that changes later gets an upgrade file, runner/state/sql/upgrade/<part>.<n>.sql, which brings
it from version n - 1 to n; the file creating it is version 1. weir.state_version records
each installed part's version, so a newer Weir upgrades a database in place, in one
transaction, and an older Weir refuses state it does not know rather than misread it.

A part installed before weir.state_version existed has no row there and counts as version 1.
Nothing is written while a part is current, so a role without CREATE can still read state.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from psycopg import sql

from runner.db.statements import one_row
from runner.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

# Serialises creation of the weir schema and its objects between concurrent first runs.
STATE_SCHEMA_LOCK = 0x7765_6972_0000  # "weir" + 0

_VERSION_TABLE = """
CREATE SCHEMA IF NOT EXISTS weir;
CREATE TABLE IF NOT EXISTS weir.state_version (
    part text PRIMARY KEY,
    version integer NOT NULL CHECK (version > 0),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE weir.state_version IS
    'Version of each part of the weir schema (runner/state/sql/<part>.sql plus its upgrades); absent means 1';
"""
# From pg_class rather than to_regclass(), whose catalog cache can lag behind a concurrent
# first run that committed while this one waited for the lock.
_VERSIONED = (
    "EXISTS (SELECT FROM pg_class WHERE relname = 'state_version' AND relnamespace::regnamespace::text = 'weir')"
)
_RECORD_VERSION = """
INSERT INTO weir.state_version (part, version) VALUES (%(part)s, %(version)s)
ON CONFLICT (part) DO UPDATE SET version = excluded.version, changed_at = excluded.changed_at
"""


class StateTooNew(ConfigError):
    """The weir schema was upgraded by a newer Weir than this one."""


def sql_file(name: str) -> str:
    """Return the text of one of the package's SQL files, e.g. 'migration_state' or 'upgrade/build_state.2'."""
    return resources.files("runner.state").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


@cache
def known_version(part: str) -> int:
    """Return the version of `part` this Weir installs: its newest upgrade file's number, else 1."""
    upgrades = resources.files("runner.state").joinpath("sql", "upgrade")
    pattern = re.compile(rf"{re.escape(part)}\.(\d+)\.sql")
    numbers = [int(found.group(1)) for entry in (upgrades.iterdir() if upgrades.is_dir() else ())
               if (found := pattern.fullmatch(entry.name))]
    return max([1, *numbers])


def install(conn: psycopg.Connection, name: str, present: str) -> bool:
    """Install part `name` unless the query `present` says its objects exist, then upgrade it; True if anything ran.

    Runs in a transaction (a savepoint inside the caller's) under STATE_SCHEMA_LOCK, and
    reads the state again once it holds the lock, so two first runs never both create.
    Raises StateTooNew when the database holds a newer version than this Weir knows.
    """
    target = known_version(name)
    if _installed_version(conn, name, present) == target:
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (STATE_SCHEMA_LOCK,))
        version = _installed_version(conn, name, present)
        if version == target:
            return False
        if version is None:
            conn.execute(sql_file(name))
            version = 1
        for step in range(version + 1, target + 1):
            conn.execute(sql_file(f"upgrade/{name}.{step}"))
        conn.execute(_VERSION_TABLE)
        conn.execute(_RECORD_VERSION, {"part": name, "version": target})
    return True


def _installed_version(conn: psycopg.Connection, name: str, present: str) -> int | None:
    """Return the installed version of part `name` (None when it is not installed); refuse a newer one."""
    query = sql.SQL("SELECT ({}), {}").format(sql.SQL(present), sql.SQL(_VERSIONED))
    installed, versioned = one_row(conn.execute(query))
    if not installed:
        return None
    version = 1
    if versioned:
        row = conn.execute("SELECT version FROM weir.state_version WHERE part = %s", (name,)).fetchone()
        version = row[0] if row else 1
    if version > known_version(name):
        raise StateTooNew(
            f"the weir schema's {name} is at version {version}, newer than this Weir knows"
            f" ({known_version(name)}): a newer Weir upgraded this database; upgrade Weir"
            " (pip install --upgrade weir) before running it here"
        )
    return version
