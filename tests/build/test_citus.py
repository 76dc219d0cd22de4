"""Citus: the statements that distribute a model's table, colocation, and that plain PostgreSQL is left alone.

Citus is not installable here, so the statements are compared with what its documentation
asks for, rendered by a real connection; the build is run for real on plain PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from runner.build.materialize.citus import distribution_statements
from runner.project.models import read_models


def rendered(conn: psycopg.Connection, model, table: str) -> list[str]:
    return [statement.as_string(conn) for statement in distribution_statements(model, table)]


def test_a_fact_is_distributed_on_its_column_and_colocated_with_the_dimension_it_joins_on_it(
    tmp_path: Path, write_models, db: psycopg.Connection
) -> None:
    models = read_models(write_models(tmp_path, {
        "models/marts/dim_store.sql": "-- weir: kind=table, unique_key=store_id, distribute=store_id\n"
                                      "SELECT 1 AS store_id",
        "models/marts/dim_region.sql": "-- weir: kind=table, distribute=reference\nSELECT 1 AS region_id",
        "models/marts/fact_sale.sql": "-- weir: kind=table, unique_key=\"store_id sale_id\", distribute=store_id\n"
                                      "SELECT s.store_id, 1 AS sale_id FROM marts.dim_store s, marts.dim_region r",
        "models/marts/fact_return.sql": "-- weir: kind=table, distribute=sale_id\nSELECT 1 AS sale_id",
        "models/marts/plain.sql": "-- weir: kind=table\nSELECT 1 AS x",
    }), tmp_path)
    by_name = {model.name: model for model in models}
    assert [by_name[name].colocate_with for name in ("dim_store", "dim_region", "fact_sale", "fact_return")] == [
        None, None, "marts.dim_store", None]
    assert rendered(db, by_name["fact_sale"], "fact_sale__weir_new") == [
        "SELECT create_distributed_table(format('%I.%I', 'marts', 'fact_sale__weir_new')::regclass, 'store_id',"
        " colocate_with => format('%I.%I', 'marts', 'dim_store')::regclass::text)",
        "SELECT truncate_local_data_after_distributing_table("
        "format('%I.%I', 'marts', 'fact_sale__weir_new')::regclass)",
    ]
    assert rendered(db, by_name["fact_return"], "t")[0] == (
        "SELECT create_distributed_table(format('%I.%I', 'marts', 't')::regclass, 'sale_id',"
        " colocate_with => 'default')")
    assert rendered(db, by_name["dim_region"], "dim_region__weir_new")[0] == (
        "SELECT create_reference_table(format('%I.%I', 'marts', 'dim_region__weir_new')::regclass)")
    assert rendered(db, by_name["plain"], "plain") == []


def test_the_regclass_names_the_relation_even_when_it_needs_quotes(db: psycopg.Connection, tmp_path: Path,
                                                                     write_models) -> None:
    db.execute('CREATE SCHEMA marts; CREATE TABLE marts."Odd Name" (x int)')
    model = read_models(write_models(tmp_path, {
        "models/marts/odd.sql": "-- weir: kind=table, distribute=reference\nSELECT 1 AS x"}), tmp_path)[0]
    create = distribution_statements(model, "Odd Name")[0].as_string(db)
    regclass = create[len("SELECT create_reference_table("):-1]
    assert db.execute(f"SELECT {regclass}::oid = 'marts.\"Odd Name\"'::regclass::oid").fetchone() == (True,)


def test_without_citus_distributed_models_build_as_plain_tables(tmp_path: Path, write_models, db, dsn, weir) -> None:
    write_models(tmp_path, {
        "models/marts/dim_store.sql": "-- weir: kind=table, unique_key=store_id, distribute=store_id\n"
                                      "SELECT g AS store_id FROM generate_series(1, 3) g",
        "models/marts/dim_region.sql": "-- weir: kind=scd2, natural_key=region_id, updated_at=changed_at\n"
                                       "-- weir: distribute=reference\n"
                                       "SELECT 1 AS region_id, now() AS changed_at",
        "models/marts/fact_sale.sql": "-- weir: kind=incremental, unique_key=\"store_id sale_id\", watermark=at\n"
                                      "-- weir: distribute=store_id\n"
                                      "SELECT store_id, 1 AS sale_id, now() AS at FROM marts.dim_store",
    })
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 0, built.output
    assert db.execute("SELECT count(*) FROM marts.fact_sale").fetchone() == (3,)
    assert db.execute("SELECT count(*) FROM marts.dim_region WHERE is_current").fetchone() == (1,)
    assert db.execute("SELECT extname FROM pg_extension WHERE extname = 'citus'").fetchall() == []
