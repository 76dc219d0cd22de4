"""A model's `indexes` directive: each `;`-separated part declares one index on the model's table.

    updated_at                          a btree index on a column, or on several: customer_id valid_from
    unique email                        a unique index (also: unique (shop, sku))
    email where is_current              a partial index: any part may end in WHERE <predicate>
    (lower(email))                      an expression index: a part starting with `(` or `using` is
    using gin (tags)                    CREATE INDEX's own text after `ON table`, INCLUDE, WITH,
    unique (shop, sku) include (price)  NULLS NOT DISTINCT and WHERE included

Reading a project checks every part that is more than a list of columns with PostgreSQL's
parser, wrapped into `CREATE INDEX ON t ...`, so a typo fails at the directive's line before
anything runs. A unique index on exactly the columns of `unique_key`, with nothing else,
enforces that key in place of the primary key Weir would otherwise add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.project.statements import parse_error_text

_UNIQUE = re.compile(r"^unique\b\s*", re.IGNORECASE)
_SQL_FORM = re.compile(r"^(?:\(|using\b)", re.IGNORECASE)
_WHERE = re.compile(r"(?:^|\s)where(?:\s|$)", re.IGNORECASE)
_COLUMN = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_COLUMN_LIST = re.compile(
    rf"^\(\s*({_COLUMN}(?:\s*,\s*{_COLUMN})*)\s*\)\s*(?:where\s+(?P<where>.*))?$", re.IGNORECASE | re.DOTALL
)
_EXAMPLE = 'write e.g. indexes="updated_at; unique (lower(email)) where is_current"'


@dataclass(frozen=True)
class Index:
    """One declared index: a list of columns (maybe partial), or CREATE INDEX's text after `ON table`."""

    unique: bool
    columns: tuple[str, ...]  # as written, in a Model as PostgreSQL names them; () when `definition` holds the index
    where: str | None  # the predicate of a partial index on `columns`
    definition: str | None  # e.g. "(lower(email)) WHERE is_current", "USING gin (tags)"
    text: str  # the part as written, for messages

    @property
    def plain(self) -> bool:
        """Whether the index is its columns and nothing else (no predicate, no expression)."""
        return self.definition is None and self.where is None


def parse_index(part: str) -> Index:
    """Return the index one `;`-separated part of `indexes` declares (its SQL is checked by index_problem)."""
    text = part.strip()
    rest = _UNIQUE.sub("", text, count=1)
    unique = rest != text
    if _SQL_FORM.match(rest):
        listed = _COLUMN_LIST.match(rest)
        if listed is None:
            return Index(unique, (), None, rest, text)
        columns = tuple(column.strip() for column in _split_columns(listed.group(1)))
        return Index(unique, columns, _predicate(listed.group("where")), None, text)
    where = _WHERE.search(rest)
    if where is None:
        return Index(unique, tuple(rest.split()), None, None, text)
    return Index(unique, tuple(rest[: where.start()].split()), rest[where.end():].strip(), None, text)


def index_problem(index: Index) -> str | None:
    """Say why PostgreSQL would not parse this index as CREATE INDEX, or return None."""
    if index.plain:
        return None
    from pglast import parser  # costs 0.05 s to import; only headers with such indexes need it

    body = index.definition if index.definition is not None else f"(weir__column) WHERE {index.where}"
    statement = f"CREATE INDEX ON weir__model {body}"
    try:
        parsed = parser.parse_sql(statement)
    except parser.ParseError as exc:
        return f"indexes: {index.text!r} is not an index: {parse_error_text(exc.args[0])}; {_EXAMPLE}"
    if len(parsed) != 1 or type(parsed[0].stmt).__name__ != "IndexStmt":
        return f"indexes: {index.text!r} is not one index; separate indexes with ';'"
    return None


def key_index(indexes: tuple[Index, ...], unique_key: tuple[str, ...]) -> Index | None:
    """Return the declared plain unique index on exactly the `unique_key` columns (as a Model holds them), if any."""
    for index in indexes:
        if index.unique and index.plain and unique_key and sorted(index.columns) == sorted(unique_key):
            return index
    return None


def _split_columns(listed: str) -> list[str]:
    """Split `a, "b, c", d` at the commas outside quotes."""
    return [match.group(0) for match in re.finditer(_COLUMN, listed)]


def _predicate(text: str | None) -> str | None:
    return None if text is None else text.strip()
