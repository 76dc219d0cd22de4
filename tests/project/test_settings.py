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
