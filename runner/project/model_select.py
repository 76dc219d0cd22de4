"""What a model's SELECT reads and calls, found with PostgreSQL's own parser (pglast).

A model file's header says how to build it (runner.project.models); its SELECT says what it
depends on: the relations it reads (CTE names excluded, scope by scope), the functions it
calls, which of them change between runs, and its `weir.since(...)` calls. What a parse
found is kept in the project's parse cache, so an unchanged file is not parsed again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from psycopg import sql as psycopg_sql

from runner.errors import ProjectFileError
from runner.project.sqlfile import SelectRules, error_offset, json_node, json_nodes, one_select, parse_json
from runner.project.statements import parse_error_text

if TYPE_CHECKING:
    from runner.project.parse_cache import ParseCache

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_DOTTED = re.compile(rf"{_NAME}(?:\s*\.\s*{_NAME})*")  # a relation's name as written at its position

_CLOCK_FUNCTIONS = frozenset(
    {"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "random",
     "random_normal", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "nextval", "txid_current"}
)
_CLOCK_SQL_VALUES = frozenset({"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP"})

_MODEL_SELECT = SelectRules(
    empty="no SELECT; a model file holds exactly one SELECT (its header comments before it)",
    second="a model file holds exactly one SELECT: move the rest to a migration or another model",
    not_select="a model is one SELECT, this is {statement};"
    " write the SELECT that produces the rows and let Weir build the relation",
    into="remove INTO, Weir builds the relation",
    transaction="Weir builds each model in a transaction of its own (a failure keeps the previous version):"
    " remove it",
)


@dataclass(frozen=True)
class Reference:
    """A relation named in a SELECT, as written: schema None when unqualified."""

    schema: str | None
    name: str
    location: int  # character offset in the SELECT
    aliased: bool = False  # written with an alias (`FROM t AS x`): a replacement name needs none


@dataclass
class Found:
    """What one SELECT reads and calls."""

    references: list[Reference] = field(default_factory=list)
    clock: set[str] = field(default_factory=set)
    functions: set[tuple[str, str]] = field(default_factory=set)
    since_calls: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, model named)
    fingerprint: str = ""  # of the parse tree without positions: the same for a comment or layout edit
    shape: list[Any] = field(default_factory=list)  # select_shape(): what a column-only change leaves alone


_FOUND: dict[tuple[str, str, int], Found] = {}  # what extract found, by (sql, display, sql_line)


def found_in(sql: str, display: str, sql_line: int) -> Found:
    """Return what the SELECT `sql` (starting at `sql_line` of file `display`) reads and calls, parsed once."""
    key = (sql, display, sql_line)
    if key not in _FOUND:
        _FOUND[key] = extract(sql, display, sql_line)
    return _FOUND[key]


def parsed_select(text: str, display: str, cache: ParseCache) -> tuple[str, int, Found]:
    """Return a model file's SELECT, its line and what it reads: from the cache, else parsed and cached."""
    hit = cache.get("model", text)
    if hit is not None:
        found = Found(
            [Reference(schema, name, location) for schema, name, location in hit["references"]],
            set(hit["clock"]),
            {(schema, name) for schema, name in hit["functions"]},
            [(start, end, named) for start, end, named in hit["since_calls"]],
            hit["fingerprint"],
            hit["shape"],
        )
        _FOUND[(hit["sql"], display, hit["sql_line"])] = found
        return hit["sql"], hit["sql_line"], found
    select = one_select(text, display, _MODEL_SELECT)
    found = found_in(select.sql, display, select.line)
    cache.put("model", text, {
        "sql": select.sql,
        "sql_line": select.line,
        "references": [[ref.schema, ref.name, ref.location] for ref in found.references],
        "clock": sorted(found.clock),
        "functions": sorted(found.functions),
        "since_calls": found.since_calls,
        "fingerprint": found.fingerprint,
        "shape": found.shape,
    })
    return select.sql, select.line, found


