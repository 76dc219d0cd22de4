"""The example warehouse's raw schema in migrations/: it reads, applies, documents itself, and rolls back."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runner.db.execute import run_in_transaction, run_outside_transaction
from runner.migrate.verify import verify_migrations
from runner.project.migrations import Migration, read_migrations
from runner.project.pii import source_pii
from runner.project.settings import Timeouts
from runner.project.sqlfile import SqlFile

ROOT = Path(__file__).resolve().parents[2]
TIMEOUTS = Timeouts(lock_timeout="5s", statement_timeout="1min", lock_retries=0)
RAW_TABLES = ["customers", "order_items", "orders", "products"]

_TABLES = "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'r' ORDER BY 1"
_UNCOMMENTED = """
SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'r' AND coalesce(d.description, '') = ''
UNION ALL
SELECT c.relname, NULL
FROM pg_class c
WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'r' AND coalesce(obj_description(c.oid, 'pg_class'), '') = ''
"""
# Columns that must lead some index: every foreign key column and every updated_at.
_UNINDEXED = """
WITH wanted AS (
    SELECT con.conrelid AS relid, con.conkey[1] AS attnum
    FROM pg_constraint con
    WHERE con.contype = 'f' AND con.connamespace = 'raw'::regnamespace
    UNION
    SELECT a.attrelid, a.attnum
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'r' AND a.attname = 'updated_at'
)
SELECT w.relid::regclass::text, a.attname
FROM wanted w JOIN pg_attribute a ON a.attrelid = w.relid AND a.attnum = w.attnum
WHERE NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = w.relid AND i.indkey[0] = w.attnum AND i.indisvalid)
ORDER BY 1, 2
"""
_COLUMN_TYPES = """
SELECT c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'raw'::regnamespace AND c.relkind = 'r'
"""


def example_migrations() -> list[Migration]:
    """Read the repository's own migrations/ as Weir does."""
    return read_migrations(ROOT / "migrations", ROOT)


def by_id(migration_id: str) -> Migration:
    """Return the example migration `migration_id`."""
    return next(m for m in example_migrations() if m.id == migration_id)


def run(db: psycopg.Connection, sql_file: SqlFile, display: str, transactional: bool) -> None:
    """Run one file the way the runner does: in a transaction unless it opts out."""
    if transactional:
        run_in_transaction(db, sql_file, display, TIMEOUTS)
    else:
        run_outside_transaction(db, sql_file, display, TIMEOUTS)


def apply_all(db: psycopg.Connection) -> None:
    """Apply every example migration in order."""
    for migration in example_migrations():
        run(db, migration.forward, migration.display, migration.transactional)


def roll_back_all(db: psycopg.Connection) -> None:
    """Run every rollback file, newest first."""
    for migration in reversed(example_migrations()):
        assert migration.rollback is not None
        run(db, migration.rollback, migration.id + ".rollback.sql", migration.rollback_transactional)


@pytest.fixture
def raw(db: psycopg.Connection) -> psycopg.Connection:
    """A fresh database with the example raw schema applied."""
    apply_all(db)
    return db


@pytest.fixture
def shop(raw: psycopg.Connection) -> psycopg.Connection:
    """The raw schema with two customers (one with an order of two lines) and two products."""
    raw.execute(
        """
        INSERT INTO raw.customers (customer_id, email, full_name, city, country, created_at, updated_at)
        VALUES (1, 'ada@example.com', 'Ada L', 'London', 'GB', '2024-01-01', '2024-01-01'),
               (2, 'bob@example.com', 'Bob B', 'Berlin', 'DE', '2024-01-02', '2024-01-02');
        INSERT INTO raw.products (product_id, sku, name, category, price_cents)
        VALUES (1, 'BK-1', 'A book', 'books', 1500), (2, 'GD-1', 'A rake', 'garden', 2599);
        INSERT INTO raw.orders (order_id, customer_id, ordered_at) VALUES (1, 1, '2024-02-01 10:00+00');
        INSERT INTO raw.order_items (order_id, product_id, quantity, unit_price_cents)
        VALUES (1, 1, 2, 1500), (1, 2, 1, 2599);
        """
    )
    return raw


def scalar(db: psycopg.Connection, query: str) -> object:
    """Return the single value `query` selects."""
    return db.execute(query).fetchone()[0]


