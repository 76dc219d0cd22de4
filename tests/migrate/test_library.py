"""The migrate entry points as a library: each takes a psycopg connection and a Project."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import VerifyFailed
from runner.migrate import migrate, rollback, status, verify
from runner.project import Project


@pytest.fixture
def two_migrations(project: Path, write_migration) -> Project:
    """A project with two migrations: customers, then orders."""
    write_migration(project, "0001_customers", "CREATE TABLE customers (id int);\n", "DROP TABLE customers;\n")
    write_migration(project, "0002_orders", "CREATE TABLE orders (id int);\n", "DROP TABLE orders;\n")
    return Project.load(project)


def test_migrate_status_and_rollback_on_a_connection(db, two_migrations):
    assert [s.state for s in status(db, two_migrations)] == ["pending", "pending"]
    progress = []
    applied = migrate(db, two_migrations, on_progress=progress.append)
    assert [(step.id, step.action) for step in applied] == [("0001_customers", "apply"), ("0002_orders", "apply")]
    assert progress[-1].startswith("applied 0002_orders (")
    assert [s.state for s in status(db, two_migrations)] == ["applied", "applied"]

    would = rollback(db, two_migrations, dry_run=True)
    assert [(step.id, step.changes) for step in would] == [
        ("0002_orders", ["- column public.orders.id", "- table public.orders"])
    ]
    assert [s.state for s in status(db, two_migrations)] == ["applied", "applied"]

    rolled_back = rollback(db, two_migrations, everything=True)
    assert [step.id for step in rolled_back] == ["0002_orders", "0001_customers"]
    assert db.execute("SELECT to_regclass('customers')").fetchone()[0] is None


def test_a_dry_run_migrate_applies_nothing(db, two_migrations):
    would = migrate(db, two_migrations, to="1", dry_run=True)
    assert [(step.id, step.changes) for step in would] == [
        ("0001_customers", ["+ column public.customers.id", "+ table public.customers"])
    ]
    assert [s.state for s in status(db, two_migrations)] == ["pending", "pending"]


def test_verify_on_a_connection_makes_its_own_scratch_database(db, two_migrations):
    report = verify(db, two_migrations)
    assert [(result.id, result.status) for result in report.results] == [
        ("0001_customers", "ok"), ("0002_orders", "ok")
    ]
    (two_migrations.root / "migrations" / "0002_orders.rollback.sql").write_text("SELECT 1;\n")
    with pytest.raises(VerifyFailed, match="0002_orders.sql: rollback does not restore the schema"):
        verify(db, Project.load(two_migrations.root))
    assert db.execute("SELECT to_regclass('customers')").fetchone()[0] is None
