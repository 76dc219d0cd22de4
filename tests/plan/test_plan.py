"""`weir plan`: each kind of change classified, nothing changed, exit 3 unless --allow-breaking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE = "-- weir: kind=table\nSELECT id, amount, note FROM public.source\n"
READER = "-- weir: kind=table\nSELECT id, amount FROM marts.base\n"  # reads id and amount, not note
BUILD_STATE = """
SELECT md5(string_agg(format('%s %s %s', c.relname, c.relfilenode, c.reltuples), ',' ORDER BY c.relname))
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('weir', 'marts', 'public')
"""


def write_model(project: Path, relation: str, sql: str) -> None:
    schema, name = relation.split(".")
    (project / "models" / schema).mkdir(parents=True, exist_ok=True)
    (project / "models" / schema / f"{name}.sql").write_text(sql)


@pytest.fixture
def built(project, db, dsn, weir):
    """A project with marts.base and marts.reader (reading base's id and amount), built once."""
    db.execute("CREATE TABLE source (id int, amount int, note text)")
    db.execute("INSERT INTO source VALUES (1, 10, 'a'), (2, 20, 'b')")
    write_model(project, "marts.base", BASE)
    write_model(project, "marts.reader", READER)
    result = weir("build", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    return project


def plan_of(weir, project, dsn, *args):
    result = weir("plan", "--json", *args, "--project", str(project), "--dsn", dsn)
    document = json.loads(result.stdout)
    return result.exit_code, {m["model"]: m for m in document["results"]["models"]}


@pytest.mark.parametrize(
    ("sql", "classification", "columns", "exit_code"),
    [
        ("SELECT id, amount, note, 1 AS extra FROM public.source", "non-breaking", [("extra", "added")], 0),
        ("SELECT id, note FROM public.source", "breaking", [("amount", "removed")], 3),
        ("SELECT id, amount AS total, note FROM public.source", "breaking",
         [("amount", "removed"), ("total", "added")], 3),
        ("SELECT id, amount::bigint AS amount, note FROM public.source", "breaking",
         [("amount", "type changed")], 3),
        ("SELECT id, amount FROM public.source", "non-breaking", [("note", "removed")], 0),  # nobody reads note
    ],
    ids=["added", "dropped", "renamed", "retyped", "unread-dropped"],
)
def test_a_column_change_is_classified_through_lineage(built, dsn, weir, sql, classification, columns, exit_code):
    write_model(built, "marts.base", f"-- weir: kind=table\n{sql}\n")
    code, models = plan_of(weir, built, dsn)
    base = models["marts.base"]
    assert (base["action"], base["reason"], base["classification"]) == ("build", "SQL changed", classification)
    assert [(c["column"], c["change"]) for c in base["columns"]] == columns
    assert code == exit_code
    if classification == "breaking":
        assert base["broken_readers"] == ["marts.reader"]


@pytest.mark.parametrize(
    "text",
    [
        "-- weir: kind=table\n-- the sums per order, now documented\nSELECT id, amount, note FROM public.source\n",
        "-- weir: kind=table\nSELECT id,\n       amount,\n       note\n  FROM public.source;\n",
        '-- weir: kind=table, tags="finance", sla=4 hours, schedule=@hourly, pii="note"\n'
        "SELECT id, amount, note FROM public.source\n",
    ],
    ids=["comment-only", "whitespace-only", "metadata-directives"],
)
def test_a_formatting_edit_is_metadata_only_and_rebuilds_nothing(built, db, dsn, weir, text):
    write_model(built, "marts.base", text)
    code, models = plan_of(weir, built, dsn)
    assert code == 0
    assert (models["marts.base"]["action"], models["marts.base"]["classification"]) == ("skip", "metadata-only")
    assert models["marts.reader"]["action"] == "skip"
    result = weir("build", "--project", str(built), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert "2 skipped" in result.stdout


@pytest.mark.parametrize("kind", ["table", "view"])
def test_a_description_edit_rebuilds_nothing_but_reaches_the_catalog(built, db, dsn, weir, kind):
    described = f'-- weir: kind={kind}, description="Sums per order."\nSELECT id, amount, note FROM public.source\n'
    write_model(built, "marts.base", described)
    assert weir("build", "--project", str(built), "--dsn", dsn).exit_code == 0  # the kind may have changed
    oid = db.execute("SELECT 'marts.base'::regclass::oid").fetchone()[0]
    write_model(built, "marts.base", described.replace("Sums per order.", "Sums per order, in cents."))

    result = weir("build", "--project", str(built), "--dsn", dsn)

    assert result.exit_code == 0, result.output
    assert "2 skipped" in result.stdout
    assert "description stored" in db.execute(
        "SELECT note FROM weir.build_result WHERE model = 'marts.base' ORDER BY run_id DESC LIMIT 1").fetchone()[0]
    assert db.execute("SELECT obj_description('marts.base'::regclass)").fetchone()[0] == "Sums per order, in cents."
    assert db.execute("SELECT 'marts.base'::regclass::oid").fetchone()[0] == oid  # not rebuilt
    assert plan_of(weir, built, dsn)[1]["marts.base"]["reason"] == "unchanged"  # recorded: nothing left to apply


def test_an_added_column_does_not_rebuild_readers(built, db, dsn, weir):
    write_model(built, "marts.base",
                "-- weir: kind=table\nSELECT id, amount, note, amount * 2 AS doubled FROM public.source\n")
    code, models = plan_of(weir, built, dsn)
    assert code == 0
    assert models["marts.base"]["readers_rebuilt"] is False
    assert models["marts.reader"]["action"] == "skip"
    result = weir("build", "--project", str(built), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    statuses = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines() if line.startswith("marts.")}
    assert statuses == {"marts.base": "success", "marts.reader": "skipped"}
    assert db.execute("SELECT sum(doubled) FROM marts.base").fetchone()[0] == 60


def test_an_upstream_change_to_an_unread_column_is_non_breaking_and_rebuilds_its_readers(built, dsn, weir):
    # note's values change; reader never reads note, but base's rows may differ, so reader is rebuilt.
    write_model(built, "marts.base", "-- weir: kind=table\nSELECT id, amount, upper(note) AS note FROM public.source\n")
    code, models = plan_of(weir, built, dsn)
    assert code == 0
    assert models["marts.base"]["classification"] == "non-breaking"
    assert models["marts.base"]["columns"] == []
    assert (models["marts.reader"]["action"], models["marts.reader"]["reason"]) == (
        "build", "upstream changed: marts.base")


def test_allow_breaking_exits_0_and_the_table_names_the_reader(built, dsn, weir):
    write_model(built, "marts.base", "-- weir: kind=table\nSELECT id, note FROM public.source\n")
    refused = weir("plan", "--project", str(built), "--dsn", dsn)
    assert refused.exit_code == 3
    assert "marts.reader" in refused.stdout
    assert "weir: breaking changes; rerun with --allow-breaking to accept them" in refused.stderr
    allowed = weir("plan", "--allow-breaking", "--project", str(built), "--dsn", dsn)
    assert allowed.exit_code == 0, allowed.output


def test_plan_changes_nothing_and_reports_new_data_and_migrations(built, db, dsn, weir, write_migration):
    db.execute("INSERT INTO source VALUES (3, 30, 'c')")
    write_migration(built, "0001_more", "CREATE TABLE public.more (id int);", "DROP TABLE public.more;")
    write_model(built, "marts.fresh", "-- weir: kind=view\nSELECT id FROM marts.base\n")
    before = db.execute(BUILD_STATE).fetchone()[0]
    writes = db.execute("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_all_tables"
                        " WHERE schemaname = 'weir'").fetchone()[0]
    code, models = plan_of(weir, built, dsn)
    result = json.loads(weir("plan", "--json", "--project", str(built), "--dsn", dsn).stdout)
    assert code == 0
    assert result["results"]["migrations"] == ["0001_more"]
    assert models["marts.base"]["reason"] == "input data changed"
    assert models["marts.reader"]["reason"] == "upstream changed: marts.base"
    assert models["marts.fresh"]["reason"] == "new"
    db.execute("SELECT pg_stat_clear_snapshot()")
    assert db.execute(BUILD_STATE).fetchone()[0] == before
    assert db.execute("SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_all_tables"
                      " WHERE schemaname = 'weir'").fetchone()[0] == writes
    assert db.execute("SELECT to_regclass('public.more')").fetchone()[0] is None


def test_a_check_reading_a_dropped_column_makes_the_change_breaking(built, dsn, weir, write_files):
    write_files(built, {"checks/positive_note.sql": "SELECT id FROM marts.base WHERE note IS NULL\n"})
    write_model(built, "marts.base", "-- weir: kind=table\nSELECT id, amount FROM public.source\n")
    code, models = plan_of(weir, built, dsn)
    assert code == 3
    assert models["marts.base"]["broken_readers"] == ["check:positive_note"]


def test_a_plan_on_a_database_weir_never_built_says_every_model_is_new(project, db, dsn, weir):
    db.execute("CREATE TABLE source (id int, amount int, note text)")
    write_model(project, "marts.base", BASE)
    code, models = plan_of(weir, project, dsn)
    assert code == 0
    assert (models["marts.base"]["action"], models["marts.base"]["reason"]) == ("build", "new")
    assert db.execute("SELECT to_regnamespace('weir')").fetchone()[0] is None


def test_the_json_document_follows_its_shipped_schema(built, dsn, weir):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    shipped = Path(__file__).resolve().parents[2] / "runner" / "reports" / "schemas"
    registry = Registry().with_resources(
        [(path.name, Resource.from_contents(json.loads(path.read_text()))) for path in shipped.glob("*.schema.json")]
    )
    schema = json.loads((shipped / "weir-plan.schema.json").read_text())
    write_model(built, "marts.base", "-- weir: kind=table\nSELECT id, note FROM public.source\n")
    result = weir("plan", "--json", "--project", str(built), "--dsn", dsn)
    document = json.loads(result.stdout)
    Draft202012Validator(schema, registry=registry).validate(document)
    assert (document["status"], document["exit_code"], document["results"]["breaking"]) == (
        "fail", 3, ["marts.base"])


def test_a_pending_migration_is_listed_with_its_lint_findings(built, dsn, weir, write_migration):
    write_migration(built, "0001_index", "CREATE INDEX source_id ON public.source (id);", "DROP INDEX source_id;")
    result = weir("plan", "--json", "--project", str(built), "--dsn", dsn)
    document = json.loads(result.stdout)
    assert document["results"]["migrations"] == ["0001_index"]
    assert any(finding.startswith("migrations/0001_index.sql:1: require-concurrent-index-creation")
               for finding in document["results"]["lint"]), document["results"]["lint"]


def test_a_seed_read_only_by_a_view_is_planned_like_any_source(db, dsn, weir):
    # The example's seed ref.countries is read by one view alone; its token must be surveyed too.
    example = str(Path(__file__).resolve().parents[2])
    for command in ("migrate", "build"):
        result = weir(command, "--project", example, "--dsn", dsn)
        assert result.exit_code == 0, result.output
    code, models = plan_of(weir, example, dsn)
    assert code == 0
    assert models["marts.agg_customers_by_region"]["action"] == "skip"
    assert {model["action"] for model in models.values()} == {"skip"}
