"""Weir reads yoyo's migration format and adopts a database that yoyo migrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from click.testing import CliRunner
from conftest import write_migration

from runner.cli import cli


def yoyo_uri(db) -> str:
    """A yoyo database URI for the test database (yoyo passes query arguments on to psycopg)."""
    info = db.info
    query = urlencode({"host": info.host, "port": info.port})
    return f"postgresql+psycopg://{info.user}@/{info.dbname}?{query}"


def test_weir_adopts_migrations_applied_by_yoyo_and_applies_the_rest(project: Path, db, dsn):
    write_migration(project, "0001_customers", "CREATE TABLE customers (id int);\n", "DROP TABLE customers;\n")
    write_migration(project, "0002_index", "-- transactional: false\nCREATE INDEX CONCURRENTLY customers_id"
                    " ON customers (id);\n", "DROP INDEX customers_id;\n")
    yoyo = Path(sys.executable).with_name("yoyo")
    applied = subprocess.run([str(yoyo), "apply", "--batch", "--database", yoyo_uri(db),
                              str(project / "migrations")], capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    write_migration(project, "0003_orders", "CREATE TABLE orders (id int);\n", "DROP TABLE orders;\n")

    status = CliRunner().invoke(cli, ["status", "--project", str(project), "--dsn", dsn], obj={})
    assert "2 applied, 1 pending" in status.stdout

    result = CliRunner().invoke(cli, ["migrate", "--project", str(project), "--dsn", dsn], obj={})
    assert result.exit_code == 0, result.output
    assert "adopted 0001_customers from yoyo's records" in result.stderr
    operations = db.execute("SELECT migration_id, operation FROM weir.migration_log ORDER BY log_id").fetchall()
    assert operations == [("0001_customers", "adopt"), ("0002_index", "adopt"), ("0003_orders", "apply")]

    rolled_back = CliRunner().invoke(cli, ["rollback", "--project", str(project), "--dsn", dsn, "--to", "1"],
                                     obj={})
    assert rolled_back.exit_code == 0, rolled_back.output
    remaining = db.execute("SELECT migration_id FROM _yoyo_migration").fetchall()
    assert remaining == [("0001_customers",)]