def test_every_migration_reads_and_has_a_rollback():
    migrations = example_migrations()
    assert [m.id for m in migrations] == [
        "0001_raw_schema",
        "0002_customers_and_products",
        "0003_orders",
        "0004_order_items",
        "0005_orders_ordered_at_index",
        "0006_customers_personal_data",
    ]
    assert all(m.rollback is not None and m.irreversible is None for m in migrations)


def test_only_the_concurrent_index_runs_outside_a_transaction():
    concurrent = [m.id for m in example_migrations() if not m.transactional or not m.rollback_transactional]
    assert concurrent == ["0005_orders_ordered_at_index"]
    migration = by_id("0005_orders_ordered_at_index")
    assert not migration.rollback_transactional
    assert migration.forward.statements[0].outside_transaction


def test_the_concurrent_index_rerun_replaces_the_invalid_index_a_failed_build_left(db):
    index = by_id("0005_orders_ordered_at_index")
    for migration in example_migrations()[:example_migrations().index(index)]:
        run(db, migration.forward, migration.display, migration.transactional)
    db.execute("""
        INSERT INTO raw.customers (customer_id, email, full_name, city, country, created_at, updated_at)
        VALUES (1, 'ada@example.com', 'Ada L', 'London', 'GB', '2024-01-01', '2024-01-01');
        INSERT INTO raw.orders (order_id, customer_id, ordered_at)
        VALUES (1, 1, '2024-02-01 10:00+00'), (2, 1, '2024-02-02 10:00+00');
    """)
    # A concurrent build that fails (here: a unique index over a repeated value) leaves its index INVALID.
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY orders_ordered_at_idx ON raw.orders (customer_id)")
    run(db, index.forward, index.display, index.transactional)
    assert db.execute(
        "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indexrelid = 'raw.orders_ordered_at_idx'::regclass"
    ).fetchone() == (True, "CREATE INDEX orders_ordered_at_idx ON raw.orders USING btree (ordered_at)")


def test_applying_them_creates_the_raw_tables(raw):
    assert [row[0] for row in raw.execute(_TABLES)] == RAW_TABLES
    assert scalar(raw, "SELECT to_regprocedure('raw.touch_updated_at()') IS NOT NULL") is True


def test_every_raw_table_and_column_has_a_comment(raw):
    assert raw.execute(_UNCOMMENTED).fetchall() == []


def test_every_foreign_key_and_updated_at_column_is_indexed(raw):
    assert raw.execute(_UNINDEXED).fetchall() == []
    foreign_keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'raw'::regnamespace"
    assert scalar(raw, foreign_keys) == 3


def test_times_are_timestamptz_and_money_is_integer_cents(raw):
    types = dict(raw.execute(_COLUMN_TYPES).fetchall())
    times = {name: kind for name, kind in types.items() if name.endswith(("_at", "_time"))}
    money = {name: kind for name, kind in types.items() if name.endswith("_cents")}
    assert len(times) == 9 and set(times.values()) == {"timestamp with time zone"}
    assert money == {"products.price_cents": "bigint", "order_items.unit_price_cents": "bigint"}


def test_the_personal_columns_are_tagged_pii_and_nothing_else(raw):
    tagged = raw.execute(
        "SELECT c.relname || '.' || a.attname, d.description FROM pg_description d"
        " JOIN pg_class c ON c.oid = d.objoid JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid"
        " WHERE c.relnamespace = 'raw'::regnamespace AND d.description ~* '^PII' ORDER BY 1").fetchall()
    assert tagged == [("customers.email", "PII(email) Login e-mail address, lower case, unique."),
                      ("customers.full_name", "PII(redact) Name as the customer entered it.")]
    assert {(relation, column, tag.mask) for (relation, column), tag in source_pii(example_migrations()).items()} == {
        ("raw.customers", "email", "email"), ("raw.customers", "full_name", "redact")}


def test_rolling_back_the_pii_tags_restores_the_comments_0002_wrote(raw):
    tags = by_id("0006_customers_personal_data")
    assert tags.rollback is not None
    run(raw, tags.rollback, tags.id + ".rollback.sql", tags.rollback_transactional)
    assert raw.execute(
        "SELECT col_description('raw.customers'::regclass, attnum) FROM pg_attribute"
        " WHERE attrelid = 'raw.customers'::regclass AND attname IN ('email', 'full_name') ORDER BY attname"
    ).fetchall() == [("Login e-mail address, lower case, unique.",), ("Name as the customer entered it.",)]


