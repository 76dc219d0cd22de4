"""The catalog reader against a real schema: columns, keys, checks, enums, views, and what it leaves out."""

from __future__ import annotations

import psycopg
import pytest

from runner.catalog import allowed_values, read_catalog

SCHEMA = """
CREATE SCHEMA shop;
CREATE TYPE shop.mood AS ENUM ('happy', 'sad');
CREATE DOMAIN shop.positive AS numeric(12,2) CHECK (VALUE > 0);
CREATE TABLE shop.customer (
    customer_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'active', 'it''s gone')),
    moods shop.mood[],
    balance shop.positive,
    created_at timestamptz NOT NULL DEFAULT now(),
    email_domain text GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED
);
COMMENT ON TABLE shop.customer IS 'Who buys.';
COMMENT ON COLUMN shop.customer.email IS 'Where receipts go.';
CREATE TABLE shop.orders (
    order_id int PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES shop.customer (customer_id),
    quantity int CHECK (quantity > 0)
);
ALTER TABLE shop.orders DROP COLUMN quantity;
ALTER TABLE shop.orders ADD COLUMN total numeric(12, 2);
CREATE VIEW shop.big_orders AS SELECT order_id, total FROM shop.orders WHERE total > 100;
CREATE TABLE shop.orders__rejected (LIKE shop.orders);
CREATE TABLE shop.orders__weir_new (LIKE shop.orders);
"""


@pytest.fixture
def catalog(db: psycopg.Connection):
    db.execute(SCHEMA)
    return read_catalog(db)


def test_reads_tables_and_views_sorted_without_weirs_own_relations(catalog) -> None:
    assert [(r.qualified, r.kind) for r in catalog.relations] == [
        ("shop.big_orders", "view"), ("shop.customer", "table"), ("shop.orders", "table"),
    ]
    assert catalog.schemas() == ("shop",)
    assert catalog.relation("shop.nope") is None


def test_columns_carry_type_nullability_default_generation_and_comment(catalog) -> None:
    customer = catalog.relation("shop.customer")
    assert customer.comment == "Who buys."
    assert [c.name for c in customer.columns] == [
        "customer_id", "email", "status", "moods", "balance", "created_at", "email_domain"]
    identity, email, status, moods, balance, created_at, domain = customer.columns
    assert (identity.type, identity.base_type, identity.identity) == ("bigint", "int8", "always")
    assert not identity.nullable
    assert (email.comment, email.nullable, email.default) == ("Where receipts go.", False, None)
    assert status.default == "'new'::text"
    assert (moods.type, moods.is_array, moods.base_type, moods.enum_values) == (
        "shop.mood[]", True, "mood", ("happy", "sad"))
    assert (balance.type, balance.base_type, balance.nullable) == ("shop.positive", "numeric", True)
    assert created_at.type == "timestamp with time zone"
    assert (domain.generated, domain.default) == (True, None)
    assert domain.generation_expression == "split_part(email, '@'::text, 2)"
    assert created_at.generation_expression is None


def test_dropped_columns_leave_no_gap_in_the_list(catalog) -> None:
    orders = catalog.relation("shop.orders")
    assert [(c.name, c.position) for c in orders.columns] == [("order_id", 1), ("customer_id", 2), ("total", 4)]
    assert orders.column("total").type == "numeric(12,2)"


def test_constraints_keys_and_the_values_a_check_allows(catalog) -> None:
    customer = catalog.relation("shop.customer")
    assert customer.primary_key == ("customer_id",)
    kinds = {(c.kind, c.columns) for c in customer.constraints}
    assert ("unique", ("email",)) in kinds
    status_check = next(c for c in customer.constraints if c.kind == "check" and c.columns == ("status",))
    assert status_check.allowed_values == ("new", "active", "it's gone")
    orders = catalog.relation("shop.orders")
    foreign = next(c for c in orders.constraints if c.kind == "foreign key")
    assert (foreign.columns, foreign.references, foreign.referenced_columns) == (
        ("customer_id",), "shop.customer", ("customer_id",))
    assert [i.name for i in customer.indexes] == ["customer_email_key", "customer_pkey"]


def test_views_keep_their_definition(catalog) -> None:
    view = catalog.relation("shop.big_orders")
    assert "FROM shop.orders" in view.view_definition
    assert view.constraints == () and view.primary_key == ()


def test_reading_twice_gives_equal_catalogs(db: psycopg.Connection, catalog) -> None:
    assert read_catalog(db) == catalog
    assert read_catalog(db, ["nothing_here"]).relations == ()


@pytest.mark.parametrize(("definition", "expected"), [
    ("CHECK ((status = ANY (ARRAY['a'::text, 'b'::text])))", ("a", "b")),
    ("CHECK (((kind)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])::text[])))", ("x", "y")),
    ("CHECK ((quantity > 0))", None),
    ("CHECK ((status = ANY (ARRAY['a'::text, lower(other)])))", None),
])
def test_allowed_values_reads_only_plain_lists_of_strings(definition: str, expected) -> None:
    assert allowed_values(definition) == expected
