"""`weir build`, `ls`, `lineage` and `sample` through the CLI."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_model(project: Path, relation: str, sql: str) -> None:
    schema, name = relation.split(".")
    (project / "models" / schema).mkdir(parents=True, exist_ok=True)
    (project / "models" / schema / f"{name}.sql").write_text(sql)


def test_build_reports_every_model_and_exits_1_when_one_fails(project, db, dsn, weir):
    db.execute("CREATE TABLE source (id int, amount int)")
    db.execute("INSERT INTO source VALUES (1, 10), (2, 20)")
    write_model(project, "marts.totals", "-- weir: kind=table\nSELECT sum(amount) AS total FROM public.source\n")
    write_model(project, "marts.broken", "-- weir: kind=table\nSELECT id / 0 AS boom FROM public.source\n")
    write_model(project, "marts.after_broken", "SELECT boom FROM marts.broken\n")
    result = weir("build", "--project", str(project), "--dsn", dsn)
    assert result.exit_code == 1
    rows = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines()[2:] if line.startswith("marts.")}
    assert rows == {"marts.totals": "success", "marts.broken": "failed", "marts.after_broken": "upstream-failed"}
    assert "weir: models/marts/broken.sql:2: division by zero" in result.stderr
    assert db.execute("SELECT total FROM marts.totals").fetchone()[0] == 30

    write_model(project, "marts.broken", "-- weir: kind=table\nSELECT id AS boom FROM public.source\n")
    rerun = weir("build", "--project", str(project), "--dsn", dsn)
    assert rerun.exit_code == 0, rerun.output
    assert "1 skipped" in rerun.stdout  # totals: same SQL, same input

    listing = weir("ls", "--project", str(project), "--dsn", dsn)
    assert listing.exit_code == 0
    assert any(line.startswith("marts.after_broken") and "marts.broken" in line for line in listing.stdout.splitlines())
    lineage = weir("lineage", "broken", "--project", str(project))
    assert lineage.stdout.splitlines() == ["upstream:", "  (none)", "downstream:", "  marts.after_broken"]


def test_sample_data_commands_load_and_change(db, dsn, weir):
    assert weir("migrate", "--project", str(REPO), "--dsn", dsn).exit_code == 0
    loaded = weir("sample", "load", "--scale", "1000", "--project", str(REPO), "--dsn", dsn)
    assert loaded.exit_code == 0, loaded.output
    assert db.execute("SELECT count(*) FROM raw.order_items").fetchone()[0] == 1000
    again = weir("sample", "load", "--scale", "1000", "--project", str(REPO), "--dsn", dsn)
    assert again.exit_code == 1
    assert "the raw schema already has rows" in again.stderr
    changed = weir("sample", "change", "--batch", "1", "--project", str(REPO), "--dsn", dsn)
    assert changed.exit_code == 0, changed.output
    assert db.execute("SELECT count(*) FROM raw.order_items").fetchone()[0] > 1000


def test_a_change_committed_just_before_a_build_is_never_skipped(project, db, dsn, weir):
    # The test's own session stays connected, so its statistics may not be flushed yet:
    # skipping must not rely on them alone.
    db.execute("CREATE TABLE source (id int PRIMARY KEY, amount int)")
    db.execute("INSERT INTO source VALUES (1, 10), (2, 20)")
    write_model(project, "marts.totals",
                "-- weir: kind=table\nSELECT count(*) AS n, sum(amount) AS total FROM public.source\n")
    for change, expected in [("UPDATE source SET amount = 25 WHERE id = 2", (2, 35)),
                             ("DELETE FROM source WHERE id = 1", (1, 25)),
                             ("INSERT INTO source VALUES (3, 1)", (2, 26))]:
        assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
        db.execute(change)
        assert weir("build", "--project", str(project), "--dsn", dsn).exit_code == 0
        assert db.execute("SELECT n, total FROM marts.totals").fetchone() == expected
