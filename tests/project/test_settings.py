"""Finding the project and reading its [weir] section."""

from __future__ import annotations

import pytest

from runner.errors import ConfigError
from runner.project.settings import DEFAULTS, find_project_root, load_settings


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


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lock_retries = -1", "[weir] lock_retries = '-1' is out of range: from 0 to 100"
         " (retries of a statement that hit lock_timeout)"),
        ("lock_retries = 1000", "[weir] lock_retries = '1000' is out of range: from 0 to 100"),
        ("squawk_start_after = -3", "[weir] squawk_start_after = '-3' is out of range: from 0 to 1000000000"),
        ("lock_timeout = 30d", "[weir] lock_timeout = '30d' is out of range: between 0ms and 2147483647ms"
         " (about 24 days) (0 means no limit); e.g. 5s, 500ms or 30min"),
        ("statement_timeout = -5s", "[weir] statement_timeout = '-5s' is not a duration"),
        ("lock_timout = 1s", "[weir] lock_timout is not a Weir setting; did you mean lock_timeout?"),
        ("colour = blue", "[weir] colour is not a Weir setting; known settings: alert_tries, alert_webhook_env,"),
        ("migrations =", "[weir] migrations is empty; name the directory, e.g. migrations = migrations"),
    ],
)
def test_a_setting_out_of_its_range_or_unknown_is_one_line_naming_the_key(tmp_path, line, message):
    (tmp_path / "setup.cfg").write_text(f"[weir]\n{line}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'setup.cfg'}: {message}")
    assert "\n" not in str(error.value)


def test_the_ends_of_each_range_are_accepted(tmp_path):
    (tmp_path / "setup.cfg").write_text(
        "[weir]\nlock_retries = 0\nlock_wait = 0\nlock_timeout = 2147483647ms\nstatement_timeout = 0\n"
    )
    settings = load_settings(tmp_path)
    assert (settings.lock_retries, settings.lock_wait, settings.lock_timeout) == (0, "0", "2147483647ms")


def test_every_default_written_out_is_known_and_in_its_range(tmp_path):
    (tmp_path / "written").mkdir()
    (tmp_path / "written" / "setup.cfg").write_text(
        "[weir]\n" + "".join(f"{key} = {value}\n" for key, value in DEFAULTS.items())
    )
    written, default = load_settings(tmp_path / "written"), load_settings(tmp_path)
    assert (written.timeouts, written.lock_wait, written.check_timeout) == (
        default.timeouts, default.lock_wait, default.check_timeout
    )
