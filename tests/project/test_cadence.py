"""A model's schedule and freshness SLA: header directives, setup.cfg defaults, and their errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from runner.errors import ConfigError, ProjectFileError
from runner.project import Project
from runner.project.cadence import parse_sla, schedule_problem
from runner.project.models import read_models
from runner.project.settings import load_settings


def test_schedule_sla_and_sla_column_become_the_models_fields(tmp_path: Path, write_models) -> None:
    models_dir = write_models(tmp_path, {
        "models/marts/a.sql": '-- weir: kind=table, schedule="0  6 * * 1-5", sla=4 hours, sla_column=Loaded_At\n'
                              "SELECT 1 AS id, now() AS loaded_at\n",
        "models/marts/b.sql": "-- weir: schedule=@daily, sla=1 day 30min\nSELECT 1 AS id\n",
        "models/marts/c.sql": "SELECT 1 AS id\n",
    })
    a, b, c = read_models(models_dir, tmp_path)
    assert (a.schedule, a.sla, a.sla_column) == ("0 6 * * 1-5", timedelta(hours=4), "loaded_at")
    assert (b.schedule, b.sla, b.sla_column) == ("@daily", timedelta(days=1, minutes=30), None)
    assert (c.schedule, c.sla, c.sla_column) == (None, None, None)


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ('schedule="0 6 * *"', "models/marts/m.sql:2: schedule '0 6 * *' has 4 fields, not 5"),
        ('schedule="61 * * * *"',
         "models/marts/m.sql:2: schedule '61 * * * *': minute '61' is out of range: from 0 to 59"),
        ('schedule="0 6 * * funday"', "models/marts/m.sql:2: schedule '0 6 * * funday': day of week 'funday' is not"),
        ('schedule="*/0 * * * *"', "has a step of 0"),
        ("schedule=@fortnightly", "models/marts/m.sql:2: schedule '@fortnightly' is not one of @hourly, @daily"),
        ("sla=soon", "models/marts/m.sql:2: sla 'soon' is not an interval; write an interval of seconds to weeks"),
        ("sla=1 month", "models/marts/m.sql:2: sla '1 month' is not an interval"),
        ('sla_column="a b"', "models/marts/m.sql:2: sla_column 'a b' names more than one column"),
    ],
)
def test_a_bad_cadence_directive_names_file_and_line(tmp_path: Path, write_models, header: str, error: str) -> None:
    text = f"-- weir: kind=table\n-- weir: {header}\nSELECT 1 AS id\n"
    models_dir = write_models(tmp_path, {"models/marts/m.sql": text})
    with pytest.raises(ProjectFileError) as raised:
        read_models(models_dir, tmp_path)
    assert error in str(raised.value)
    assert "\n" not in str(raised.value)


def test_cron_expressions_and_intervals_that_are_good() -> None:
    for good in ("* * * * *", "0,30 6-18/2 1 jan-jun mon-fri", "@hourly", "@weekly", "5 4 * * 7"):
        assert schedule_problem(good) is None, good
    assert parse_sla("90s") == timedelta(seconds=90)
    assert parse_sla("2 weeks") == timedelta(weeks=2)
    assert parse_sla("0 hours") is None
    assert parse_sla("4 hours later") is None


def test_setup_cfg_gives_the_default_schedule_and_sla(tmp_path: Path, write_models) -> None:
    (tmp_path / "setup.cfg").write_text("[weir]\nschedule = 0 * * * *\nsla = 2h\n")
    write_models(tmp_path, {
        "models/marts/own.sql": "-- weir: schedule=@daily, sla=1 day\nSELECT 1 AS id\n",
        "models/marts/plain.sql": "SELECT 1 AS id\n",
    })
    own, plain = Project.load(tmp_path).models
    assert (own.schedule, own.sla) == ("@daily", timedelta(days=1))
    assert (plain.schedule, plain.sla) == ("0 * * * *", timedelta(hours=2))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("schedule = daily", "[weir] schedule 'daily' has 1 fields, not 5"),
        ("sla = a while", "[weir] sla = 'a while' is not an interval"),
        ("alert_webhook_env = https://hooks.example/x", "[weir] alert_webhook_env = 'https://hooks.example/x' is not"
         " an environment variable's name"),
        ("on_failure_min_severity = info", "[weir] on_failure_min_severity = 'info' is not warn or error"),
        ("alert_tries = 0", "[weir] alert_tries = '0' is out of range: from 1 to 10"),
    ],
)
def test_bad_cadence_and_alert_settings_name_the_key(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "setup.cfg").write_text(f"[weir]\n{line}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'setup.cfg'}: {message}")