def test_rolling_them_all_back_leaves_no_raw_schema(raw):
    roll_back_all(raw)
    assert scalar(raw, "SELECT count(*) FROM pg_namespace WHERE nspname = 'raw'") == 0


def test_they_apply_again_after_a_full_rollback(raw):
    roll_back_all(raw)
    apply_all(raw)
    assert [row[0] for row in raw.execute(_TABLES)] == RAW_TABLES


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("UPDATE raw.order_items SET quantity = 0", "order_items_quantity_check"),
        ("UPDATE raw.order_items SET unit_price_cents = -1", "order_items_unit_price_cents_check"),
        ("UPDATE raw.products SET price_cents = -1", "products_price_cents_check"),
        ("UPDATE raw.orders SET status = 'lost'", "orders_status_check"),
        ("UPDATE raw.customers SET email = 'Ada@Example.com' WHERE customer_id = 1", "customers_email_check"),
        ("UPDATE raw.customers SET email = 'bob@example.com' WHERE customer_id = 1", "customers_email_key"),
        ("UPDATE raw.customers SET country = 'Germany'", "customers_country_check"),
        ("UPDATE raw.products SET sku = 'BK-1'", "products_sku_key"),
        ("UPDATE raw.orders SET updated_at = '2000-01-01'", "orders_updated_at_check"),
        ("INSERT INTO raw.orders (order_id, customer_id, ordered_at) VALUES (2, 99, now())", "orders_customer_id_fkey"),
        ("INSERT INTO raw.order_items (order_id, product_id, quantity, unit_price_cents) VALUES (1, 99, 1, 1)",
         "order_items_product_id_fkey"),
        ("DELETE FROM raw.customers WHERE customer_id = 1", "orders_customer_id_fkey"),
        ("DELETE FROM raw.products WHERE product_id = 1", "order_items_product_id_fkey"),
    ],
)
def test_constraints_reject_bad_rows(shop, statement, constraint):
    with pytest.raises(psycopg.errors.IntegrityError) as caught:
        shop.execute(statement)
    assert caught.value.diag.constraint_name == constraint


def test_a_customer_without_orders_can_be_deleted(shop):
    shop.execute("DELETE FROM raw.customers WHERE customer_id = 2")
    assert scalar(shop, "SELECT array_agg(customer_id) FROM raw.customers") == [1]


def test_deleting_an_order_deletes_its_items(shop):
    shop.execute("DELETE FROM raw.orders WHERE order_id = 1")
    assert scalar(shop, "SELECT count(*) FROM raw.order_items") == 0


def test_a_change_moves_updated_at_forward(shop):
    with shop.transaction():  # one transaction, so now() is the instant of the UPDATE
        shop.execute("UPDATE raw.customers SET city = 'Paris', country = 'FR' WHERE customer_id = 1")
        assert scalar(shop, "SELECT updated_at = now() FROM raw.customers WHERE customer_id = 1") is True
    assert scalar(shop, "SELECT updated_at = '2024-01-02' FROM raw.customers WHERE customer_id = 2") is True


def test_a_change_to_a_row_stamped_in_the_future_still_moves_it_forward(shop):
    shop.execute("UPDATE raw.orders SET updated_at = '2999-01-01 00:00+00'")
    shop.execute("UPDATE raw.orders SET status = 'paid'")
    assert scalar(shop, "SELECT updated_at = '2999-01-01 00:00:00.000001+00' FROM raw.orders") is True


def test_an_update_that_changes_nothing_keeps_updated_at(shop):
    shop.execute("UPDATE raw.customers SET city = city")
    assert scalar(shop, "SELECT count(*) FROM raw.customers WHERE updated_at < '2024-01-03'") == 2


def test_an_update_that_sets_updated_at_keeps_it(shop):
    shop.execute("UPDATE raw.products SET price_cents = 1700, updated_at = '2030-05-01 12:00+00' WHERE product_id = 1")
    assert scalar(shop, "SELECT updated_at = '2030-05-01 12:00+00' FROM raw.products WHERE product_id = 1") is True


def test_weir_verify_proves_every_rollback(db):
    report = verify_migrations(db, example_migrations(), TIMEOUTS)
    assert [(result.id, result.status) for result in report.results] == [
        (migration.id, "ok") for migration in example_migrations()
    ]
