"""Project.load: the settings, and each kind of file read once, on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ProjectFileError
from runner.project import Project

MIGRATION = "CREATE TABLE t (id bigint);\n"
MODEL = "-- weir: kind=table, unique_key=id\nSELECT 1 AS id\n"
GATE = "-- weir: gate=marts.m\nSELECT id FROM marts.m WHERE id IS NULL\n"


def write(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (path relative to `root` -> text) and return `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def a_project(root: Path) -> Project:
    """A project with one migration, one model and one check gating it."""
    return Project.load(write(root, {
        "setup.cfg": "[weir]\nlock_timeout = 2s\n",
        "migrations/0001_t.sql": MIGRATION,
        "migrations/0001_t.rollback.sql": "DROP TABLE t;\n",
        "models/marts/m.sql": MODEL,
        "checks/m_has_ids.sql": GATE,
    }))


def test_load_finds_the_root_and_reads_its_settings(tmp_path: Path) -> None:
    project = a_project(tmp_path)
    assert project.root == tmp_path.resolve()
    assert project.settings.lock_timeout == "2s"


def test_each_kind_is_read_once_and_kept(tmp_path: Path) -> None:
    project = a_project(tmp_path)
    migrations, models, checks, gates = project.migrations, project.models, project.checks, project.gates
    assert [migration.id for migration in migrations] == ["0001_t"]
    assert [model.qualified for model in models] == ["marts.m"]
    assert [check.name for check in checks] == ["m_has_ids"]
    # Files edited after the first read are not read again: the project is one reading.
    write(tmp_path, {"models/marts/other.sql": "SELECT 2 AS id\n", "checks/another.sql": "SELECT 1 WHERE false\n"})
    assert project.migrations is migrations
    assert project.models is models
    assert project.checks is checks
    assert project.gates is gates
    assert gates["marts.m"][0] is checks[0]  # the gates are the checks already read
    assert [model.qualified for model in Project.load(tmp_path).models] == ["marts.m", "marts.other"]


def test_a_project_without_models_or_checks_has_none(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, {"setup.cfg": "[weir]\n"}))
    assert (project.models, project.checks, project.gates) == ([], [], {})


def test_a_missing_migrations_directory_is_named(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, {"setup.cfg": "[weir]\nmigrations = db/migrations\n"}))
    with pytest.raises(ProjectFileError, match=r"^db/migrations: no migrations directory; create it"):
        project.migrations  # noqa: B018  (reading is the point)


@pytest.mark.parametrize(("files", "message"), [
    ({"models/marts/m.sql": "-- weir: kind=table\n-- weir: unique_key=\"a,b\"\nSELECT 1 AS a, 2 AS b\n"},
     "models/marts/m.sql:2: unique_key 'a,b' has a comma; separate columns with spaces"),
    ({"models/marts/m.sql": "SELECT 1 AS id;\nSELECT 2 AS id;\n"},
     "models/marts/m.sql:2: a second statement; a model file holds exactly one SELECT"),
    ({"checks/c.sql": "-- weir: severity=warn\n-- weir: colour=red\nSELECT 1\n"},
     "checks/c.sql:2: unknown directive 'colour'"),
], ids=["model-header", "model-sql", "check-header"])
def test_a_bad_file_raises_project_file_error_at_its_path_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    project = Project.load(write(tmp_path, {"setup.cfg": "[weir]\n", **files}))
    with pytest.raises(ProjectFileError) as raised:
        project.models  # noqa: B018  (reading is the point)
        project.checks  # noqa: B018
    assert str(raised.value).startswith(message)


def test_a_gate_naming_no_model_is_refused_when_the_gates_are_read(tmp_path: Path) -> None:
    project = Project.load(write(tmp_path, {"setup.cfg": "[weir]\n", "checks/g.sql": GATE}))
    assert [check.name for check in project.checks] == ["g"]
    with pytest.raises(ProjectFileError, match=r"^checks/g\.sql:1: gate=marts\.m names no model"):
        project.gates  # noqa: B018  (reading is the point)
