"""Model files: `models/<schema>/<name>.sql`, one SELECT each, with a `-- weir:` header.

Reading a model checks everything that can be checked without a database: the header,
that the file is exactly one SELECT, and which relations the SELECT reads (found with
PostgreSQL's own parser, pglast), so a bad file fails before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import ProjectFileError
from runner.project.sqlfile import (
    Directive,
    SelectRules,
    checksum,
    error_offset,
    json_node,
    one_select,
    parse_error_text,
    parse_header,
    parse_json,
)

if TYPE_CHECKING:
    from runner.project.parse_cache import ParseCache


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


def column_name(token: str) -> str:
    """Return the column a header token names: `"Mixed Case"` as written, anything else folded to lower case."""
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('""', '"')
    return token.lower()


def key_columns(model: Model, directive: str) -> list[str]:
    """Return the columns a header directive lists (unique_key, natural_key, check_cols), or []."""
    return [column_name(token) for token in (model.option(directive) or "").split()]


KINDS = ("view", "table", "incremental", "scd2")

# Which directives each kind accepts; tags and description go with every kind.
_COMMON = {"kind", "tags", "description"}
_BY_KIND = {
    "view": _COMMON,
    "table": _COMMON | {"unique_key", "indexes"},
    "incremental": _COMMON | {"unique_key", "watermark", "lookback", "full_refresh_on_change", "indexes"},
    "scd2": _COMMON
    | {"natural_key", "updated_at", "check_cols", "on_delete", "surrogate_key", "full_refresh_on_change", "indexes"},
}
DIRECTIVES = frozenset().union(*_BY_KIND.values())

# Names PostgreSQL does not fold: what a file name must be so `FROM marts.x` finds the model.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_COLUMN = re.compile(r'^(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")$')
_TAG = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_INTERVAL_UNIT = (
    r"(?:microseconds?|us|milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h"
    r"|days?|d|weeks?|w|months?|mons?|years?|yrs?|y)"
)
_INTERVAL = re.compile(
    rf"^\s*(?:[+-]?\d+(?:\.\d+)?\s*{_INTERVAL_UNIT}\s*)+$|^\s*\d+:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?\s*$", re.IGNORECASE
)
_BOOLEAN = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_RESERVED_SCHEMAS = ("weir", "information_schema")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated
_CLOCK_FUNCTIONS = frozenset(
    {"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "random",
     "random_normal", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "nextval", "txid_current"}
)
_CLOCK_SQL_VALUES = frozenset({"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP"})


def read_models(models_dir: Path, root: Path) -> list[Model]:
    """Read every `models/<schema>/<name>.sql` under `models_dir`, sorted by relation name.

    Raises ProjectFileError (`path:line: message; what to do`) for the first bad file, and
    for two files that build the same relation. A missing `models_dir` has no models.
    """
    from runner.project.parse_cache import ParseCache

    cache = ParseCache.open(root)
    parsed: list[tuple[Model, list[_Reference]]] = []
    built_by: dict[tuple[str, str], Model] = {}
    for path in _model_paths(models_dir, root):
        model, references = _read_model(path, _display(path, root), cache)
        other = built_by.get((model.schema, model.name))
        if other is not None:
            raise ProjectFileError(
                f"{model.display}:1: builds {model.qualified}, which {other.display} builds too;"
                " remove or rename one of them"
            )
        built_by[(model.schema, model.name)] = model
        parsed.append((model, references))
    cache.save()
    by_name: dict[str, list[Model]] = {}
    for model, _ in parsed:
        by_name.setdefault(model.name, []).append(model)
    models = []
    for model, references in parsed:
        relations = frozenset(_resolve(reference, by_name) for reference in references)
        models.append(replace(model, relations=relations))
    return sorted(models, key=lambda model: (model.schema, model.name))


def relation_lines(model: Model) -> dict[tuple[str, str], int]:
    """Return the file line of the first reference to each relation `model` reads."""
    references = _extract(model.sql, model.display, model.sql_line).references
    lines: dict[tuple[str, str], int] = {}
    for reference in references:
        qualified = _match_relation(reference, model.relations)
        line = model.sql_line + model.sql.count("\n", 0, max(reference.location, 0))
        lines.setdefault(qualified, line)
    return lines


def clock_calls(model: Model) -> list[str]:
    """Return the functions in `model`'s SELECT whose result changes between runs (now(), random(), ...)."""
    return sorted(_found(model.sql, model.display, model.sql_line).clock)


