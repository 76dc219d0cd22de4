"""An analyst role sees masked views only: PII masked, base tables refused, re-applying changes nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PROJECT = {
    "migrations/0001_people.sql": (
        "CREATE SCHEMA raw;\n"
        "CREATE TABLE raw.people (id int PRIMARY KEY, email text, phone text, full_name text, city text);\n"
        "COMMENT ON COLUMN raw.people.email IS 'PII(email) Login address.';\n"
        "COMMENT ON COLUMN raw.people.phone IS 'PII(phone)';\n"
        "COMMENT ON COLUMN raw.people.full_name IS 'PII';\n"
        "INSERT INTO raw.people VALUES (1, 'jane@example.com', '+1 555-123-4567', 'Jane Doe', 'Oslo');\n"
    ),
    "migrations/0001_people.rollback.sql": "DROP SCHEMA raw CASCADE;\n",
    "models/marts/contacts.sql": '-- weir: kind=table, pii="email:email"\n'
                                 "SELECT id, email, city FROM raw.people",
}


def test_the_analyst_sees_masked_views_and_no_base_table(
    tmp_path: Path, write_files, db: psycopg.Connection, dsn: str, weir, analyst: str
) -> None:
    write_files(tmp_path, PROJECT)
    for command in (("migrate",), ("build",)):
        assert weir(*command, "--project", str(tmp_path), "--dsn", dsn).exit_code == 0
    db.execute(sql.SQL("GRANT SELECT ON raw.people TO {}").format(sql.Identifier(analyst)))  # to be taken back
    applied = weir("grants", "--role", analyst, "--apply", "--project", str(tmp_path), "--dsn", dsn)
    assert applied.exit_code == 0, applied.output
    assert applied.stdout == (f"{analyst} sees 2 masked views (4 PII columns masked)"
                              " and no table or view of the base schemas\n")
    again = weir("grants", "--role", analyst, "--apply", "--project", str(tmp_path), "--dsn", dsn)
    assert again.exit_code == 0, again.output

    db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(analyst)))
    try:
        assert db.execute("SELECT * FROM raw_masked.people").fetchall() == [
            (1, "j***@example.com", "+* ***-***-4567", "[redacted]", "Oslo")]
        assert db.execute("SELECT * FROM marts_masked.contacts").fetchall() == [(1, "j***@example.com", "Oslo")]
        for base in ("raw.people", "marts.contacts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"SELECT * FROM {base}")
    finally:
        db.execute("RESET ROLE")


def test_without_apply_the_statements_are_printed_and_nothing_changes(
    tmp_path: Path, write_files, db: psycopg.Connection, dsn: str, weir, analyst: str
) -> None:
    write_files(tmp_path, PROJECT)
    assert weir("migrate", "--project", str(tmp_path), "--dsn", dsn).exit_code == 0
    shown = weir("grants", "--role", analyst, "--project", str(tmp_path), "--dsn", dsn)
    assert shown.exit_code == 0, shown.output
    assert ('CREATE VIEW "raw_masked"."people" AS SELECT "id", "weir"."mask_email"("email"::text) AS "email",'
            ' "weir"."mask_phone"("phone"::text) AS "phone", "weir"."redact"("full_name") AS "full_name", "city"'
            ' FROM "raw"."people";') in shown.stdout.splitlines()
    assert db.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\\_masked'").fetchone() == (0,)


def test_no_role_anywhere_is_a_usage_error(tmp_path: Path, write_files, weir) -> None:
    write_files(tmp_path, PROJECT)
    refused = weir("grants", "--project", str(tmp_path))
    assert refused.exit_code == 2
    assert refused.stderr == ("weir: no analyst role: pass --role ROLE or set analyst_role"
                              " in setup.cfg's [weir] section\n")
