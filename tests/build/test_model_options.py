"""Model options a dbt project needs on day one: unique, partial and expression indexes, a unique key
that is not the primary key, and the surrogate key strategy of an scd2 model (real PostgreSQL).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from runner.build.materialize.model import materialize
from runner.errors import ModelFailed, ProjectFileError
from runner.project.indexes import Index
from runner.project.models import read_models

HEADER_ERRORS = [
    ('indexes="email; unique (lower(email) where is_current"',
     "models/marts/m.sql:2: indexes: 'unique (lower(email) where is_current' is not an index:"
     ' syntax error at or near "where"; write e.g. indexes="updated_at; unique (lower(email)) where is_current"'),
    ('indexes="email where"',
     "models/marts/m.sql:2: indexes: 'email where' has WHERE without a condition; write WHERE <condition>"),
    ('indexes="unique email, name"',
     "models/marts/m.sql:2: indexes 'email, name' has a comma; separate columns with spaces"),
    ('indexes="(email) where active = 1 )"',
     "models/marts/m.sql:2: indexes: '(email) where active = 1 )' is not an index: syntax error at or near \")\""),
    ('surrogate_key="sk hash"',
     "models/marts/m.sql:2: surrogate_key 'sk hash': a hash key needs one type, bigint, uuid, text;"
     ' write e.g. surrogate_key="customer_sk hash bigint" or surrogate_key=customer_sk'),
    ('surrogate_key="sk hash int"',
     "models/marts/m.sql:2: surrogate_key 'sk hash int': a hash key is bigint, uuid, text, not 'int'"),
    ('surrogate_key="sk random"',
     "models/marts/m.sql:2: surrogate_key 'sk random': 'random' is not sequence or hash"),
    ('surrogate_key="sk sequence bigint"',
     "models/marts/m.sql:2: surrogate_key 'sk sequence bigint': a sequence has no type (it is bigint)"),
    ('surrogate_key="sk, other"',
     "models/marts/m.sql:2: surrogate_key 'sk,' has a comma"),
]


@pytest.mark.parametrize(("option", "error"), HEADER_ERRORS, ids=[option for option, _ in HEADER_ERRORS])
def test_a_bad_option_is_reported_at_its_line_when_the_project_is_read(
    tmp_path: Path, write_models, option: str, error: str
) -> None:
    kind = "scd2, natural_key=id, check_cols=email" if option.startswith("surrogate") else "table"
    models_dir = write_models(tmp_path, {
        "models/marts/m.sql": f"-- weir: kind={kind}\n-- weir: {option}\nSELECT 1 AS id, 'a' AS email\n"
    })
    with pytest.raises(ProjectFileError) as raised:
        read_models(models_dir, tmp_path)
    assert str(raised.value).startswith(error)


def test_options_become_typed_fields(tmp_path: Path, write_models) -> None:
    models_dir = write_models(tmp_path, {
        "models/marts/t.sql": '-- weir: kind=table, indexes="Email; unique id; unique (shop, \\"SKU\\");'
                              ' email where active; (lower(email)) where active; using gin (tags)"\n'
                              "SELECT 1 AS id\n",
        "models/marts/d.sql": '-- weir: kind=scd2, natural_key=id, check_cols=email, surrogate_key="D_sk HASH UUID"\n'
                              "SELECT 1 AS id, 'a' AS email\n",
    })
    dimension, table = read_models(models_dir, tmp_path)
    assert (dimension.surrogate_key, dimension.surrogate_hash) == ("d_sk", "uuid")
    assert table.indexes == (
        Index(False, ("email",), None, None, "Email"),
        Index(True, ("id",), None, None, "unique id"),
        Index(True, ("shop", "SKU"), None, None, 'unique (shop, "SKU")'),
        Index(False, ("email",), "active", None, "email where active"),
        Index(False, (), None, "(lower(email)) where active", "(lower(email)) where active"),
        Index(False, (), None, "using gin (tags)", "using gin (tags)"),
    )


def test_a_checked_index_is_read_again_without_the_parser_until_it_changes(tmp_path: Path, write_models) -> None:
    header = '-- weir: kind=table, indexes="unique (lower(email)) where id > 1"\n'
    models_dir = write_models(tmp_path, {"models/marts/m.sql": header + "SELECT 1 AS id, 'a' AS email\n"})
    script = ("import sys; from pathlib import Path; from runner.project.models import read_models;"
              " root = Path(sys.argv[1]); read_models(root / 'models', root); print('pglast' in sys.modules)")

    def imports_pglast() -> str:
        return subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert (imports_pglast(), imports_pglast()) == ("True", "False")
    write_models(tmp_path, {"models/marts/m.sql": header.replace("> 1", "> ") + "SELECT 1 AS id, 'a' AS email\n"})
    with pytest.raises(ProjectFileError, match=r"^models/marts/m\.sql:1: indexes: .* syntax error at end of input"):
        read_models(models_dir, tmp_path)


@pytest.fixture
def people(db: psycopg.Connection) -> psycopg.Connection:
    """raw.people(id, email, active): three people, two of them active, emails differing only in case."""
    db.execute("CREATE SCHEMA raw")
    db.execute("CREATE TABLE raw.people (id int, email text, active boolean, updated_at timestamptz)")
    db.execute("INSERT INTO raw.people VALUES (1, 'A@x.org', true, '2024-01-01'), (2, 'a@x.org', false, '2024-01-01'),"
               " (3, 'b@x.org', true, '2024-01-01')")
    return db


def index_definitions(conn: psycopg.Connection, table: str = "people") -> dict[str, str]:
    """Return every index of marts.<table> by name, with its definition after ON."""
    found = conn.execute(
        "SELECT indexname, regexp_replace(indexdef, '^.* ON ', '') FROM pg_indexes"
        " WHERE schemaname = 'marts' AND tablename = %s", (table,)
    ).fetchall()
    return dict(found)


def test_unique_partial_and_expression_indexes_are_built_and_survive_a_rebuild(
    people: psycopg.Connection, make_model
) -> None:
    model = make_model(
        "SELECT id, email, active FROM raw.people", name="people", kind="table",
        indexes="unique id; unique (lower(email)) where active; email where not active; using hash (email)",
    )
    for _ in range(2):  # the second build swaps a new table in: its indexes take the model's name
        materialize(people, model, full_refresh=True)
        definitions = index_definitions(people)
        assert sorted(definitions.values()) == [
            "marts.people USING btree (email) WHERE (NOT active)",
            "marts.people USING btree (id)",
            "marts.people USING btree (lower(email)) WHERE active",
            "marts.people USING hash (email)",
        ]
        assert "people_id_key" in definitions
        assert all(name.startswith("people_") and "__weir" not in name for name in definitions)
    people.execute("INSERT INTO marts.people VALUES (4, 'a@X.org', false)")  # not active: the partial index allows it
    with pytest.raises(psycopg.errors.UniqueViolation):
        people.execute("INSERT INTO marts.people VALUES (5, 'b@X.ORG', true)")


def test_a_unique_index_on_the_unique_key_enforces_it_instead_of_a_primary_key(
    people: psycopg.Connection, make_model
) -> None:
    sql = "SELECT id, email, updated_at FROM raw.people WHERE updated_at > weir.since('marts.people')"
    model = make_model(sql, name="people", kind="incremental", unique_key="id", watermark="updated_at",
                       indexes="unique id")
    materialize(people, model)
    # contype 'n': PostgreSQL 18 records each NOT NULL as a constraint too.
    constraints = "SELECT conname FROM pg_constraint WHERE conrelid = 'marts.people'::regclass AND contype <> 'n'"
    assert people.execute(constraints).fetchall() == []  # no primary key
    not_null = "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'marts.people'::regclass AND attname = 'id'"
    assert people.execute(not_null).fetchone()[0] is True
    assert list(index_definitions(people).values()) == ["marts.people USING btree (id)"]
    assert list(index_definitions(people)) == ["people_id_key"]
    people.execute("UPDATE raw.people SET email = 'c@x.org', updated_at = '2024-02-01' WHERE id = 3")
    result = materialize(people, model)  # the upsert's ON CONFLICT finds the unique index
    assert (result.inserted, result.updated) == (0, 1)
    assert people.execute("SELECT email FROM marts.people WHERE id = 3").fetchone()[0] == "c@x.org"

    keyed = make_model("SELECT id, email FROM raw.people", name="keyed", kind="table", unique_key="id")
    materialize(people, keyed)
    keys = "SELECT contype FROM pg_constraint WHERE conrelid = 'marts.keyed'::regclass AND contype <> 'n'"
    assert people.execute(keys).fetchall() == [("p",)]


def test_a_null_unique_key_is_refused_with_a_declared_unique_index_too(people: psycopg.Connection, make_model) -> None:
    people.execute("INSERT INTO raw.people VALUES (NULL, 'n@x.org', true, '2024-01-01')")
    model = make_model("SELECT id, email FROM raw.people", name="people", kind="table", unique_key="id",
                       indexes="unique id")
    with pytest.raises(ModelFailed, match=r"^models/marts/people\.sql:2: unique_key \(id\) is NULL in 1 row\(s\)"):
        materialize(people, model)


def test_an_index_postgresql_refuses_fails_the_model_at_the_indexes_line(
    people: psycopg.Connection, make_model
) -> None:
    duplicated = make_model("SELECT id, email FROM raw.people", name="people", kind="table",
                            indexes="unique (lower(email))")
    with pytest.raises(ModelFailed) as caught:
        materialize(people, duplicated)
    assert str(caught.value).startswith(
        'models/marts/people.sql:2: could not create unique index "people__weir_new_expr_'
    )
    assert "Key (lower(email))=(a@x.org) is duplicated." in str(caught.value)
    missing = make_model("SELECT id, email FROM raw.people", name="people", kind="table",
                         indexes="(lower(mail))")
    with pytest.raises(ModelFailed, match=r'^models/marts/people\.sql:2: column "mail" does not exist'):
        materialize(people, missing)
    assert people.execute("SELECT to_regclass('marts.people')").fetchone()[0] is None


def test_a_table_kept_across_builds_gets_the_partial_index_its_header_gained(
    people: psycopg.Connection, make_model
) -> None:
    sql = "SELECT id, email, updated_at FROM raw.people WHERE updated_at > weir.since('marts.people')"
    options = {"unique_key": "id", "watermark": "updated_at", "full_refresh_on_change": "false"}
    materialize(people, make_model(sql, name="people", kind="incremental", **options))
    result = materialize(people, make_model(sql, name="people", kind="incremental", indexes="email where id > 1",
                                            **options))
    assert result.note.startswith("SQL changed: new logic applied to new rows only (full_refresh_on_change=false);"
                                  " created index people_email_")
    assert "marts.people USING btree (email) WHERE (id > 1)" in index_definitions(people).values()
