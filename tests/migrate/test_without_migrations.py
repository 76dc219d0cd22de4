"""A project of models and checks only: commands work without a migrations/ directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ProjectFileError
from runner.project import Project


@pytest.fixture
def models_only(tmp_path: Path, write_files) -> Path:
    """A project with a model and a check but no migrations/ directory."""
    write_files(tmp_path, {
        "setup.cfg": "[weir]\nlock_timeout = 1s\n",
        "models/marts/numbers.sql": "-- weir: kind=table\nSELECT g AS id FROM generate_series(1, 3) AS g\n",
        "checks/numbers_positive.sql": "SELECT * FROM marts.numbers WHERE id <= 0\n",
    })
    return tmp_path


def test_a_project_without_the_default_migrations_directory_has_no_migrations(models_only: Path) -> None:
    assert Project.load(models_only).migrations == []


def test_a_migrations_directory_named_in_setup_cfg_must_exist(models_only: Path) -> None:
    (models_only / "setup.cfg").write_text("[weir]\nmigrations = db/migrations\n")
    with pytest.raises(ProjectFileError, match=r"^db/migrations: no migrations directory; create it"):
        Project.load(models_only).migrations  # noqa: B018  (reading is the point)


def test_every_command_runs_without_a_migrations_directory(models_only: Path, db, dsn, weir) -> None:
    where = ("--project", str(models_only), "--dsn", dsn)
    migrated = weir("migrate", *where)
    assert (migrated.exit_code, migrated.stdout) == (0, "nothing to do: no migration to be applied\n")
    ran = weir("run", *where)
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines()[-3:] == ["migrate: 0 applied", "build:   1 success", "check:   1 pass"]
    built = weir("build", *where)
    assert built.exit_code == 0, built.output
    checked = weir("check", *where)
    assert checked.exit_code == 0, checked.output
    status = weir("status", *where)
    assert status.exit_code == 0, status.output
    assert "no migrations" in status.stdout.splitlines()
    assert db.execute("SELECT count(*) FROM marts.numbers").fetchone()[0] == 3


def test_applied_migrations_without_their_directory_are_still_refused(
    models_only: Path, db, dsn, weir, write_migration
) -> None:
    (models_only / "migrations").mkdir()
    write_migration(models_only, "0001_t", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
    assert weir("migrate", "--project", str(models_only), "--dsn", dsn).exit_code == 0
    for path in (models_only / "migrations").iterdir():
        path.unlink()
    (models_only / "migrations").rmdir()
    result = weir("migrate", "--project", str(models_only), "--dsn", dsn)
    assert result.exit_code == 1
    assert "0001_t.sql is applied in the database but missing from the migrations directory" in result.output
