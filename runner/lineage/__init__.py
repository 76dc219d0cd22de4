"""Column lineage: for every output column of a SELECT, the source columns it is computed from, and how.

Derived from PostgreSQL's own parse tree (pglast), without a database: through CTEs,
joins, subqueries, LATERAL, set operations, aggregates, window functions and `*`
expansion. `*` over a relation needs its columns: the caller's `columns_of` gives a
source table's (from the catalog); a model's are what its own lineage found.

    from runner.lineage import project_lineage
    lineage = project_lineage(project, columns_of)
    lineage.origins("marts.fact_order_items", "order_date")   # one level up
    lineage.upstream("marts.fact_order_items", "order_date")  # down to source columns
    lineage.readers("raw.orders", "customer_id")               # models and checks reading it
"""

from runner.lineage.origins import UNRESOLVED, LineageTree, Origin
from runner.lineage.project import CHECK_PREFIX, Lineage, project_lineage
from runner.lineage.scope import STAR
from runner.lineage.select import ColumnsOf, RelationName, SelectLineage, analyze_select
from runner.lineage.tree import catalog_columns, tree_lines


def select_lineage(
    sql: str, columns_of: ColumnsOf, *, relation_name: RelationName | None = None
) -> dict[str, tuple[Origin, ...]]:
    """Return each output column of one SELECT -> the columns of the relations it reads that it is computed from.

    `columns_of('schema.name')` gives a relation's columns (for `*` expansion), None when unknown.
    Raises LineageError when `sql` is not one SELECT.
    """
    return analyze_select(sql, columns_of, relation_name=relation_name).lineage


def read_columns(
    sql: str, columns_of: ColumnsOf, *, relation_name: RelationName | None = None
) -> frozenset[tuple[str, str]]:
    """Return every (relation, column) the SELECT reads anywhere: output, WHERE, JOIN ON, GROUP BY, ...

    Column '*' stands for every column of a relation whose columns are unknown.
    """
    return analyze_select(sql, columns_of, relation_name=relation_name).reads


__all__ = [
    "CHECK_PREFIX", "STAR", "UNRESOLVED", "ColumnsOf", "Lineage", "LineageTree", "Origin", "RelationName",
    "SelectLineage", "analyze_select", "catalog_columns", "project_lineage", "read_columns", "select_lineage",
    "tree_lines",
]
