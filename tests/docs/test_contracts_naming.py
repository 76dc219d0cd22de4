"""Contract names: snake_case columns to camelCase fields, relations to PascalCase, collisions, quoting."""

from __future__ import annotations

import pytest

from runner.catalog import Catalog, Column, Relation
from runner.docs.contracts import typescript
from runner.docs.contracts.naming import camel, pascal, ts_property, unique
from runner.docs.contracts.shape import entities


@pytest.mark.parametrize(("column", "field"), [
    ("order_id", "orderId"),
    ("unit_price_cents", "unitPriceCents"),
    ("id", "id"),
    ("URL", "url"),
    ("URL_PATH", "urlPath"),
    ("userID", "userID"),
    ("address_2", "address2"),
    ("_private", "private"),
    ("double__underscore", "doubleUnderscore"),
    ("with space-and-dash", "withSpaceAndDash"),
    ("straße_nr", "straßeNr"),
    ("2fa_enabled", "2faEnabled"),
    ("class", "class"),
    ("___", "field"),
])
def test_camel_case_of_a_column(column: str, field: str) -> None:
    assert camel(column) == field


@pytest.mark.parametrize(("parts", "name"), [
    (("raw", "order_items"), "RawOrderItems"),
    (("marts", "dim_customer"), "MartsDimCustomer"),
    (("public", "URL_LOG"), "PublicUrlLog"),
    (("2024", "sales"), "T2024Sales"),
    (("", ""), "Relation"),
])
def test_pascal_case_of_a_relation(parts: tuple[str, ...], name: str) -> None:
    assert pascal(*parts) == name


def test_unique_suffixes_later_names_in_order() -> None:
    assert unique(["orderId", "orderId", "orderId2", "total"], taken=["total"]) == [
        "orderId", "orderId2", "orderId22", "total2"]


@pytest.mark.parametrize(("name", "key"), [
    ("orderId", "orderId"),
    ("class", "class"),  # reserved words are valid property names in TypeScript
    ("default", "default"),
    ("2faEnabled", '"2faEnabled"'),
    ("straßeNr", '"stra\\u00dfeNr"'),
])
def test_typescript_property_keys_are_quoted_only_when_they_must_be(name: str, key: str) -> None:
    assert ts_property(name) == key


def _column(name: str, position: int) -> Column:
    return Column(name=name, position=position, type="text", base_type="text", is_array=False, nullable=True,
                  default=None, generated=False, identity=None, comment=None, enum_values=None)


def _relation(schema: str, name: str, *columns: str) -> Relation:
    return Relation(schema=schema, name=name, kind="view", comment=None,
                    columns=tuple(_column(column, i) for i, column in enumerate(columns, start=1)),
                    constraints=(), indexes=(), view_definition=None)


def test_colliding_fields_keep_column_order_and_the_later_one_gets_a_suffix() -> None:
    catalog = Catalog((_relation("shop", "t", "order_id", "orderId", "order__id"),))
    fields = entities(catalog)[0].fields
    assert [(f.column.name, f.name) for f in fields] == [
        ("order_id", "orderId"), ("orderId", "orderId2"), ("order__id", "orderId3")]
    assert 'orderId2: "orderId",' in typescript(catalog)


def test_colliding_relations_get_suffixes_in_catalog_order_and_never_shadow_json_value() -> None:
    catalog = Catalog((_relation("a", "b_c"), _relation("a_b", "c"), _relation("json", "value")))
    assert [entity.name for entity in entities(catalog)] == ["ABC", "ABC2", "JsonValue2"]


def test_relations_choose_what_is_written_in_catalog_order_and_an_unknown_one_is_refused() -> None:
    catalog = Catalog((_relation("a", "x", "id"), _relation("b", "y", "id"), _relation("c", "z", "id")))
    assert [entity.name for entity in entities(catalog, ["c.z", "a.x"])] == ["AX", "CZ"]
    with pytest.raises(ValueError, match=r"not in the catalog: a\.nope"):
        entities(catalog, ["a.x", "a.nope"])
