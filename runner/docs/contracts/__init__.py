"""The binding type contracts of the warehouse: TYPE-CONTRACTS.ts, its Python twin contracts.py,
and how a new version of the contracts differs from the committed one (breaking or additive).

    from runner.docs.contracts import classify, python, typescript

    ts = typescript(catalog, ["raw.orders", "marts.fact_order_items"])
    for change in classify(committed_ts, ts):
        print(change)           # breaking: RawOrders.status now allows null

Field names are the columns in camelCase; types are exact (bigint and numeric are strings in
TypeScript, int and Decimal in Python). The rules: runner.docs.contracts.shape (DTOs),
runner.docs.contracts.types (types), runner.docs.contracts.classify (changes).
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.catalog import Catalog
from runner.docs.contracts import python_file, typescript_file
from runner.docs.contracts.classify import ADDITIVE, BREAKING, ContractChange, classify, describe
from runner.docs.contracts.shape import entities

__all__ = ["ADDITIVE", "BREAKING", "ContractChange", "classify", "classify_change", "describe", "python",
           "python_contracts", "typescript", "typescript_contracts"]


def typescript(catalog: Catalog, relations: Sequence[str] | None = None) -> str:
    """Return TYPE-CONTRACTS.ts for the relations named `schema.name` (default: every one in `catalog`)."""
    return typescript_file.render(entities(catalog, relations))


def python(catalog: Catalog, relations: Sequence[str] | None = None) -> str:
    """Return contracts.py for the relations named `schema.name` (default: every one in `catalog`)."""
    return python_file.render(entities(catalog, relations))


# The names runner.docs.contracts_seam looks for.
def typescript_contracts(catalog: Catalog) -> str:
    """Return TYPE-CONTRACTS.ts for every relation of `catalog`."""
    return typescript(catalog)


def python_contracts(catalog: Catalog) -> str:
    """Return contracts.py for every relation of `catalog`."""
    return python(catalog)


def classify_change(old_text: str, new_text: str) -> str:
    """Return the changes from one TYPE-CONTRACTS.ts to another, a line each (see `describe`)."""
    return describe(classify(old_text, new_text))
