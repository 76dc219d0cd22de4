"""`weir lint`: Weir's own reading of every file, and squawk on forward migrations, without a database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INDEX_ON_EXISTING_TABLE = "CREATE INDEX accounts_email_idx ON accounts (email);\n"
CONCURRENT_INDEX = "CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n"
ROBUST_CONCURRENT_INDEX = "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email_idx ON accounts (email);\nSELECT 1;\n"


@pytest.fixture
def lint(weir):
    """lint(project, *args) runs `weir lint --project <project> *args`."""

    def lint(project: Path, *args: str):
        return weir("lint", "--project", str(project), *args)

    return lint


def test_the_example_project_lints_clean(lint):
    result = lint(REPO)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert ": 0 refused; squawk read 6 forward migration(s): 0 finding(s)" in result.stderr


EXAMPLE = ("migrations", "models", "checks", "seeds", "unit_tests")


def test_the_example_fails_lint_when_dim_customer_stops_masking_the_email(tmp_path: Path, lint):
    """The example tags raw.customers.email PII (migration 0006); dim_customer masks it: without the mask it leaks."""
    for name in EXAMPLE:
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "setup.cfg", tmp_path / "setup.cfg")
    assert lint(tmp_path).exit_code == 0
    model = tmp_path / "models" / "marts" / "dim_customer.sql"
    text = model.read_text()
    masked = "    weir.mask_email(c.email) AS email"
    assert text.count(masked) == 1
    model.write_text(text.replace(masked, "    c.email"))
    line = text[:text.index(masked)].count("\n") + 1
    result = lint(tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [
        f"models/marts/dim_customer.sql:{line}: column email carries PII unmasked"
        " (raw.customers.email -> staging.stg_customers.email -> marts.dim_customer.email); mask it"
        " (weir.mask_email, weir.mask_phone, weir.redact, weir.pii_hash) or, if marts.dim_customer may hold it,"
        ' declare it: -- weir: pii="email"']
    assert result.stdout in (REPO / "README.md").read_text()  # as the README's PII section shows it


# (forward SQL, transactional, the rules squawk should report at line 2): whether the file runs
# in a transaction, which Weir knows from its header, decides some of them.
SQUAWK_CASES = [
    pytest.param(INDEX_ON_EXISTING_TABLE, True, ["require-concurrent-index-creation"], id="blocking-index"),
    pytest.param(ROBUST_CONCURRENT_INDEX, False, [], id="concurrent-outside-transaction"),
    pytest.param(CONCURRENT_INDEX, False, ["prefer-robust-stmts"], id="concurrent-not-rerunnable"),
    pytest.param("ALTER TABLE accounts ADD COLUMN plan text NOT NULL;\n", True, ["adding-required-field"],
                 id="required-column"),
]


@pytest.mark.parametrize(("statement", "transactional", "rules"), SQUAWK_CASES)
def test_squawk_reports_findings_at_their_line_and_exits_1(
    project, statement, transactional, rules, write_migration, lint
):
    header = "-- Lint case.\n" if transactional else "-- transactional: false\n"
    write_migration(project, "0001_change", header + statement, "SELECT 1;\n")
    result = lint(project)
    assert result.exit_code == (1 if rules else 0), result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split(": ")[1] for line in lines) == sorted(rules)
    assert all(line.startswith("migrations/0001_change.sql:2:") for line in lines)
    assert f"{len(rules)} finding(s)" in result.stderr
    assert ("-- squawk-ignore <rule>" in result.stderr) == bool(rules)


def test_a_concurrent_index_in_a_transactional_file_is_refused_by_weir_itself(project, write_migration, lint):
    write_migration(project, "0001_change", "-- Lint case.\n" + ROBUST_CONCURRENT_INDEX, "SELECT 1;\n")
    result = lint(project)
    assert result.exit_code == 2, result.output
    assert result.stdout == (
        "migrations/0001_change.sql:2: CREATE INDEX CONCURRENTLY cannot run inside a transaction, and this file"
        " runs in one; put `-- transactional: false` at the top of the file to run its statements one by one\n"
    )


def test_every_problem_is_reported_in_one_run_with_a_count(project, write_migration, write_files, lint):
    write_migration(project, "0001_ok", "SELECT 1;\n", "SELECT 1;\n")
    write_files(project, {f"migrations/{number}-misnamed.sql": "SELECT 1;\n" for number in range(24)})
    write_files(project, {"models/marts/a.sql": "-- weir: kind=nope\nSELECT 1", "checks/c.sql": "DELETE FROM x"})
    result = lint(project)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 26 and sum("rename it" in line for line in lines) == 24
    assert lines[-2:] == [
        "models/marts/a.sql:1: unknown kind 'nope'; use one of view, table, incremental, scd2",
        "checks/c.sql:1: a check is one SELECT, this is DELETE FROM; a check only reads:"
        " write a SELECT returning the violating rows",
    ]
    assert "26 problems in the project" in result.stderr


def test_weir_sets_the_timeouts_so_squawk_never_asks_for_them(project, write_migration, lint):
    write_migration(project, "0001_concurrent", "-- transactional: false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS"
                    " accounts_email_idx ON accounts (email);\n", "SELECT 1;\n")
    result = lint(project)
    assert result.exit_code == 0, result.output
    assert "lock-timeout" not in result.output and "statement-timeout" not in result.output


def test_rollback_files_are_not_squawked(project, write_migration, lint):
    write_migration(project, "0001_table", "CREATE TABLE t (id bigint);\n", "DROP TABLE t;\n")
    result = lint(project)
    assert result.exit_code == 0, result.output
    assert "squawk read 1 forward migration(s): 0 finding(s)" in result.stderr


def test_squawk_ignore_comment_lets_one_statement_through(project, write_migration, lint):
    write_migration(project, "0001_index", "-- squawk-ignore require-concurrent-index-creation\n"
                    + INDEX_ON_EXISTING_TABLE + INDEX_ON_EXISTING_TABLE.replace("email", "name"), "SELECT 1;\n")
    result = lint(project)
    assert result.exit_code == 1
    assert result.stdout.startswith("migrations/0001_index.sql:3:1: require-concurrent-index-creation: ")
    assert len(result.stdout.splitlines()) == 1


def test_settings_exclude_rules_and_skip_migrations_up_to_start_after(project, write_migration, lint):
    write_migration(project, "0001_old", INDEX_ON_EXISTING_TABLE, "SELECT 1;\n")
    write_migration(project, "0002_new", "ALTER TABLE accounts ADD COLUMN plan text NOT NULL;\n"
                    + INDEX_ON_EXISTING_TABLE.replace("email", "plan"), "SELECT 1;\n")
    (project / "setup.cfg").write_text("[weir]\nsquawk_start_after = 1\nsquawk_exclude = adding-required-field\n")
    result = lint(project)
    assert result.exit_code == 1
    assert [line.split(": ")[0:2] for line in result.stdout.splitlines()] == [
        ["migrations/0002_new.sql:2:1", "require-concurrent-index-creation"]]
    assert "squawk read 1 forward migration(s)" in result.stderr


def test_paths_limit_squawk_to_the_forward_migrations_named(project, write_migration, lint):
    write_migration(project, "0001_one", INDEX_ON_EXISTING_TABLE, "SELECT 1;\n")
    write_migration(project, "0002_two", INDEX_ON_EXISTING_TABLE.replace("email", "name"), "SELECT 1;\n")
    named = lint(project, str(project / "migrations" / "0002_two.sql"))
    assert named.exit_code == 1
    assert [line.split(":")[0] for line in named.stdout.splitlines()] == ["migrations/0002_two.sql"]
    rollback_only = lint(project, str(project / "migrations" / "0001_one.rollback.sql"))
    assert rollback_only.exit_code == 0, rollback_only.output
    assert "squawk read 0 forward migration(s)" in rollback_only.stderr


REFUSED = "squawk refused its [weir] squawk_* settings: error: invalid value"


@pytest.mark.parametrize(("setting", "named"), [
    ("squawk_exclude = no-such-rule", f"{REFUSED} 'no-such-rule'"),
    ("squawk_pg_version = banana", f"{REFUSED} 'banana'"),
    ("squawk_start_after = first", "[weir] squawk_start_after = 'first' is not a migration number"),
])
def test_a_bad_squawk_setting_is_one_line_and_exit_2(project, setting, named, write_migration, lint):
    write_migration(project, "0001_table", "CREATE TABLE t (id bigint);\n", "DROP TABLE t;\n")
    (project / "setup.cfg").write_text(f"[weir]\n{setting}\n")
    result = lint(project)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"weir: {project / 'setup.cfg'}: {named}")
    assert len(result.stderr.splitlines()) == 1


def test_files_weir_would_refuse_are_named_one_per_kind_and_exit_2(project, write_migration, write_files, lint):
    write_migration(project, "0001_no_rollback", "CREATE TABLE t (id bigint);\n", rollback=None)
    write_files(project, {
        "models/marts/a.sql": "SELECT * FROM marts.b\n",
        "models/marts/b.sql": "SELECT * FROM marts.a\n",
        "checks/bad_header.sql": "-- weir: colour=red\nSELECT 1 WHERE false\n",
    })
    result = lint(project)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("migrations/0001_no_rollback.sql: no rollback file")
    assert lines[1].startswith("models/marts/") and "cycle" in lines[1]
    assert lines[2].startswith("checks/bad_header.sql:1: ")
    assert "3 refused;" in result.stderr


def test_a_model_error_is_found_even_when_only_a_migration_is_named(project, write_migration, write_files, lint):
    write_migration(project, "0001_table", "CREATE TABLE t (id bigint);\n", "DROP TABLE t;\n")
    write_files(project, {"models/marts/a.sql": "-- weir: kind=sometimes\nSELECT 1 AS x\n"})
    result = lint(project, str(project / "migrations" / "0001_table.sql"))
    assert result.exit_code == 2
    assert result.stdout.startswith("models/marts/a.sql:1: ")


def test_findings_come_in_file_order_whether_or_not_a_file_runs_in_a_transaction(project, write_migration, lint):
    write_migration(project, "0001_concurrent", "-- transactional: false\n" + CONCURRENT_INDEX, "SELECT 1;\n")
    write_migration(project, "0002_blocking", INDEX_ON_EXISTING_TABLE, "SELECT 1;\n")
    result = lint(project)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "migrations/0001_concurrent.sql", "migrations/0002_blocking.sql"]


def test_a_gate_naming_no_model_is_refused(project, write_files, lint):
    write_files(project, {
        "models/marts/orders.sql": "SELECT 1 AS order_id\n",
        "checks/gate.sql": "-- weir: gate=marts.ordres\nSELECT * FROM marts.ordres WHERE order_id IS NULL\n",
    })
    result = lint(project)
    assert result.exit_code == 2
    assert result.stdout.startswith("checks/gate.sql:1: gate=marts.ordres names no model")