def tree_fingerprint(tree: object) -> str:
    """Return a SHA-256 of a parse tree without its character positions.

    Comments, whitespace and line breaks never reach the tree, so two SELECTs that differ
    only in them have the same fingerprint; any change PostgreSQL would run differently
    (a constant, an alias, a column's order) changes it. Unlike pg_query's own fingerprint,
    constants count: `WHERE x = 1` and `WHERE x = 2` build different rows.
    """
    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key != "location"}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    text = json.dumps(strip(tree), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def select_shape(select: dict[str, Any]) -> list[Any]:
    """Return [fingerprint of the SELECT without its output list, [[column name or None, its fingerprint], ...]].

    Two versions with the same first part compute every output column they share the same
    way from the same rows: a column added or dropped changes no other column's values, so
    readers of the other columns need not be rebuilt (runner.plan). A set operation (UNION)
    has no output list of its own: every change to it counts as a change to all columns.
    """
    node = select.get("SelectStmt", {})
    targets = node.get("targetList") if isinstance(node, dict) else None
    positional = any('"A_Const"' in json.dumps(node.get(key))
                     for key in ("groupClause", "sortClause", "distinctClause"))
    if not targets or positional:  # GROUP BY 1 names a column by its place: any change may move it
        return [tree_fingerprint(select), []]
    rest = {key: value for key, value in node.items() if key != "targetList"}
    return [tree_fingerprint(rest), [[_output_name(target), tree_fingerprint(target)] for target in targets]]


def _output_name(target: dict[str, Any]) -> str | None:
    """Return an output column's name: its alias, or the last field of a plain column reference."""
    result = target.get("ResTarget", {})
    if result.get("name"):
        return str(result["name"])
    fields = result.get("val", {}).get("ColumnRef", {}).get("fields", [])
    last = fields[-1] if fields else {}
    return str(last["String"]["sval"]) if "String" in last else None


def extract(sql: str, display: str, sql_line: int) -> Found:
    """Find the relations a SELECT reads (CTE names excluded, scope by scope) and its clock calls."""
    from pglast import parser  # see runner.project.sqlfile.split_statements

    def line(offset: int) -> int:
        return sql_line + sql.count("\n", 0, max(offset, 0))

    try:
        statements, char_offset = parse_json(sql)
        select = statements[0]["stmt"]
    except parser.ParseError as exc:  # only for a Model built by hand with bad SQL
        message = parse_error_text(exc.args[0])
        raise ProjectFileError(f"{display}:{line(error_offset(sql, exc))}: {message}; fix the SQL") from None
    found = Found(fingerprint=tree_fingerprint(select), shape=select_shape(select))
    try:
        _walk(select, frozenset(), found)
    except _DataModifyingCte as exc:
        raise ProjectFileError(
            f"{display}:{line(char_offset(exc.location))}: WITH {exc.name} AS (...) changes data; a model only"
            " reads: move the change to a migration"
        ) from None
    found.references = [replace(ref, location=char_offset(ref.location)) for ref in found.references]
    found.since_calls = [_call_span(sql, char_offset(start), named) for start, _, named in found.since_calls]
    return found


def _call_span(sql: str, start: int, named: str) -> tuple[int, int, str]:
    """Return (start, end after its closing parenthesis, argument) of the function call at `start`."""
    from pglast import parser  # see runner.project.sqlfile.split_statements

    depth = 0
    for token in parser.scan(sql):
        if token.start < start:
            continue
        if token.name == "ASCII_40":  # (
            depth += 1
        elif token.name == "ASCII_41":  # )
            depth -= 1
            if depth == 0:
                return start, int(token.end) + 1, named
    raise AssertionError(f"no closing parenthesis after offset {start}")  # the SELECT parsed, so there is one


def _walk(value: object, ctes: frozenset[str], found: Found) -> None:
    """Walk pglast's JSON parse tree (see runner.project.sqlfile.parse_json), CTE names in scope in `ctes`."""
    if isinstance(value, list):
        for item in value:
            _walk(item, ctes, found)
        return
    if not isinstance(value, dict):
        return
    kind, node = json_node(value)
    if kind == "RangeVar":
        if "schemaname" not in node and node["relname"] in ctes:
            return
        found.references.append(
            Reference(node.get("schemaname"), node["relname"], node.get("location", 0), "alias" in node)
        )
        return
    if kind == "CommonTableExpr" and "SelectStmt" not in node["ctequery"]:
        raise _DataModifyingCte(node["ctename"], node.get("location", 0))
    if kind == "FuncCall":
        _note_call(node, found)
    if kind == "SQLValueFunction":
        name = node["op"].removeprefix("SVFOP_").removesuffix("_N")
        if name in _CLOCK_SQL_VALUES:
            found.clock.add(name)
    scope = ctes
    with_clause = node.get("withClause") if kind == "SelectStmt" else None
    if with_clause is not None:
        names = frozenset(cte["CommonTableExpr"]["ctename"] for cte in with_clause["ctes"])
        if with_clause.get("recursive"):
            _walk(with_clause["ctes"], ctes | names, found)
        else:
            # A non-recursive CTE sees only the CTEs before it; a later name there is a table.
            seen = ctes
            for cte in with_clause["ctes"]:
                _walk(cte, seen, found)
                seen = seen | {cte["CommonTableExpr"]["ctename"]}
        scope = ctes | names
    for key, item in node.items():
        if key in ("withClause", "lockingClause") and kind == "SelectStmt":
            continue
        _walk(item, scope, found)


def _note_call(node: dict[str, Any], found: Found) -> None:
    names = [part["String"]["sval"] for part in node["funcname"]]
    found.functions.add((names[-2] if len(names) > 1 else "", names[-1]))
    if names[-1] in _CLOCK_FUNCTIONS:
        found.clock.add(f"{names[-1]}()")
    arguments = node.get("args", [])
    if names == ["weir", "since"] and len(arguments) == 1 and "sval" in arguments[0].get("A_Const", {}):
        found.since_calls.append((node.get("location", 0), 0, arguments[0]["A_Const"]["sval"]["sval"]))


class _DataModifyingCte(Exception):
    def __init__(self, name: str, location: int) -> None:
        super().__init__(name, location)
        self.name, self.location = name, location


def resolve(reference: Reference, by_name: dict[str, list[tuple[str, str]]]) -> tuple[str, str]:
    """Return the (schema, name) a reference reads: an unqualified name one model has is that model."""
    if reference.schema is not None:
        return (reference.schema, reference.name)
    candidates = by_name.get(reference.name, [])
    if len(candidates) == 1:
        return candidates[0]
    return ("", reference.name)  # a source found through search_path when the build runs


def renamed_relations(
    text: str,
    display: str,
    sql_line: int,
    relations: frozenset[tuple[str, str]],
    renamed: Mapping[tuple[str, str], tuple[str, str]],
) -> str:
    """Return the SELECT `text` reading `renamed[relation]` wherever it names a relation of `renamed`.

    Rewritten by the parser's positions, not by searching the text: a name in a string, a
    comment or a column is left alone. `relations` are the SELECT's resolved relations (an
    unqualified name is matched to one of them). A replaced name without an alias gets the
    old name as its alias, so `t.column` still means the same column; line breaks are kept,
    so PostgreSQL's error positions still map to the file's lines.
    """
    if not renamed:
        return text
    spans: list[tuple[int, int, str]] = []
    # Parsed anew, not from the parse cache, which does not keep whether a name has an alias.
    for reference in extract(text, display, sql_line).references:
        target = renamed.get(match_relation(reference, relations))
        match = _DOTTED.match(text, reference.location)
        if target is None or match is None:
            continue
        written = psycopg_sql.Identifier(*target).as_string(None)
        if not reference.aliased:
            written += " AS " + psycopg_sql.Identifier(reference.name).as_string(None)
        spans.append((match.start(), match.end(), written + "\n" * text.count("\n", match.start(), match.end())))
    parts, position = [], 0
    for start, end, written in sorted(spans):
        parts += [text[position:start], written]
        position = end
    return "".join(parts) + text[position:]


def match_relation(reference: Reference, relations: frozenset[tuple[str, str]]) -> tuple[str, str]:
    """Return which of a model's resolved `relations` an unqualified reference became."""
    if reference.schema is not None or ("", reference.name) in relations:
        return (reference.schema or "", reference.name)
    matches = [relation for relation in relations if relation[1] == reference.name]
    return matches[0] if len(matches) == 1 else ("", reference.name)


_LITERAL = re.compile(r"'((?:[^']|'')*)'")  # a plain string constant as written at its position


def renamed_names(text: str, renamed: Mapping[tuple[str, str], tuple[str, str]]) -> str:
    """Return `text` with the names a check's library calls give relations of `renamed` replaced.

    Two spellings are rewritten, by the parser's positions: a row type (`NULL::marts.x`, as
    the row-level checks of the check library take it) and a plain string constant naming
    the relation exactly, schema-qualified (`'marts.x'`, or `'marts.x'::regclass`). Relations
    in FROM are left to renamed_relations; any other string or name is left as written.
    """
    from pglast import parser  # see runner.project.sqlfile.split_statements

    if not renamed:
        return text
    try:
        statements, char_offset = parse_json(text)
    except parser.ParseError:
        return text
    spans: list[tuple[int, int, str]] = []
    for kind, node in json_nodes(statements):
        if kind == "A_Const" and "sval" in node:
            target = renamed.get(_qualified(str(node["sval"].get("sval", ""))))
            match = _LITERAL.match(text, char_offset(node.get("location", 0)))
            if target is not None and match is not None:
                spans.append((match.start(), match.end(), psycopg_sql.Literal(".".join(
                    psycopg_sql.Identifier(part).as_string(None) for part in target)).as_string(None)))
        type_name = node.get("typeName") if kind == "TypeCast" else None
        if isinstance(type_name, dict):
            names = [part.get("String", {}).get("sval") for part in type_name.get("names", [])]
            target = renamed.get((names[0], names[1])) if len(names) == 2 else None
            match = _DOTTED.match(text, char_offset(type_name.get("location", 0)))
            if target is not None and match is not None:
                spans.append((match.start(), match.end(), psycopg_sql.Identifier(*target).as_string(None)
                              + "\n" * text.count("\n", match.start(), match.end())))
    parts, position = [], 0
    for start, end, written in sorted(spans):
        parts += [text[position:start], written]
        position = end
    return "".join(parts) + text[position:]


def _qualified(name: str) -> tuple[str, str]:
    """Return (schema, name) of a `schema.name` string, quoted parts unquoted; ("", "") for anything else."""
    match = re.fullmatch(rf"({_NAME})\.({_NAME})", name)
    if match is None:
        return ("", "")

    def unquoted(part: str) -> str:
        return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()

    return (unquoted(match.group(1)), unquoted(match.group(2)))
