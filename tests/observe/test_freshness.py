"""`weir freshness`: each model's lag against its SLA, with the clock moved in the database, not by sleeping."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from psycopg import sql

MODELS = {
    # Measured on its last successful build.
    "models/marts/orders.sql": "-- weir: kind=table, sla=4 hours\nSELECT 1 AS id\n",
    # Measured on its data: loaded_at is two hours old when built.
    "models/marts/loads.sql": "-- weir: kind=table, sla=3 hours, sla_column=loaded_at\n"
                              "SELECT 1 AS id, now() - interval '2 hours' AS loaded_at\n",
    "models/marts/plain.sql": "SELECT 1 AS id\n",
}


def move_clock(db: psycopg.Connection, forward: str) -> None:
    """Set weir.now for every new session of the test's database: time moved, no sleeping."""
    moment = db.execute("SELECT (now() + %s::interval)::text", (forward,)).fetchone()[0]
    statement = sql.SQL("ALTER DATABASE {} SET weir.now = {}")
    db.execute(statement.format(sql.Identifier(db.info.dbname), sql.Literal(moment)))


def test_freshness_is_ok_after_a_build_and_breached_when_time_moves_past_the_sla(
    project: Path, db, dsn, weir, write_models
) -> None:
    write_models(project, MODELS)
    before = weir("freshness", "--project", str(project), "--dsn", dsn)
    assert before.exit_code == 1  # an SLA with nothing built yet is a breach
    assert "2 breaches of 3 models" in before.stdout

    assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
    fresh = weir("freshness", "--project", str(project), "--dsn", dsn)
    assert fresh.exit_code == 0, fresh.output
    rows = {line.split()[0]: line.split()[-1] for line in fresh.stdout.splitlines() if line.startswith("marts.")}
    assert rows == {"marts.loads": "ok", "marts.orders": "ok", "marts.plain": "no-sla"}

    move_clock(db, "90 minutes")  # loads: 3.5 hours behind, past its 3; orders: 1.5 of 4
    later = weir("freshness", "--project", str(project), "--dsn", dsn, "--json")
    assert later.exit_code == 1
    document = json.loads(later.stdout)
    by_model = {entry["model"]: entry for entry in document["results"]["models"]}
    assert (document["status"], document["exit_code"], document["results"]["breaches"]) == ("fail", 1, 1)
    assert by_model["marts.loads"]["status"] == "breach"
    assert by_model["marts.loads"]["measured_on"] == "loaded_at"
    assert 3.4 * 3600 < by_model["marts.loads"]["lag_seconds"] < 3.6 * 3600
    assert by_model["marts.orders"]["status"] == "ok"
    assert by_model["marts.orders"]["sla_seconds"] == 4 * 3600

    move_clock(db, "5 hours")
    selected = weir("freshness", "marts.orders", "--project", str(project), "--dsn", dsn)
    assert selected.exit_code == 1
    assert [line.split()[0] for line in selected.stdout.splitlines() if line.startswith("marts.")] == ["marts.orders"]
    assert selected.stdout.splitlines()[-1] == "1 breach of 1 models"


def test_the_project_default_sla_applies_to_every_model_without_one(project: Path, db, dsn, weir, write_models):
    (project / "setup.cfg").write_text("[weir]\nsla = 1 hour\n")
    write_models(project, {"models/marts/a.sql": "SELECT 1 AS id\n",
                           "models/marts/b.sql": "-- weir: sla=1 day\nSELECT 1 AS id\n"})
    assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
    move_clock(db, "2 hours")
    result = weir("freshness", "--project", str(project), "--dsn", dsn)
    statuses = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines() if line.startswith("marts.")}
    assert (result.exit_code, statuses) == (1, {"marts.a": "breach", "marts.b": "ok"})


