"""--project, --dsn and --debug: declared once, accepted before or after the subcommand."""

from __future__ import annotations

import json
from pathlib import Path


def with_one_migration(project: Path) -> Path:
    (project / "migrations" / "0001_t.sql").write_text("CREATE TABLE t (id int);\n")
    (project / "migrations" / "0001_t.rollback.sql").write_text("DROP TABLE t;\n")
    return project


def test_options_before_the_subcommand_work_as_after_it(project: Path, dsn: str, db, weir) -> None:
    with_one_migration(project)
    before = weir("--project", str(project), "--dsn", dsn, "migrate")
    assert before.exit_code == 0, before.output
    assert db.execute("SELECT to_regclass('public.t') IS NOT NULL").fetchone()[0]
    after = weir("status", "--project", str(project), "--dsn", dsn, "--json")
    mixed = weir("--project", str(project), "status", "--dsn", dsn, "--json")
    assert after.exit_code == mixed.exit_code == 0
    assert json.loads(after.stdout)["results"] == json.loads(mixed.stdout)["results"]
    assert '"0001_t"' in after.stdout


def test_the_subcommands_value_wins(project: Path, dsn: str, tmp_path: Path, weir) -> None:
    with_one_migration(project)
    wrong = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = weir("--dsn", wrong, "migrate", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output


def test_debug_before_the_subcommand_shows_the_traceback(tmp_path: Path, weir) -> None:
    (tmp_path / "setup.cfg").write_text("[weir]\nlock_retries = many\n")
    plain = weir("--project", str(tmp_path), "migrate")
    assert plain.exit_code == 2
    assert plain.stderr.startswith("weir: ") and "Traceback" not in plain.stderr
    debugged = weir("--debug", "--project", str(tmp_path), "migrate")
    assert debugged.exception is not None and type(debugged.exception).__name__ == "ConfigError"


def test_an_unknown_option_is_still_a_usage_error(weir) -> None:
    result = weir("--no-such-option", "migrate")
    assert result.exit_code == 2
    assert "No such option '--no-such-option'" in result.stderr


def test_help_lists_the_shared_options(weir) -> None:
    result = weir("--help")
    for option in ("--project DIR", "--dsn DSN", "--debug"):
        assert option in result.stdout
    assert "--dsn DSN" in weir("lint", "--help").stdout
