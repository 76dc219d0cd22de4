"""Loading seeds: types declared or inferred, unchanged seeds skipped, changed ones swapped in whole."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import psycopg
import pytest

from runner.build.seeds import columns_of, run_seeds
from runner.errors import BadSeed, ConfigError, ModelFailed, ProjectFileError
from runner.project import Project

COUNTRIES = "code,name,population,joined,founded_at,member,share\n" \
            "DE,Germany,83000000,1958-01-01,1949-05-23 00:00:00+02,true,18.5\n" \
            "FR,France,68000000,1958-01-01,1958-10-04T12:00:00Z,false,15.25\n" \
            "ZZ,,9000000000,,,,\n"


@pytest.fixture
def seeded(project: Path, write_files) -> Path:
    """The test project with one seed, seeds/ref/countries.csv."""
    write_files(project, {"seeds/ref/countries.csv": COUNTRIES})
    return project


def types_of(db: psycopg.Connection, table: str) -> dict[str, str]:
    return dict(db.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,)
    ).fetchall())


def test_types_are_inferred_from_the_data_and_the_rows_loaded(seeded: Path, db: psycopg.Connection) -> None:
    results = run_seeds(db, Project.load(seeded))
    assert [(result.seed, result.status, result.rows) for result in results] == [("ref.countries", "loaded", 3)]
    assert types_of(db, "ref.countries") == {
        "code": "text", "name": "text", "population": "bigint", "joined": "date",
        "founded_at": "timestamp with time zone", "member": "boolean", "share": "numeric",
    }
    assert db.execute("SELECT name, population, member FROM ref.countries ORDER BY code").fetchall() == [
        ("Germany", 83000000, True), ("France", 68000000, False), (None, 9000000000, None)]


def test_a_types_file_declares_some_columns_and_the_rest_are_inferred(
        seeded: Path, write_files, db: psycopg.Connection) -> None:
    write_files(seeded, {"seeds/ref/countries.sql": '-- weir: columns="code char(2), share numeric(5,2)"\n'})
    project = Project.load(seeded)
    shown = [(column.name, column.type, column.source) for column in columns_of(project.seeds[0])]
    assert shown[0] == ("code", "char(2)", "declared")
    assert shown[2] == ("population", "bigint", "inferred")
    assert shown[6] == ("share", "numeric(5,2)", "declared")
    run_seeds(db, project)
    assert types_of(db, "ref.countries")["code"] == "character(2)"
    assert types_of(db, "ref.countries")["share"] == "numeric(5,2)"


def test_leading_zeros_stay_text_and_an_all_empty_column_is_text(project: Path, write_files) -> None:
    write_files(project, {"seeds/ref/zips.csv": "zip,nothing,small\n01067,,1\n10115,,-2\n"})
    columns = columns_of(Project.load(project).seeds[0])
    assert [column.type for column in columns] == ["text", "text", "integer"]


def test_an_unchanged_seed_is_skipped_and_a_changed_one_replaced(
        seeded: Path, db: psycopg.Connection, write_files) -> None:
    run_seeds(db, Project.load(seeded))
    oid = db.execute("SELECT 'ref.countries'::regclass::oid").fetchone()[0]
    again = run_seeds(db, Project.load(seeded))
    assert [result.status for result in again] == ["unchanged"]
    assert db.execute("SELECT 'ref.countries'::regclass::oid").fetchone()[0] == oid

    write_files(seeded, {"seeds/ref/countries.csv": COUNTRIES + "IT,Italy,59000000,1958-01-01,,true,12\n"})
    changed = run_seeds(db, Project.load(seeded))
    assert [(result.status, result.rows) for result in changed] == [("loaded", 4)]
    assert db.execute("SELECT count(*) FROM ref.countries").fetchone()[0] == 4
    # A new types file is a change too, even with the same CSV.
    write_files(seeded, {"seeds/ref/countries.sql": '-- weir: columns="population numeric"\n'})
    assert [result.status for result in run_seeds(db, Project.load(seeded))] == ["loaded"]
    assert types_of(db, "ref.countries")["population"] == "numeric"


def test_a_touched_seed_with_the_same_content_is_unchanged_and_restamped(
        seeded: Path, db: psycopg.Connection) -> None:
    run_seeds(db, Project.load(seeded))
    oid, stamp = db.execute("SELECT relid, stamp FROM weir.seed_state").fetchone()
    path = seeded / "seeds" / "ref" / "countries.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # as a fresh checkout would
    assert [result.status for result in run_seeds(db, Project.load(seeded))] == ["unchanged"]
    assert db.execute("SELECT 'ref.countries'::regclass::oid").fetchone()[0] == oid
    restamped = db.execute("SELECT stamp FROM weir.seed_state").fetchone()[0]
    assert restamped != stamp and restamped.split()[1] == str(path.stat().st_mtime_ns)


def test_a_seed_table_dropped_or_emptied_behind_weirs_back_is_loaded_again(
        seeded: Path, db: psycopg.Connection) -> None:
    run_seeds(db, Project.load(seeded))
    db.execute("DROP TABLE ref.countries")
    db.execute("CREATE TABLE ref.countries (code text)")
    assert [result.status for result in run_seeds(db, Project.load(seeded))] == ["loaded"]
    assert db.execute("SELECT count(*) FROM ref.countries").fetchone()[0] == 3


def test_force_loads_an_unchanged_seed(seeded: Path, db: psycopg.Connection) -> None:
    run_seeds(db, Project.load(seeded))
    assert [result.status for result in run_seeds(db, Project.load(seeded), force=True)] == ["loaded"]


def test_the_load_keeps_grants_and_views_on_the_table(seeded: Path, db: psycopg.Connection, write_files) -> None:
    run_seeds(db, Project.load(seeded))
    db.execute("CREATE VIEW public.big AS SELECT code FROM ref.countries WHERE population > 70000000")
    db.execute("DROP ROLE IF EXISTS seed_reader; CREATE ROLE seed_reader")
    try:
        db.execute("GRANT SELECT ON ref.countries TO seed_reader")
        write_files(seeded, {"seeds/ref/countries.csv": COUNTRIES.replace("68000000", "78000000")})
        run_seeds(db, Project.load(seeded))
        assert db.execute("SELECT code FROM public.big ORDER BY code").fetchall() == [("DE",), ("FR",), ("ZZ",)]
        assert db.execute("SELECT has_table_privilege('seed_reader', 'ref.countries', 'SELECT')").fetchone()[0]
    finally:
        db.execute("DROP VIEW IF EXISTS public.big; DROP OWNED BY seed_reader; DROP ROLE seed_reader")


def test_readers_see_the_old_rows_or_the_new_never_a_part(
        project: Path, write_files, db: psycopg.Connection, dsn: str) -> None:
    old_rows, new_rows = 50_000, 400_000
    write_files(project, {"seeds/ref/big.csv": "n,label\n" + "".join(f"{n},row {n}\n" for n in range(old_rows))})
    run_seeds(db, Project.load(project))
    write_files(project, {"seeds/ref/big.csv": "n,label\n" + "".join(f"{n},row {n}\n" for n in range(new_rows))})
    seen: set[int] = set()
    done = threading.Event()

    def read() -> None:
        with psycopg.connect(dsn, autocommit=True) as reader:
            while not done.is_set():
                seen.add(reader.execute("SELECT count(*) FROM ref.big").fetchone()[0])

    thread = threading.Thread(target=read)
    thread.start()
    try:
        run_seeds(db, Project.load(project))
    finally:
        done.set()
        thread.join()
    assert seen <= {old_rows, new_rows} and old_rows in seen, seen
    assert db.execute("SELECT count(*) FROM ref.big").fetchone()[0] == new_rows


def test_select_names_seeds_and_refuses_an_unknown_one(project: Path, write_files, db: psycopg.Connection) -> None:
    write_files(project, {"seeds/ref/a.csv": "x\n1\n", "seeds/ref/b.csv": "y\n2\n"})
    assert [result.seed for result in run_seeds(db, Project.load(project), select=["b"])] == ["ref.b"]
    assert db.execute("SELECT to_regclass('ref.a')").fetchone()[0] is None
    unknown = r"--select 'ref\.c': no seed by that name; did you mean ref\.[ab] or ref\.[ab]\?"
    with pytest.raises(ConfigError, match=unknown):
        run_seeds(db, Project.load(project), select=["ref.c"])


def test_the_seeds_directory_is_a_setting(project: Path, write_files, db: psycopg.Connection) -> None:
    write_files(project, {"setup.cfg": "[weir]\nseeds = reference\n", "reference/ref/a.csv": "x\n1\n"})
    assert [result.seed for result in run_seeds(db, Project.load(project))] == ["ref.a"]


@pytest.mark.parametrize(("files", "message"), [
    ({"seeds/a.csv": "x\n1\n"}, "seeds/a.csv:1: a seed belongs at seeds/<schema>/<name>.csv, one folder deep;"),
    ({"seeds/ref/Bad-Name.csv": "x\n"}, "seeds/ref/Bad-Name.csv:1: file name 'Bad-Name' is not a lower-case SQL name"),
    ({"seeds/weir/a.csv": "x\n"}, "seeds/weir/a.csv:1: schema 'weir' is PostgreSQL's or Weir's own"),
    ({"seeds/ref/a.sql": "-- weir: columns=\"x int\"\n"}, "seeds/ref/a.sql:1: a types file without a.csv next to it"),
    ({"seeds/ref/a.csv": "x\n", "seeds/ref/a.sql": "-- weir: colums=\"x int\"\n"},
     "seeds/ref/a.sql:1: unknown directive 'colums'; known directives: column_descriptions, columns, description"),
    ({"seeds/ref/a.csv": "x\n", "seeds/ref/a.sql": "-- weir: columns=\"x\"\n"},
     "seeds/ref/a.sql:1: columns: 'x' is not \"name type\""),
    ({"seeds/ref/a.csv": "x\n", "seeds/ref/a.sql": "-- weir: columns=\"x int\"\nSELECT 1;\n"},
     "seeds/ref/a.sql:2: a seed's types file holds only `-- weir:` comments"),
])
def test_a_misplaced_or_malformed_seed_file_is_refused_naming_it(
        project: Path, write_files, files: dict[str, str], message: str) -> None:
    write_files(project, files)
    with pytest.raises(ProjectFileError) as raised:
        Project.load(project).seeds  # noqa: B018
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_declared_type_postgresql_does_not_know_names_the_types_file(
        project: Path, write_files, db: psycopg.Connection) -> None:
    write_files(project, {"seeds/ref/a.csv": "x\n1\n",
                          "seeds/ref/a.sql": "-- about a\n-- weir: columns=\"x integr\"\n"})
    with pytest.raises(BadSeed, match=r'^seeds/ref/a\.sql:2: columns: type "integr" does not exist;'):
        run_seeds(db, Project.load(project))
    assert db.execute("SELECT to_regclass('ref.a')").fetchone()[0] is None


@pytest.fixture
def in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load every seed the way a large one is: cut into pieces, loaded side by side."""
    monkeypatch.setattr("runner.build.seeds.load.PARALLEL_BYTES", 0)


