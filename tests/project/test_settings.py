"""Finding the project and reading its [weir] section."""

from __future__ import annotations

import pytest

from runner.errors import ConfigError
from runner.project.settings import find_project_root, load_settings


def test_the_nearest_parent_with_a_weir_section_is_the_project(tmp_path):
    (tmp_path / "setup.cfg").write_text("[weir]\nmigrations = db/migrations\n")
    nested = tmp_path / "db" / "migrations" / "deeper"
    nested.mkdir(parents=True)
    (tmp_path / "db" / "setup.cfg").write_text("[metadata]\nname = not-weir\n")
    assert find_project_root(nested) == tmp_path


def test_project_option_overrides_and_settings_are_read(tmp_path):
    (tmp_path / "setup.cfg").write_text("[weir]\nmigrations = db/migrations\nlock_timeout = 250ms\n")
    settings = load_settings(tmp_path)
    assert settings.migrations_dir == tmp_path / "db" / "migrations"
    assert settings.models_dir == tmp_path / "models"
    assert settings.timeouts.lock_timeout == "250ms"
    assert settings.statement_timeout == "30min"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lock_timeout = soon", "[weir] lock_timeout = 'soon' is not a duration"),
        ("lock_retries = many", "[weir] lock_retries = 'many' is not a whole number"),
        ("statement_timeout = 5 parsecs", "[weir] statement_timeout = '5 parsecs' is not a duration"),
        ("lock_wait = forever", "[weir] lock_wait = 'forever' is not a duration"),
        ("check_timeout = soon", "[weir] check_timeout = 'soon' is not a duration; use a number with a unit,"
         " e.g. 30s, 500ms or 5min"),
        ("squawk_start_after = first", "[weir] squawk_start_after = 'first' is not a migration number"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path, line, message):
    (tmp_path / "setup.cfg").write_text(f"[weir]\n{line}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'setup.cfg'}: {message}")


def test_a_missing_project_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        load_settings(tmp_path / "nope")


def test_every_setting_has_a_typed_default(tmp_path):
    settings = load_settings(tmp_path)
    assert (settings.lock_timeout, settings.lock_retries, settings.statement_timeout) == ("5s", 4, "30min")
    assert (settings.lock_wait, settings.check_timeout) == ("5min", "5min")
    assert (settings.squawk_exclude, settings.squawk_start_after, settings.squawk_pg_version) == ((), 0, None)
    assert (settings.models_dir, settings.checks_dir) == (tmp_path / "models", tmp_path / "checks")


def test_settings_are_parsed_into_their_types(tmp_path):
    (tmp_path / "setup.cfg").write_text(
        "[weir]\ncheck_timeout = 30 s\nlock_retries = 2\nsquawk_exclude = a-rule, b-rule\n  c-rule\n"
        "squawk_start_after =\nsquawk_pg_version = 15\n"
    )
    settings = load_settings(tmp_path)
    assert (settings.check_timeout, settings.lock_retries) == ("30s", 2)
    assert settings.squawk_exclude == ("a-rule", "b-rule", "c-rule")
    assert (settings.squawk_start_after, settings.squawk_pg_version) == (0, "15")
