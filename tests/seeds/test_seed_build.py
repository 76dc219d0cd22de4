"""Seeds in the model graph: a build loads the seeds its models read first and rebuilds the readers of a changed one."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runner.build.graph import ModelGraph
from runner.build.report import BuildEvent
from runner.build.run import build, lineage
from runner.errors import BadSeed, ProjectFileError
from runner.project import Project

STATUSES = "status,label,is_open\nplaced,Placed,true\nshipped,Shipped,false\n"
FILES = {
    "seeds/ref/statuses.csv": STATUSES,
    "models/marts/open_orders.sql": (
        "-- weir: kind=table\n"
        "SELECT o.order_id, s.label FROM raw.orders AS o JOIN ref.statuses AS s USING (status) WHERE s.is_open"
    ),
    "models/marts/labels.sql": "SELECT label FROM ref.statuses",
    "models/marts/order_ids.sql": "-- weir: kind=table\nSELECT order_id FROM raw.orders",
    "models/marts/label_count.sql": "-- weir: kind=table\nSELECT count(*) AS labels FROM marts.labels",
}


@pytest.fixture
def shop(project: Path, write_files, db: psycopg.Connection) -> Path:
    """A project whose models read raw.orders and the seed ref.statuses."""
    write_files(project, FILES)
    db.execute("CREATE SCHEMA raw; CREATE TABLE raw.orders (order_id int PRIMARY KEY, status text NOT NULL);"
               " INSERT INTO raw.orders VALUES (1, 'placed'), (2, 'shipped'), (3, 'returned')")
    return project


def statuses(db: psycopg.Connection, project: Path, **options) -> dict[str, str]:
    report = build(db, Project.load(project), **options)
    return {result.model: result.status for result in report.results}


def test_a_model_reading_a_seed_has_it_upstream_not_as_a_source(shop: Path) -> None:
    project = Project.load(shop)
    graph = ModelGraph(project.models, project.seeds)
    assert graph.sources("marts.open_orders") == [("raw", "orders")]
    assert [seed.qualified for seed in graph.seeds_read(graph.select(["open_orders"]))] == ["ref.statuses"]
    assert graph.seeds_read(graph.select(["order_ids"])) == []
    assert [seed.qualified for seed in graph.seeds_read(graph.select(["label_count"]))] == ["ref.statuses"]
    assert lineage(project, "marts.open_orders") == (["ref.statuses (seed)"], [])


def test_a_seed_and_a_model_of_the_same_table_are_refused(shop: Path, write_files) -> None:
    write_files(shop, {"models/ref/statuses.sql": "SELECT 1 AS status"})
    project = Project.load(shop)
    with pytest.raises(ProjectFileError, match=r"^seeds/ref/statuses\.csv:1: loads ref\.statuses, which"
                                               r" models/ref/statuses\.sql builds too; remove or rename one"):
        ModelGraph(project.models, project.seeds)


def test_build_loads_seeds_first_and_rebuilds_only_the_readers_of_a_changed_one(
        shop: Path, db: psycopg.Connection, write_files) -> None:
    events: list[BuildEvent] = []
    first = build(db, Project.load(shop), on_event=events.append)
    assert all(result.status == "success" for result in first.results)
    assert [event.message for event in events if event.kind == "seed"] == ["seed ref.statuses: loaded 2 rows"]
    assert db.execute("SELECT order_id, label FROM marts.open_orders").fetchall() == [(1, "Placed")]

    models = ["marts.label_count", "marts.labels", "marts.open_orders", "marts.order_ids"]
    assert statuses(db, shop) == dict.fromkeys(models, "skipped")

    write_files(shop, {"seeds/ref/statuses.csv": STATUSES + "returned,Returned,true\n"})
    assert statuses(db, shop) == {"marts.label_count": "success", "marts.labels": "skipped",
                                  "marts.open_orders": "success", "marts.order_ids": "skipped"}
    assert db.execute("SELECT order_id, label FROM marts.open_orders ORDER BY 1").fetchall() == [
        (1, "Placed"), (3, "Returned")]
    assert db.execute("SELECT count(*) FROM marts.labels").fetchone()[0] == 3  # the view follows the new table
    assert db.execute("SELECT labels FROM marts.label_count").fetchone()[0] == 3  # reads the seed via a view


def test_build_loads_only_the_seeds_its_selected_models_read(shop: Path, db: psycopg.Connection) -> None:
    assert statuses(db, shop, select=["order_ids"]) == {"marts.order_ids": "success"}
    assert db.execute("SELECT to_regclass('ref.statuses')").fetchone()[0] is None


def test_a_bad_seed_stops_the_build_before_any_model(shop: Path, db: psycopg.Connection, write_files) -> None:
    build(db, Project.load(shop))
    write_files(shop, {"seeds/ref/statuses.csv": STATUSES + "returned,Returned,maybe\n",
                       "seeds/ref/statuses.sql": '-- weir: columns="is_open boolean"\n',
                       "models/marts/order_ids.sql": "-- weir: kind=table\nSELECT order_id, 1 AS one FROM raw.orders"})
    with pytest.raises(BadSeed, match=r'^seeds/ref/statuses\.csv:4:3: invalid input syntax for type boolean: "maybe"'):
        build(db, Project.load(shop))
    assert db.execute("SELECT count(*) FROM ref.statuses").fetchone()[0] == 2
    columns = db.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'marts.order_ids'::regclass"
                         " AND attnum > 0").fetchone()[0]
    assert columns == 1  # the model that changed was not built either


def test_weir_run_loads_the_seed_and_says_so(shop: Path, weir, dsn: str, db: psycopg.Connection) -> None:
    result = weir("--project", str(shop), "--dsn", dsn, "run")
    assert result.exit_code == 0, result.output
    assert "seed ref.statuses: loaded 2 rows" in result.stderr.splitlines()
    assert db.execute("SELECT rows_loaded, columns FROM weir.seed_state").fetchone() == (
        2, [["status", "text", "inferred"], ["label", "text", "inferred"], ["is_open", "boolean", "inferred"]])
    again = weir("--project", str(shop), "--dsn", dsn, "run")
    assert again.exit_code == 0 and "seed ref.statuses" not in again.stderr


def test_weir_seed_prints_each_seed_and_show_types_loads_nothing(shop: Path, weir, dsn: str,
                                                                  db: psycopg.Connection) -> None:
    shown = weir("--project", str(shop), "seed", "--show-types")
    assert shown.exit_code == 0
    assert [line.split() for line in shown.stdout.splitlines()[2:]] == [
        ["ref.statuses", "status", "text", "inferred"], ["ref.statuses", "label", "text", "inferred"],
        ["ref.statuses", "is_open", "boolean", "inferred"]]
    assert db.execute("SELECT to_regclass('ref.statuses')").fetchone()[0] is None
    loaded = weir("--project", str(shop), "--dsn", dsn, "seed")
    assert loaded.exit_code == 0
    assert loaded.stdout.splitlines()[2].split()[:3] == ["ref.statuses", "loaded", "2"]
    assert loaded.stdout.splitlines()[-1] == "1 loaded, 0 unchanged"


def test_lint_refuses_a_malformed_types_file_and_a_seed_a_model_also_builds(
        shop: Path, write_files, weir) -> None:
    write_files(shop, {"seeds/ref/statuses.sql": '-- weir: columns="is_open"\n',
                       "models/ref/statuses.sql": "SELECT 1 AS status"})
    result = weir("--project", str(shop), "lint")
    assert result.exit_code == 2
    assert "seeds/ref/statuses.sql:1: columns: 'is_open' is not \"name type\"" in result.output
    write_files(shop, {"seeds/ref/statuses.sql": '-- weir: columns="is_open boolean"\n'})
    result = weir("--project", str(shop), "lint")
    assert result.exit_code == 2
    assert "seeds/ref/statuses.csv:1: loads ref.statuses, which models/ref/statuses.sql builds too" in result.output