def test_a_large_seed_loads_in_pieces_cut_between_records(
        in_pieces: None, project: Path, write_files, db: psycopg.Connection) -> None:
    body = "".join(f'{n},"line {n}\nwith a ""break"""\n' if n % 7 == 0 else f"{n},plain {n}\n" for n in range(2000))
    write_files(project, {"seeds/ref/notes.csv": "n,note\n" + body})
    assert [(result.status, result.rows) for result in run_seeds(db, Project.load(project))] == [("loaded", 2000)]
    assert db.execute("SELECT note FROM ref.notes WHERE n = 1001").fetchone() == ('line 1001\nwith a "break"',)
    assert db.execute("SELECT count(DISTINCT n), min(n), max(n) FROM ref.notes").fetchone() == (2000, 0, 1999)
    assert [result.status for result in run_seeds(db, Project.load(project))] == ["unchanged"]
    path = project / "seeds" / "ref" / "notes.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert [result.status for result in run_seeds(db, Project.load(project))] == ["unchanged"]


def test_a_bad_row_in_a_later_piece_is_named_at_its_line_and_nothing_is_left(
        in_pieces: None, project: Path, write_files, db: psycopg.Connection) -> None:
    write_files(project, {"seeds/ref/nums.csv": "n,label\n" + "".join(f"{n},x\n" for n in range(1000))})
    run_seeds(db, Project.load(project))
    rows = [f"{n},x\n" for n in range(1000)]
    rows[900] = "900,x,extra\n"
    write_files(project, {"seeds/ref/nums.csv": "n,label\n" + "".join(rows)})
    with pytest.raises(BadSeed, match=r"^seeds/ref/nums\.csv:902:3: the row has more values than the header's 2"):
        run_seeds(db, Project.load(project))
    assert db.execute("SELECT count(*) FROM ref.nums").fetchone()[0] == 1000
    assert db.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%weir_new%'").fetchone()[0] == 0


