"""The `distribute` directive: how a model's table is spread over a Citus cluster.

    distribute=customer_key     a distributed table, hash-partitioned on that output column
    distribute=reference        a reference table, copied whole to every node (small dimensions)

On PostgreSQL without Citus the directive changes nothing, so one project runs on both. What
Citus cannot do is refused when the project is read (so by `weir lint` too), not halfway
through a build on the cluster: a unique key or unique index that leaves out the
distribution column, and history (scd2) spread by hash, whose version key is a unique key
of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runner.project.indexes import parse_index
from runner.project.sqlfile import column_name

REFERENCE = "reference"


def distribution_problem(
    kind: str, distribute: str, unique_key: Sequence[str], indexes: str | None
) -> str | None:
    """Return why Citus would refuse this model's distribution (with what to write instead), or None.

    `distribute`, `unique_key` and the columns of `indexes` are as PostgreSQL names them.
    """
    if distribute == REFERENCE:
        return None
    if kind == "scd2":
        return ("an scd2 history cannot be distributed by hash on Citus: its version key is unique on its own;"
                " write distribute=reference (dimensions are small) or leave distribute out")
    if unique_key and distribute not in unique_key:
        return (f"distribute={distribute} is not in unique_key ({' '.join(unique_key)}); Citus needs every"
                " unique key to include the distribution column: add it to unique_key, or distribute by one of"
                " the key's columns")
    for part in (indexes or "").split(";"):
        index = parse_index(part)
        if index.unique and index.definition is None and distribute not in _folded(index.columns):
            return (f"the unique index on ({', '.join(index.columns)}) leaves out distribute={distribute};"
                    " Citus needs every unique index to include the distribution column: add it to the index")
    return None


def _folded(columns: Iterable[str]) -> set[str]:
    return {column_name(column) for column in columns}
