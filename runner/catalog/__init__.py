"""The database's own description of the relations Weir manages: tables, views, columns, keys.

`read_catalog(conn)` returns a `Catalog`: frozen, sorted values with nothing that varies from
one database to the next (no OIDs), so what is generated from it (docs, contracts, plans)
is the same for the same schema.
"""

from runner.catalog.model import Catalog, Column, Constraint, Index, Relation
from runner.catalog.read import INTERNAL_SUFFIXES, allowed_values, read_catalog

__all__ = ["INTERNAL_SUFFIXES", "Catalog", "Column", "Constraint", "Index", "Relation", "allowed_values",
           "read_catalog"]
