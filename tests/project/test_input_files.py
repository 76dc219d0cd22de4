"""Every file Weir reads: UTF-8 or a one-line error, a BOM dropped, headers read strictly, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError, MissingRollback, ProjectFileError, ProjectProblems
from runner.project.checks import read_checks
from runner.project.migrations import read_migrations
from runner.project.models import read_models
from runner.project.settings import load_settings

BOM = b"\xef\xbb\xbf"
LATIN_1 = "-- café\nSELECT 1;\n".encode("latin-1")  # é is byte 0xe9 at offset 6


@pytest.mark.parametrize(
    ("files", "read", "message"),
    [
        ({"migrations/0001_m.sql": LATIN_1, "migrations/0001_m.rollback.sql": "SELECT 1;\n"}, "migrations",
         "migrations/0001_m.sql:1: not UTF-8 text (invalid continuation byte at byte 6); save it as UTF-8"),
        ({"migrations/0001_m.sql": "SELECT 1;\n", "migrations/0001_m.rollback.sql": b"SELECT 1;\n\xff\n"},
         "migrations", "migrations/0001_m.rollback.sql:2: not UTF-8 text (invalid start byte at byte 10);"
         " save it as UTF-8"),
        ({"models/marts/m.sql": LATIN_1}, "models",
         "models/marts/m.sql:1: not UTF-8 text (invalid continuation byte at byte 6); save it as UTF-8"),
        ({"checks/c.sql": LATIN_1}, "checks",
         "checks/c.sql:1: not UTF-8 text (invalid continuation byte at byte 6); save it as UTF-8"),
    ],
)
def test_a_file_that_is_not_utf8_is_one_line_naming_the_byte(tmp_path, write_files, files, read, message):
    write_files(tmp_path, files)
    readers = {"migrations": read_migrations, "models": read_models, "checks": read_checks}
    with pytest.raises(ProjectFileError) as error:
        readers[read](tmp_path / read, tmp_path)
    assert str(error.value) == message


def test_a_bom_is_dropped_and_does_not_change_the_checksum(tmp_path, write_files):
    forward = "-- weir: lock_timeout=2s\nCREATE TABLE t (id int);\n"
    write_files(tmp_path, {"a/migrations/0001_m.sql": BOM + forward.encode(), "a/migrations/0001_m.rollback.sql": "",
                           "b/migrations/0001_m.sql": forward, "b/migrations/0001_m.rollback.sql": "",
                           "a/models/marts/m.sql": BOM + b"-- weir: kind=table\nSELECT 1 AS id\n",
                           "a/checks/c.sql": BOM + b"-- weir: severity=warn\nSELECT 1 WHERE false\n"})
    (with_bom,) = read_migrations(tmp_path / "a" / "migrations", tmp_path / "a")
    (without,) = read_migrations(tmp_path / "b" / "migrations", tmp_path / "b")
    assert with_bom.checksum == without.checksum
    assert with_bom.setting("lock_timeout", "5s") == "2s"
    assert [statement.text for statement in with_bom.forward.statements] == ["CREATE TABLE t (id int)"]
    assert read_models(tmp_path / "a" / "models", tmp_path / "a")[0].kind == "table"
    assert read_checks(tmp_path / "a" / "checks", tmp_path / "a")[0].severity == "warn"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('-- weir: kind=table, description="never closed\n',
         "models/marts/m.sql:1: unclosed or misplaced quote near 'description=\"never closed';"
         ' quote a whole value and close it: key="value, with commas"'),
        ('-- weir: kind=table\n-- weir: description="closed" and more\n',
         "models/marts/m.sql:2: unclosed or misplaced quote near 'description=\"closed\" and more';"
         ' quote a whole value and close it: key="value, with commas"'),
        ('-- weir: kind=table, description=half"quoted"\n',
         "models/marts/m.sql:1: unclosed or misplaced quote near 'description=half\"quoted\"';"
         ' quote a whole value and close it: key="value, with commas"'),
    ],
)
def test_a_header_quote_must_enclose_a_whole_value(tmp_path, write_files, header, message):
    write_files(tmp_path, {"models/marts/m.sql": header + "SELECT 1 AS id\n"})
    with pytest.raises(ProjectFileError) as error:
        read_models(tmp_path / "models", tmp_path)
    assert str(error.value) == message


def test_every_bad_migration_is_reported_in_one_read_with_a_count(tmp_path, write_files):
    files: dict[str, str | bytes] = {f"migrations/{n}-misnamed.sql": "SELECT 1;\n" for n in range(24)}
    files |= {"migrations/0001_a.sql": "SELECT 1;\n", "migrations/0002_b.sql": "COMMIT;\n",
              "migrations/0002_b.rollback.sql": "", "migrations/0003_orphan.rollback.sql": ""}
    write_files(tmp_path, files)
    with pytest.raises(ProjectProblems) as error:
        read_migrations(tmp_path / "migrations", tmp_path)
    lines = str(error.value).splitlines()
    assert len(lines) == 28 and lines[-1] == "27 problems in the project"
    assert lines[0].startswith("migrations/0003_orphan.rollback.sql: rollback without a migration")
    assert sum("migration names must look like 0001_add_customer_email.sql" in line for line in lines) == 24
    assert any(line.startswith("migrations/0001_a.sql: no rollback file") for line in lines)
    assert any(line.startswith("migrations/0002_b.sql:1: COMMIT is transaction control") for line in lines)
    assert any(isinstance(problem, MissingRollback) for problem in error.value.problems)  # kept as raised


def test_every_bad_model_and_check_is_reported_in_one_read(tmp_path, write_files):
    write_files(tmp_path, {"models/marts/a.sql": "-- weir: kind=nope\nSELECT 1", "models/marts/b.sql": "SELEC 1",
                           "models/stray.sql": "SELECT 1", "models/marts/ok.sql": "SELECT 1 AS id",
                           "checks/a.sql": "DELETE FROM t", "checks/b.sql": "-- weir: show=lots\nSELECT 1"})
    with pytest.raises(ProjectProblems) as models:
        read_models(tmp_path / "models", tmp_path)
    assert [line.split(":")[0] for line in str(models.value).splitlines()] == [
        "models/stray.sql", "models/marts/a.sql", "models/marts/b.sql", "3 problems in the project"
    ]
    with pytest.raises(ProjectProblems) as checks:
        read_checks(tmp_path / "checks", tmp_path)
    assert str(checks.value).splitlines()[-1] == "2 problems in the project"


def test_one_problem_is_one_line_without_a_count(tmp_path, write_files):
    write_files(tmp_path, {"migrations/0001_a.sql": "SELECT 1;\n"})
    with pytest.raises(MissingRollback) as error:
        read_migrations(tmp_path / "migrations", tmp_path)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------------------------------
# setup.cfg


def test_a_setup_cfg_that_is_not_utf8_is_one_line(tmp_path: Path, weir):
    (tmp_path / "setup.cfg").write_bytes(b"[weir]\n# r\xe9sum\xe9\nlock_timeout = 1s\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'setup.cfg'}:2: not UTF-8 text (invalid continuation byte at byte 10); save it as UTF-8"
    )
    result = weir("lint", "--project", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"weir: {error.value}\n"


def test_a_setup_cfg_with_a_bom_is_read(tmp_path: Path, monkeypatch):
    (tmp_path / "setup.cfg").write_bytes(BOM + b"[weir]\nlock_timeout = 250ms\n")
    (tmp_path / "deeper").mkdir()
    monkeypatch.chdir(tmp_path / "deeper")
    settings = load_settings()
    assert (settings.root, settings.lock_timeout) == (tmp_path, "250ms")
