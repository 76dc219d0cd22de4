"""Model files: `models/<schema>/<name>.sql`, one SELECT each, with a `-- weir:` header.

Reading a model checks everything that can be checked without a database: the header,
that the file is exactly one SELECT, and which relations the SELECT reads (found with
PostgreSQL's own parser, pglast), so a bad file fails before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.sqlfile import Directive


@dataclass(frozen=True)
class Model:
    """One model: the relation `schema.name` built from the SELECT in its file."""

    schema: str  # from models/<schema>/<name>.sql
    name: str
    path: Path
    display: str  # path relative to the project root, for messages
    sql: str  # the SELECT, exactly as in the file minus the trailing semicolon and header
    sql_line: int  # line in the file where the SELECT starts (to map PostgreSQL error positions)
    kind: str  # "view" | "table" | "incremental" | "scd2"
    directives: dict[str, Directive]  # raw header directives
    tags: frozenset[str]
    description: str | None
    relations: frozenset[tuple[str, str]]  # every relation the SELECT reads, schema-qualified, CTEs excluded
    checksum: str  # runner.sqlfile.checksum of the file text

    @property
    def qualified(self) -> str:
        """Return "schema.name"."""
        return f"{self.schema}.{self.name}"

    def option(self, key: str, default: str | None = None) -> str | None:
        """Return the value of header directive `key`, or `default` when it is not set."""
        directive = self.directives.get(key)
        return directive.value if directive is not None else default