def with_since(model: Model, since: str) -> str:
    """Return the model's SELECT with its `weir.since('<this model>')` calls replaced by the literal `since`.

    Weir runs an incremental model this way: the planner then knows the value when it plans,
    estimates the batch from the column's statistics, and drops a branch gated on
    `weir.since(...) = '-infinity'` before running anything. A call that spans lines is padded
    with the newlines it had, so PostgreSQL's error positions still map to the file's lines.
    """
    text, parts, position = model.sql, [], 0
    literal = "'" + since.replace("'", "''") + "'::timestamptz"
    for start, end, named in _found(model.sql, model.display, model.sql_line).since_calls:
        if named != model.qualified:
            continue
        parts += [text[position:start], literal, "\n" * text.count("\n", start, end)]
        position = end
    return "".join(parts) + text[position:]


def function_calls(model: Model) -> list[tuple[str, str]]:
    """Return every function `model`'s SELECT calls as (schema, name); schema "" when unqualified."""
    return sorted(_found(model.sql, model.display, model.sql_line).functions)


_FOUND: dict[tuple[str, str, int], _Found] = {}  # what _extract found, by (sql, display, sql_line)


def _found(sql: str, display: str, sql_line: int) -> _Found:
    key = (sql, display, sql_line)
    if key not in _FOUND:
        _FOUND[key] = _extract(sql, display, sql_line)
    return _FOUND[key]


# ---------------------------------------------------------------------------------------------
# Files


