"""Weir reads yoyo's migration format and adopts a database that the real yoyo CLI migrated.

What yoyo can read of Weir's work: Weir never adds rows to yoyo's `_yoyo_migration`, so
`yoyo list` shows a migration Weir applied as unapplied; when Weir rolls back a migration
yoyo applied, it deletes that row, so `yoyo list` never shows a rolled-back one as applied.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

YOYO = Path(sys.executable).with_name("yoyo")


def yoyo_uri(db) -> str:
    """A yoyo database URI for the test database (yoyo passes query arguments on to psycopg)."""
    info = db.info
    query = urlencode({"host": info.host, "port": info.port})
    return f"postgresql+psycopg://{info.user}@/{info.dbname}?{query}"


def yoyo(command: str, db, project: Path) -> str:
    """Run the real yoyo CLI on the test database and the project's migrations; return its stdout."""
    done = subprocess.run([str(YOYO), command, "--batch", "--no-config-file", "--database", yoyo_uri(db),
                           str(project / "migrations")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def yoyo_list(db, project: Path) -> dict[str, str]:
    """Return what `yoyo list` says of each migration: 'A' applied or 'U' unapplied."""
    listed = {}
    for line in yoyo("list", db, project).splitlines():
        cells = line.split()
        if len(cells) >= 2 and cells[0] in ("A", "U"):
            listed[cells[1]] = cells[0]
    return listed


@pytest.fixture
def yoyo_migrated(project: Path, db, write_migration) -> Path:
    """A project whose first two migrations the yoyo CLI applied; a third, newer one is pending."""
    write_migration(project, "0001_customers", "CREATE TABLE customers (id int);\n", "DROP TABLE customers;\n")
    write_migration(project, "0002_index", "-- transactional: false\nCREATE INDEX CONCURRENTLY customers_id"
                    " ON customers (id);\n", "DROP INDEX customers_id;\n")
    yoyo("apply", db, project)
    write_migration(project, "0003_orders", "CREATE TABLE orders (id int);\n", "DROP TABLE orders;\n")
    return project


def test_weir_adopts_migrations_applied_by_yoyo_and_applies_only_the_rest(yoyo_migrated: Path, db, dsn, weir):
    status = weir("status", "--project", str(yoyo_migrated), "--dsn", dsn)
    assert "2 applied, 1 pending" in status.stdout

    result = weir("migrate", "--project", str(yoyo_migrated), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 migration(s) applied in ")
    assert "adopted 0001_customers from yoyo's records" in result.stderr
    assert "applied 0001" not in result.stderr and "applied 0002" not in result.stderr
    operations = db.execute("SELECT migration_id, operation FROM weir.migration_log ORDER BY log_id").fetchall()
    assert operations == [("0001_customers", "adopt"), ("0002_index", "adopt"), ("0003_orders", "apply")]
    assert weir("migrate", "--project", str(yoyo_migrated), "--dsn", dsn).stdout.startswith("nothing to do")


def test_yoyo_list_shows_what_yoyo_applied_and_not_what_weir_applied(yoyo_migrated: Path, db, dsn, weir):
    assert yoyo_list(db, yoyo_migrated) == {"0001_customers": "A", "0002_index": "A", "0003_orders": "U"}
    assert weir("migrate", "--project", str(yoyo_migrated), "--dsn", dsn).exit_code == 0
    # Weir keeps its own records; yoyo's table is left as yoyo wrote it.
    assert yoyo_list(db, yoyo_migrated) == {"0001_customers": "A", "0002_index": "A", "0003_orders": "U"}


def test_rolling_back_a_yoyo_migration_removes_it_from_yoyos_records(yoyo_migrated: Path, db, dsn, weir):
    assert weir("migrate", "--project", str(yoyo_migrated), "--dsn", dsn).exit_code == 0
    rolled_back = weir("rollback", "--project", str(yoyo_migrated), "--dsn", dsn, "--to", "1")
    assert rolled_back.exit_code == 0, rolled_back.output
    assert db.execute("SELECT migration_id FROM _yoyo_migration").fetchall() == [("0001_customers",)]
    assert yoyo_list(db, yoyo_migrated) == {"0001_customers": "A", "0002_index": "U", "0003_orders": "U"}
    # What yoyo now lists as unapplied, it can apply again itself.
    yoyo("apply", db, yoyo_migrated)
    assert db.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'customers_id'").fetchone()[0] == 1
