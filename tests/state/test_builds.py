"""The build bookkeeping in runner.state.builds and runner.state.models, on its own."""

from __future__ import annotations

import psycopg

from runner.build.report import ModelResult
from runner.state import builds
from runner.state.models import built_by_weir, forget, last_built, previous_build


def test_a_new_run_marks_runs_a_dead_process_left_running_interrupted(db: psycopg.Connection) -> None:
    builds.ensure_build_state(db)
    first = builds.start_run(db, ["tag:x"], [], False, 2)
    second = builds.start_run(db, [], ["a"], True, 1)
    builds.finish_run(db, second, "success")
    assert db.execute(
        "SELECT run_id, status, selectors, excludes, full_refresh, threads FROM weir.build_run ORDER BY run_id"
    ).fetchall() == [(first, "interrupted", ["tag:x"], [], False, 2), (second, "success", [], ["a"], True, 1)]


def test_a_success_records_its_result_and_inputs_and_keeps_markers_it_did_not_change(db: psycopg.Connection) -> None:
    builds.ensure_build_state(db)
    db.execute("CREATE SCHEMA m; CREATE TABLE m.t (id int); CREATE TABLE src (id int)")
    first, second = builds.start_run(db, [], [], False, 1), builds.start_run(db, [], [], False, 1)
    result = ModelResult("m.t", "table", "success", 3, 0, 0, 0.0123, None, "")
    builds.record_built(db, first, result, {"sources": {}, "models": {}}, changed=True, rebuilt=True)
    builds.record_built(db, second, result, {"sources": {"src": 1}, "models": {}}, changed=True, rebuilt=False)
    assert db.execute(
        "SELECT inputs, built_run_id, changed_run_id, rebuilt_run_id FROM weir.build_input"
    ).fetchall() == [({"sources": {"src": 1}, "models": {}}, second, second, first)]
    recorded = db.execute("SELECT run_id, status, inserted, seconds::text FROM weir.build_result ORDER BY run_id")
    assert recorded.fetchall() == [(first, "success", 3, "0.012"), (second, "success", 3, "0.012")]
    seen = builds.look(db, "m", "t", ["m.t", "m.other"], {"src": ("", "src")})
    assert seen.exists and seen.checksum is None and seen.stored == {"sources": {"src": 1}, "models": {}}
    assert seen.markers == {"m.t": [second, first], "m.other": [None, None]}
    assert seen.tokens["src"] is not None


def test_model_state_is_read_forgotten_and_absent_before_any_build(db: psycopg.Connection) -> None:
    assert last_built(db) == {}
    builds.ensure_build_state(db)
    db.execute(
        "INSERT INTO weir.model_state (model, kind, checksum) VALUES ('m.a', 'view', 'c1'), ('m.b', 'table', 'c2')"
    )
    assert previous_build(db, "m.a").kind == "view" and previous_build(db, "m.x") is None
    assert built_by_weir(db, ["m.a", "m.x"]) == {"m.a"}
    forget(db, ["m.a"])
    assert set(last_built(db)) == {"m.b"}


def test_history_rows_commit_without_waiting_for_disk_and_a_success_waits(db: psycopg.Connection) -> None:
    builds.ensure_build_state(db)
    db.execute("SET synchronous_commit = on")  # as on a real server (the embedded test server runs with it off)
    # Note, as each row is written, whether its transaction's commit will wait for the WAL flush.
    db.execute("""
        CREATE TABLE commit_mode (tbl text, status text, mode text);
        CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO commit_mode VALUES (TG_TABLE_NAME, NEW.status, current_setting('synchronous_commit'));
            RETURN NEW;
        END $$;
        CREATE TRIGGER noted AFTER INSERT OR UPDATE ON weir.build_run
            FOR EACH ROW EXECUTE FUNCTION note_commit_mode();
        CREATE TRIGGER noted AFTER INSERT ON weir.build_result FOR EACH ROW EXECUTE FUNCTION note_commit_mode();
    """)
    run_id = builds.start_run(db, [], [], False, 1)
    builds.record_result(db, run_id, ModelResult("m.a", "table", "skipped", note="unchanged"))
    with db.transaction():
        builds.record_built(db, run_id, ModelResult("m.b", "table", "success"), {}, changed=True, rebuilt=False)
        builds.record_result(db, run_id, ModelResult("m.c", "table", "failed", error="inside a transaction"))
    builds.finish_run(db, run_id, "success")
    assert db.execute("SELECT tbl, status, mode FROM commit_mode").fetchall() == [
        ("build_run", "running", "off"),
        ("build_result", "skipped", "off"),
        ("build_result", "success", "on"),
        ("build_result", "failed", "on"),
        ("build_run", "success", "off"),
    ]
    assert db.execute("SHOW synchronous_commit").fetchone()[0] == "on"  # the session's own setting is untouched


def test_a_survey_of_every_model_says_what_looking_at_each_says(db: psycopg.Connection) -> None:
    builds.ensure_build_state(db)
    db.execute("CREATE SCHEMA m; CREATE TABLE m.t (id int); CREATE TABLE src (id int)")
    db.execute("CREATE TABLE m.other_src (x int)")
    run_id = builds.start_run(db, [], [], False, 1)
    result = ModelResult("m.t", "table", "success", 1, 0, 0, 0.1, None, "")
    builds.record_built(db, run_id, result, {"sources": {"src": 1}, "models": {}}, changed=True, rebuilt=True)
    db.execute("INSERT INTO weir.model_state (model, kind, checksum) VALUES ('m.t', 'table', 'c1')")
    sources = {"src": ("", "src"), "m.other_src": ("m", "other_src"), "m.gone": ("m", "gone")}
    survey = builds.survey(db, [("m", "t"), ("m", "u")], ["m.t", "m.u"], sources)
    for schema, name, upstream, read in (("m", "t", [], ["src", "m.gone"]), ("m", "u", ["m.t"], ["m.other_src"])):
        looked = builds.look(db, schema, name, upstream, {key: sources[key] for key in read})
        assert survey.seen(f"{schema}.{name}", upstream, read) == looked
    assert survey.seen("m.u", ["m.t"], []).markers == {"m.t": [run_id, run_id]}
    assert survey.tokens["m.gone"] is None
