"""`weir migrate`, `rollback` and `status` through the CLI, against a real database."""

from __future__ import annotations

import json

import pytest

CUSTOMERS = "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);\n"
ORDERS = "CREATE TABLE orders (\n    id bigint PRIMARY KEY,\n    customer_id bigint REFERENCES customers\n);\n"


def error_line(result) -> str:
    """The last line weir wrote to stderr: the error, after any progress lines."""
    return result.stderr.strip().splitlines()[-1]


def tables(db) -> list[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def applied_ids(db) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM weir.migration ORDER BY id")]


@pytest.fixture
def two_migrations(project, write_migration):
    """A project with customers then orders, both reversible."""
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    write_migration(project, "0002_orders", ORDERS, "DROP TABLE orders;\n")
    return project


def test_migrate_applies_pending_migrations_in_order_and_records_them(two_migrations, db, dsn, weir):
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert "2 migration(s) applied" in result.stdout
    assert tables(db) == ["customers", "orders"]
    assert applied_ids(db) == ["0001_customers", "0002_orders"]


def test_a_second_migrate_does_nothing(two_migrations, db, dsn, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 0
    assert result.stdout.strip() == "nothing to do: no migration to be applied"
    assert db.execute("SELECT count(*) FROM weir.migration_log WHERE operation = 'apply'").fetchone()[0] == 2


def test_migrate_to_stops_at_the_named_migration(two_migrations, db, dsn, weir):
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn, "--to", "1")
    assert result.exit_code == 0, result.output
    assert tables(db) == ["customers"]


def test_a_failing_migration_stops_the_run_at_the_last_good_one(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    write_migration(
        project,
        "0002_broken",
        "-- adds orders, then fails\nCREATE TABLE orders (id bigint);\nINSERT INTO orders\nSELECT * FROM nowhere;\n",
        "DROP TABLE orders;\n",
    )
    write_migration(project, "0003_later", "CREATE TABLE later (id int);\n", "DROP TABLE later;\n")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    assert error_line(result) == 'weir: migrations/0002_broken.sql:4: relation "nowhere" does not exist'
    assert "Traceback" not in result.output
    assert tables(db) == ["customers"]  # 0002's CREATE TABLE was rolled back with it
    assert applied_ids(db) == ["0001_customers"]
    failure = db.execute("SELECT migration_id, message FROM weir.migration_log WHERE operation = 'failed'").fetchone()
    assert failure[0] == "0002_broken" and "nowhere" in failure[1]


def test_fixing_the_failed_migration_and_rerunning_converges(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    path = write_migration(project, "0002_orders", "CREATE TABLE orders (id bigint REFERENCES nope);\n",
                           "DROP TABLE orders;\n")
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 1
    path.write_text(ORDERS)
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert applied_ids(db) == ["0001_customers", "0002_orders"]


def test_a_syntax_error_is_reported_before_the_database_is_touched(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    write_migration(project, "0002_typo", "CREATE TABLE ok (id int);\n\nCREAT TABLE typo (id int);\n", "")
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert error_line(result) == 'weir: migrations/0002_typo.sql:3: syntax error at or near "CREAT"'
    assert tables(db) == []
    assert db.execute("SELECT to_regnamespace('weir')").fetchone()[0] is None


def test_a_missing_rollback_is_refused_before_the_database_is_touched(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, rollback=None)
    result = weir("migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    assert error_line(result) == (
        "weir: migrations/0001_customers.sql: no rollback file 0001_customers.rollback.sql; write it, or declare"
        ' the migration irreversible with -- weir: irreversible="reason"'
    )
    assert tables(db) == []


def test_an_irreversible_migration_needs_no_rollback_but_cannot_be_rolled_back(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    write_migration(project, "0002_purge", '-- weir: irreversible="deletes test accounts"\nDELETE FROM customers;\n',
                    rollback=None)
    assert weir("migrate", "--project", str(project), "--dsn", dsn).exit_code == 0
    result = weir("rollback", "--project", str(project), "--dsn", dsn, "--all")
    assert result.exit_code == 1
    assert "0002_purge.sql: irreversible (deletes test accounts); nothing was rolled back" in result.stderr
    assert applied_ids(db) == ["0001_customers", "0002_purge"]


def test_an_edited_applied_migration_is_refused_until_accepted(two_migrations, db, dsn, write_migration, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    path = two_migrations / "migrations" / "0001_customers.sql"
    path.write_text(CUSTOMERS + "-- a note added later\n")
    write_migration(two_migrations, "0003_more", "CREATE TABLE more (id int);\n", "DROP TABLE more;\n")
    refused = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert refused.exit_code == 1
    assert "migrations/0001_customers.sql: edited after it was applied" in refused.stderr
    assert "weir migrate --accept-edit 0001_customers" in refused.stderr
    assert "more" not in tables(db)
    accepted = weir("migrate", "--project", str(two_migrations), "--dsn", dsn, "--accept-edit", "0001_customers")
    assert accepted.exit_code == 0, accepted.output
    assert "more" in tables(db)
    assert db.execute("SELECT count(*) FROM weir.migration_log WHERE operation = 'accept-edit'").fetchone()[0] == 1


def test_line_endings_do_not_count_as_an_edit(two_migrations, db, dsn, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    path = two_migrations / "migrations" / "0001_customers.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 0, result.output


def test_status_shows_applied_pending_edited_and_missing_file(project, db, dsn, write_migration, weir):
    write_migration(project, "0001_customers", CUSTOMERS, "DROP TABLE customers;\n")
    write_migration(project, "0002_orders", ORDERS, "DROP TABLE orders;\n")
    write_migration(project, "0003_gone", "CREATE TABLE gone (id int);\n", "DROP TABLE gone;\n")
    weir("migrate", "--project", str(project), "--dsn", dsn, "--to", "3")
    (project / "migrations" / "0002_orders.sql").write_text(ORDERS + "-- edited\n")
    (project / "migrations" / "0003_gone.sql").unlink()
    (project / "migrations" / "0003_gone.rollback.sql").unlink()
    write_migration(project, "0004_next", "CREATE TABLE next (id int);\n", "DROP TABLE next;\n")
    result = weir("status", "--project", str(project), "--dsn", dsn, "--json")
    assert result.exit_code == 0, result.output
    states = {row["id"]: row["state"] for row in json.loads(result.stdout)["results"]["migrations"]}
    assert states == {"0001_customers": "applied", "0002_orders": "edited", "0004_next": "pending",
                      "0003_gone": "missing-file"}
    table = weir("status", "--project", str(project), "--dsn", dsn)
    assert "1 applied, 1 pending, 1 edited, 1 missing-file" in table.stdout


def test_a_missing_applied_file_blocks_migrate(two_migrations, db, dsn, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    (two_migrations / "migrations" / "0002_orders.sql").unlink()
    (two_migrations / "migrations" / "0002_orders.rollback.sql").unlink()
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 1
    assert "0002_orders.sql is applied in the database but missing" in result.stderr


def test_a_pending_migration_numbered_before_an_applied_one_is_refused(two_migrations, db, dsn, write_migration, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    write_migration(two_migrations, "0001_5_between", "CREATE TABLE x (id int);\n", "DROP TABLE x;\n")
    (two_migrations / "migrations" / "0001_5_between.sql").rename(two_migrations / "migrations" / "0000_early.sql")
    (two_migrations / "migrations" / "0001_5_between.rollback.sql").rename(
        two_migrations / "migrations" / "0000_early.rollback.sql")
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 1
    assert "0000_early.sql: pending, but 0002_orders, numbered after it, is already applied" in result.stderr


def test_rollback_steps_to_and_all(project, db, dsn, write_migration, weir):
    for number, name in enumerate(["a", "b", "c", "d"], start=1):
        write_migration(project, f"000{number}_{name}", f"CREATE TABLE {name} (id int);\n", f"DROP TABLE {name};\n")
    weir("migrate", "--project", str(project), "--dsn", dsn)
    assert weir("rollback", "--project", str(project), "--dsn", dsn).exit_code == 0
    assert tables(db) == ["a", "b", "c"]
    assert weir("rollback", "--project", str(project), "--dsn", dsn, "--to", "0001_a").exit_code == 0
    assert tables(db) == ["a"]
    weir("migrate", "--project", str(project), "--dsn", dsn)
    assert weir("rollback", "--project", str(project), "--dsn", dsn, "--steps", "2").exit_code == 0
    assert tables(db) == ["a", "b"]
    assert weir("rollback", "--project", str(project), "--dsn", dsn, "--all").exit_code == 0
    assert tables(db) == []
    assert applied_ids(db) == []


def test_a_failing_rollback_leaves_the_migration_applied(two_migrations, db, dsn, weir):
    weir("migrate", "--project", str(two_migrations), "--dsn", dsn)
    (two_migrations / "migrations" / "0002_orders.rollback.sql").write_text("DROP TABLE orders;\nDROP TABLE nope;\n")
    result = weir("rollback", "--project", str(two_migrations), "--dsn", dsn)
    assert result.exit_code == 1
    assert error_line(result) == 'weir: 0002_orders.rollback.sql:2: table "nope" does not exist'
    assert tables(db) == ["customers", "orders"]
    assert applied_ids(db) == ["0001_customers", "0002_orders"]


def test_rollback_options_are_exclusive(two_migrations, dsn, weir):
    result = weir("rollback", "--project", str(two_migrations), "--dsn", dsn, "--all", "--steps", "2")
    assert result.exit_code == 2
    assert "give one of --steps, --to and --all" in result.output


def test_unknown_target_is_a_usage_error(two_migrations, dsn, weir):
    result = weir("migrate", "--project", str(two_migrations), "--dsn", dsn, "--to", "0009_nope")
    assert result.exit_code == 2
    assert "no migration '0009_nope'" in result.stderr


def test_new_migration_creates_the_next_numbered_pair(two_migrations, weir):
    result = weir("new", "migration", "Add customer e-mail", "--project", str(two_migrations))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created migrations/0003_add_customer_e_mail.sql",
        "created migrations/0003_add_customer_e_mail.rollback.sql",
    ]
    assert (two_migrations / "migrations" / "0003_add_customer_e_mail.rollback.sql").exists()