def test_freshness_json_is_valid_against_its_shipped_schema(project: Path, db, dsn, weir, write_models) -> None:
    import json as json_module

    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    from runner.reports.envelope import SCHEMAS

    write_models(project, MODELS)
    weir("build", "--project", str(project), "--dsn", dsn)
    document = json_module.loads(weir("freshness", "--project", str(project), "--dsn", dsn, "--json").stdout)
    resources = [(path.name, Resource.from_contents(json_module.loads(path.read_text())))
                 for path in SCHEMAS.glob("*.schema.json")]
    schema = json_module.loads((SCHEMAS / "weir-freshness.schema.json").read_text())
    validator = Draft202012Validator(schema, registry=Registry().with_resources(resources),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(document)
    broken = {**document, "results": {**document["results"], "models": [{"model": "x", "status": "late"}]}}
    assert not validator.is_valid(broken)


ROOT = Path(__file__).resolve().parents[2]


def test_the_example_warehouse_is_fresh_after_a_build_and_breached_when_the_clock_moves(
    tmp_path: Path, db, dsn, weir
) -> None:
    import shutil

    example = tmp_path / "example"
    for directory in ("migrations", "models", "checks", "seeds"):
        shutil.copytree(ROOT / directory, example / directory)
    shutil.copy(ROOT / "setup.cfg", example / "setup.cfg")  # every model: sla = 26 hours
    for command in (("migrate",), ("sample", "load", "--scale", "500"), ("build",)):
        done = weir(*command, "--project", str(example), "--dsn", dsn)
        assert done.exit_code == 0, done.output
    fresh = weir("freshness", "--project", str(example), "--dsn", dsn, "--json")
    assert fresh.exit_code == 0, fresh.output
    statuses = {entry["model"]: entry["status"] for entry in json.loads(fresh.stdout)["results"]["models"]}
    assert "marts.fact_order_items" in statuses and set(statuses.values()) == {"ok"}

    move_clock(db, "25 hours")
    still = weir("freshness", "--project", str(example), "--dsn", dsn)
    assert still.exit_code == 0, still.output

    move_clock(db, "27 hours")
    late = weir("freshness", "--project", str(example), "--dsn", dsn, "--json")
    assert late.exit_code == 1
    statuses = {entry["model"]: entry["status"] for entry in json.loads(late.stdout)["results"]["models"]}
    assert set(statuses.values()) == {"breach"}


def test_an_sla_column_that_is_not_a_timestamp_names_the_file_and_line(project: Path, dsn, weir, write_models):
    write_models(project, {"models/marts/m.sql": "-- weir: kind=table\n-- weir: sla=1 hour, sla_column=id\n"
                                                 "SELECT 1 AS id\n"})
    assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
    result = weir("freshness", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith("weir: models/marts/m.sql:2: sla_column id: ")
    assert last.endswith("; name a timestamp column of the model")


def test_a_build_that_skips_an_unchanged_model_confirms_it_is_current(project: Path, db, dsn, weir, write_models):
    write_models(project, {"models/marts/orders.sql": "-- weir: kind=view, sla=4 hours\nSELECT 1 AS id\n"})
    assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
    # The build happened five hours ago: its record says so.
    db.execute("UPDATE weir.model_state SET built_at = built_at - interval '5 hours'")
    db.execute("UPDATE weir.build_result SET finished_at = finished_at - interval '5 hours'")
    stale = weir("freshness", "--project", str(project), "--dsn", dsn)
    assert stale.exit_code == 1 and stale.stdout.splitlines()[-1] == "1 breach of 1 models"

    again = weir("build", "--project", str(project), "--dsn", dsn)  # nothing changed: the view is skipped
    assert again.exit_code == 0
    assert db.execute("SELECT status FROM weir.build_result ORDER BY run_id DESC LIMIT 1").fetchone() == ("skipped",)
    fresh = weir("freshness", "--project", str(project), "--dsn", dsn)
    assert fresh.exit_code == 0, fresh.output
    assert fresh.stdout.splitlines()[-1] == "0 breaches of 1 models"