def test_a_reader_holding_the_table_delays_the_swap_then_fails_it_naming_the_reader(
        seeded: Path, db: psycopg.Connection, dsn: str, write_files) -> None:
    run_seeds(db, Project.load(seeded))  # the project's lock_timeout is 1s, with 1 retry
    write_files(seeded, {"seeds/ref/countries.csv": COUNTRIES.replace("France", "Frankreich")})
    with psycopg.connect(dsn, application_name="long report") as reader:
        reader.execute("SELECT count(*) FROM ref.countries")  # its transaction stays open, holding the table
        held = (r"^seeds/ref/countries\.csv:1: could not swap in the new ref\.countries in 2 tries of lock_timeout=1s:"
                r" pid \d+ \(long report, .*\) holds a lock on ref\.countries;"
                r" ref\.countries keeps its previous version")
        with pytest.raises(ModelFailed, match=held):
            run_seeds(db, Project.load(seeded))
        assert reader.execute("SELECT name FROM ref.countries WHERE code = 'FR'").fetchone() == ("France",)
    assert db.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%weir_new%'").fetchone()[0] == 0
    assert [result.status for result in run_seeds(db, Project.load(seeded))] == ["loaded"]  # the reader is gone
    assert db.execute("SELECT name FROM ref.countries WHERE code = 'FR'").fetchone() == ("Frankreich",)