def _model_paths(models_dir: Path, root: Path) -> list[Path]:
    if not models_dir.is_dir():
        return []
    paths = []
    for path in sorted(models_dir.rglob("*")):
        relative = path.relative_to(models_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() or path.suffix.lower() != ".sql":
            continue
        if len(relative.parts) != 2:
            raise ProjectFileError(
                f"{_display(path, root)}:1: a model file must be {_display(models_dir, root)}/<schema>/<name>.sql;"
                " move it into its schema's directory"
            )
        paths.append(path)
    return paths


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_model(path: Path, display: str, cache: ParseCache) -> tuple[Model, list[_Reference]]:
    schema, name = path.parent.name, path.stem
    for what, identifier in (("schema directory", schema), ("model name", name)):
        if not _IDENTIFIER.match(identifier):
            raise ProjectFileError(
                f"{display}:1: {what} {identifier!r} is not a lower-case SQL identifier; rename it to lower-case"
                " letters, digits and underscores (PostgreSQL folds unquoted names to lower case)"
            )
        if len(identifier.encode()) > _MAX_IDENTIFIER:
            raise ProjectFileError(
                f"{display}:1: {what} {identifier!r} is longer than {_MAX_IDENTIFIER} bytes,"
                " PostgreSQL's limit; shorten it"
            )
    if schema in _RESERVED_SCHEMAS or schema.startswith("pg_"):
        why = "Weir keeps its run state there" if schema == "weir" else "a system schema"
        raise ProjectFileError(
            f"{display}:1: schema {schema!r} is reserved ({why}); put the model in another schema directory"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(
            f"{display}:1: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ProjectFileError(f"{display}:1: cannot be read: {exc.strerror}") from None
    directives = parse_header(text, display, set(DIRECTIVES))
    kind = _validate_directives(directives, display)
    sql, sql_line, found = _parsed(text, display, cache)
    tags = directives.get("tags")
    description = directives.get("description")
    model = Model(
        schema=schema,
        name=name,
        path=path,
        display=display,
        sql=sql,
        sql_line=sql_line,
        kind=kind,
        directives=directives,
        tags=frozenset(tags.value.split()) if tags else frozenset(),
        description=description.value if description else None,
        relations=frozenset(),
        checksum=checksum(text),
    )
    return model, found.references


# ---------------------------------------------------------------------------------------------
# Header directives


def _validate_directives(directives: dict[str, Directive], display: str) -> str:
    """Check each directive's value and that it fits the model's kind; return the kind."""

    def fail(directive: Directive, message: str) -> ProjectFileError:
        return ProjectFileError(f"{display}:{directive.line}: {message}")

    kind_directive = directives.get("kind")
    kind = kind_directive.value.strip().lower() if kind_directive else "view"
    if kind not in KINDS:
        raise fail(kind_directive, f"unknown kind {kind_directive.value!r}; use one of {', '.join(KINDS)}")
    for key, directive in directives.items():
        if key not in _BY_KIND[kind]:
            kinds = [name for name in KINDS if key in _BY_KIND[name]]
            for_kinds = " or ".join(f"kind={name}" for name in kinds)
            raise fail(directive, f"{key} is for {for_kinds}, not kind={kind}; remove it or change kind")
        value = directive.value.strip()
        if key in ("unique_key", "natural_key", "check_cols"):
            _check_columns(directive, value, fail, many=True)
        elif key in ("watermark", "updated_at", "surrogate_key"):
            _check_columns(directive, value, fail, many=False)
        elif key == "indexes":
            _check_indexes(directive, value, fail)
        elif key == "lookback" and not _INTERVAL.match(value):
            raise fail(directive, f"lookback {value!r} is not an interval; write e.g. lookback=2 days")
        elif key == "on_delete" and value.lower() not in ("close", "ignore"):
            raise fail(directive, f"on_delete {value!r} is not close or ignore; write on_delete=close or ignore")
        elif key == "full_refresh_on_change" and value.lower() not in _BOOLEAN:
            raise fail(directive, f"full_refresh_on_change {value!r} is not true or false; write true or false")
        elif key == "tags":
            for tag in value.split():
                if not _TAG.match(tag):
                    raise fail(directive, f"tag {tag!r} has a character other than letters, digits and _.:/-;"
                               ' separate tags with spaces: tags="daily finance"')
            if not value.split():
                raise fail(directive, 'tags is empty; write tags="daily finance" or remove it')
        elif key == "description" and not value:
            raise fail(directive, 'description is empty; write description="..." or remove it')
    line = kind_directive.line if kind_directive else 1
    if kind == "incremental":
        for required in ("unique_key", "watermark"):
            if required not in directives:
                raise ProjectFileError(
                    f"{display}:{line}: kind=incremental needs {required}; add it to the header,"
                    " e.g. -- weir: kind=incremental, unique_key=id, watermark=updated_at"
                )
    if kind == "scd2":
        if "natural_key" not in directives:
            raise ProjectFileError(
                f"{display}:{line}: kind=scd2 needs natural_key; add it to the header,"
                " e.g. -- weir: kind=scd2, natural_key=customer_id, updated_at=updated_at"
            )
        has_updated_at, has_check_cols = "updated_at" in directives, "check_cols" in directives
        if has_updated_at == has_check_cols:
            where = directives["updated_at"].line if has_updated_at else line
            raise ProjectFileError(
                f"{display}:{where}: kind=scd2 needs exactly one of updated_at or check_cols"
                f" ({'both are set' if has_updated_at else 'neither is set'}); keep one"
            )
    return kind


def _check_indexes(directive: Directive, value: str, fail) -> None:
    parts = value.split(";")
    if not value.strip():
        raise fail(directive, 'indexes is empty; write indexes="updated_at; customer_id valid_from" or remove it')
    for part in parts:
        if not part.strip():
            raise fail(directive, f"indexes {value!r} has an empty index between semicolons; remove the extra ';'")
        _check_columns(replace(directive, value=part), part.strip(), fail, many=True)


def _check_columns(directive: Directive, value: str, fail, many: bool) -> None:
    if "," in value:
        raise fail(directive, f"{directive.key} {value!r} has a comma; separate columns with spaces: "
                   f'{directive.key}="a b"')
    columns = value.split()
    if not columns:
        raise fail(directive, f"{directive.key} is empty; name a column of the model's output")
    if not many and len(columns) > 1:
        raise fail(directive, f"{directive.key} {value!r} names more than one column; name exactly one")
    for column in columns:
        if not _COLUMN.match(column):
            raise fail(directive, f"{directive.key}: {column!r} is not a column name; use the output column's name")


# ---------------------------------------------------------------------------------------------
# The SELECT


_MODEL_SELECT = SelectRules(
    empty="no SELECT; a model file holds exactly one SELECT (its header comments before it)",
    second="a model file holds exactly one SELECT: move the rest to a migration or another model",
    not_select="a model is one SELECT, this is {statement};"
    " write the SELECT that produces the rows and let Weir build the relation",
    into="remove INTO, Weir builds the relation",
)


def _parsed(text: str, display: str, cache: ParseCache) -> tuple[str, int, _Found]:
    """Return the file's SELECT, its line and what it reads: from the cache, else parsed and cached."""
    hit = cache.get("model", text)
    if hit is not None:
        found = _Found(
            [_Reference(schema, name, location) for schema, name, location in hit["references"]],
            set(hit["clock"]),
            {(schema, name) for schema, name in hit["functions"]},
            [(start, end, named) for start, end, named in hit["since_calls"]],
        )
        _FOUND[(hit["sql"], display, hit["sql_line"])] = found
        return hit["sql"], hit["sql_line"], found
    sql, sql_line = _the_select(text, display)
    found = _found(sql, display, sql_line)
    cache.put("model", text, {
        "sql": sql,
        "sql_line": sql_line,
        "references": [[ref.schema, ref.name, ref.location] for ref in found.references],
        "clock": sorted(found.clock),
        "functions": sorted(found.functions),
        "since_calls": found.since_calls,
    })
    return sql, sql_line, found


def _the_select(text: str, display: str) -> tuple[str, int]:
    """Return the file's one SELECT without header comments or trailing semicolon, and its line."""
    select = one_select(text, display, _MODEL_SELECT)
    return select.sql, select.line


@dataclass(frozen=True)
class _Reference:
    schema: str | None
    name: str
    location: int  # character offset in the SELECT


@dataclass
class _Found:
    references: list[_Reference] = field(default_factory=list)
    clock: set[str] = field(default_factory=set)
    functions: set[tuple[str, str]] = field(default_factory=set)
    since_calls: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, model named)


def _extract(sql: str, display: str, sql_line: int) -> _Found:
    """Find the relations a SELECT reads (CTE names excluded, scope by scope) and its clock calls."""
    from pglast import parser

    def line(offset: int) -> int:
        return sql_line + sql.count("\n", 0, max(offset, 0))

    try:
        statements, char_offset = parse_json(sql)
        select = statements[0]["stmt"]
    except parser.ParseError as exc:  # only for a Model built by hand with bad SQL
        message = parse_error_text(exc.args[0])
        raise ProjectFileError(f"{display}:{line(error_offset(sql, exc))}: {message}; fix the SQL") from None
    found = _Found()
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
    from pglast import parser

    depth = 0
    for token in parser.scan(sql):
        if token.start < start:
            continue
        if token.name == "ASCII_40":  # (
            depth += 1
        elif token.name == "ASCII_41":  # )
            depth -= 1
            if depth == 0:
                return start, token.end + 1, named
    raise AssertionError(f"no closing parenthesis after offset {start}")  # the SELECT parsed, so there is one


def _walk(value: object, ctes: frozenset[str], found: _Found) -> None:
    """Walk pglast's JSON parse tree (see runner.sqlfile.parse_json), CTE names in scope in `ctes`."""
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
        found.references.append(_Reference(node.get("schemaname"), node["relname"], node.get("location", 0)))
        return
    if kind == "CommonTableExpr" and "SelectStmt" not in node["ctequery"]:
        raise _DataModifyingCte(node["ctename"], node.get("location", 0))
    if kind == "FuncCall":
        names = [part["String"]["sval"] for part in node["funcname"]]
        found.functions.add((names[-2] if len(names) > 1 else "", names[-1]))
        if names[-1] in _CLOCK_FUNCTIONS:
            found.clock.add(f"{names[-1]}()")
        arguments = node.get("args", [])
        if names == ["weir", "since"] and len(arguments) == 1 and "sval" in arguments[0].get("A_Const", {}):
            found.since_calls.append((node.get("location", 0), 0, arguments[0]["A_Const"]["sval"]["sval"]))
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


class _DataModifyingCte(Exception):
    def __init__(self, name: str, location: int) -> None:
        super().__init__(name, location)
        self.name, self.location = name, location


def _resolve(reference: _Reference, by_name: dict[str, list[Model]]) -> tuple[str, str]:
    if reference.schema is not None:
        return (reference.schema, reference.name)
    candidates = by_name.get(reference.name, [])
    if len(candidates) == 1:
        return (candidates[0].schema, candidates[0].name)
    return ("", reference.name)  # a source found through search_path when the build runs


def _match_relation(reference: _Reference, relations: frozenset[tuple[str, str]]) -> tuple[str, str]:
    """Return which of a model's resolved `relations` an unqualified reference became."""
    if reference.schema is not None or ("", reference.name) in relations:
        return (reference.schema or "", reference.name)
    matches = [relation for relation in relations if relation[1] == reference.name]
    return matches[0] if len(matches) == 1 else ("", reference.name)
