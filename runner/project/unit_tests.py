"""Unit test files: `unit_tests/<schema>/<model>__<case>.sql`, fixture rows in, expected rows out.

A unit test is plain SQL that psql runs as it is: each statement is a SELECT (or VALUES)
returning rows, and the `-- weir:` comment right above it says what those rows are:

    -- weir: model=marts.fact_order_items
    -- weir: watermark='2024-01-01'          (incremental: the stored watermark)

    -- weir: given=staging.stg_orders
    SELECT 10 AS order_id, 7 AS customer_id
    UNION ALL SELECT 11, 8;

    -- weir: given=this                      (incremental: the table's rows before the run)
    SELECT 1 AS order_item_id, ...;

    -- weir: expect
    SELECT 1 AS order_item_id, 750 AS line_total_cents;

A fixture names only the columns the test cares about (the rest are NULL); their types come
from the real relation, so untyped literals such as '2024-01-01' compare correctly. A
VALUES list has no column names: give them, `-- weir: given=raw.orders, columns="order_id
status"`. An scd2 model's test gives successive source snapshots (`given=..., snapshot=1`,
`snapshot=2`, ...) and expects the history after the last one. Rows may also come from a CSV
file next to the test, `<test>.<schema>.<relation>.csv`, which runner.unittests.fixtures loads.
Runner: runner.unittests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import ProjectFileError
from runner.project.model_header import BOOLEAN
from runner.project.models import Model
from runner.project.problems import Problems
from runner.project.sqlfile import Directive, checksum, column_name, parse_header, parse_json, read_text
from runner.project.statements import split_statements

_HEADER = {"model", "ordered", "watermark", "description"}
_STATEMENT = {"given", "expect", "snapshot", "columns"}
_COMMENT_OR_BLANK = re.compile(r"^\s*(--.*)?$")
_RELATION = re.compile(r"^([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$")
THIS = "this"


@dataclass(frozen=True)
class Rows:
    """Fixture or expected rows: one SELECT (or VALUES) and the columns it gives, in order."""

    sql: str
    line: int  # where the statement's directive stands
    columns: tuple[str, ...]
    values: bool  # a VALUES list: inserted directly, so its literals take the columns' types


@dataclass(frozen=True)
class Given:
    """Rows standing in for one relation the model reads (or `this`, the model's own table)."""

    relation: tuple[str, str] | None  # None: the model's own table (given=this)
    rows: Rows
    snapshot: int  # 0: the same in every snapshot


@dataclass(frozen=True)
class UnitTest:
    """One unit test file: the model it tests, its fixtures and the rows it expects."""

    name: str  # "<schema>/<model>__<case>", as selected and reported
    display: str
    model: Model
    givens: tuple[Given, ...]
    expect: Rows
    ordered: bool = False
    watermark: str | None = None  # incremental: the stored watermark before the run
    description: str | None = None
    checksum: str = ""
    snapshots: tuple[int, ...] = field(default=(0,))


def read_unit_tests(directory: Path, root: Path, models: list[Model]) -> list[UnitTest]:
    """Read every `.sql` file under `directory`, sorted by name; none when it does not exist.

    Raises ProjectFileError (`path:line: message; what to do`) for a bad file,
    ProjectProblems for several.
    """
    if not directory.is_dir():
        return []
    by_name = {model.qualified: model for model in models}
    problems = Problems()
    tests = []
    for path in sorted(directory.rglob("*.sql")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        with problems.each():
            tests.append(read_unit_test(path, _display(path, root), relative.with_suffix("").as_posix(), by_name))
    problems.raise_any()
    return tests


def read_unit_test(path: Path, display: str, name: str, models: dict[str, Model]) -> UnitTest:
    """Read one unit test file; raise ProjectFileError `display:line: ...` when it is malformed."""
    text = read_text(path, display)
    header = parse_header(text, display, _HEADER | _STATEMENT)
    statements = split_statements(text, display)
    if not statements:
        raise ProjectFileError(f"{display}:1: no rows; add `-- weir: given=<relation>` and `-- weir: expect`,"
                               " each followed by a SELECT")
    if "model" not in header:
        raise ProjectFileError(f"{display}:1: no model; start the file with -- weir: model=<schema>.<name>")
    model_directive = header["model"]
    model = models.get(model_directive.value.strip().lower())
    if model is None:
        raise ProjectFileError(f"{display}:{model_directive.line}: {model_directive.value!r} is not a model of this"
                               " project; name one as schema.name, e.g. -- weir: model=marts.dim_product")
    givens: list[Given] = []
    expect: Rows | None = None
    lines = text.splitlines()
    for index, statement in enumerate(statements):
        allowed = _STATEMENT | (_HEADER if index == 0 else set())
        where = statement.keyword_line
        directives = _directives_above(lines, where, display, allowed)
        kind = [key for key in ("given", "expect") if key in directives]
        if len(kind) != 1:
            what = "both given and expect" if kind else "no -- weir: given=<relation> or -- weir: expect"
            raise ProjectFileError(f"{display}:{where}: {what} right above this statement;"
                                   " put exactly one of them on the comment line above it")
        rows = _rows(statement.text, display, where, directives)
        if kind == ["expect"]:
            if expect is not None:
                raise ProjectFileError(f"{display}:{where}: a second -- weir: expect; keep one")
            if "snapshot" in directives:
                raise ProjectFileError(f"{display}:{directives['snapshot'].line}: snapshot is for given;"
                                       " expect is the history after the last snapshot: remove it")
            expect = rows
            continue
        givens.append(_given(directives, rows, model, display))
    if expect is None:
        raise ProjectFileError(f"{display}:1: no -- weir: expect; add it above a SELECT of the rows expected")
    return _unit_test(name, display, model, header, givens, expect, checksum(text))


def _unit_test(
    name: str, display: str, model: Model, header: dict[str, Directive], givens: list[Given], expect: Rows, digest: str
) -> UnitTest:
    ordered = header.get("ordered")
    if ordered is not None and ordered.value.lower() not in BOOLEAN:
        raise ProjectFileError(f"{display}:{ordered.line}: ordered {ordered.value!r} is not true or false;"
                               " write ordered=true or remove it")
    watermark = header.get("watermark")
    if watermark is not None and model.kind != "incremental":
        raise ProjectFileError(f"{display}:{watermark.line}: watermark is for an incremental model,"
                               f" {model.qualified} is kind={model.kind}; remove it")
    for given in givens:
        if given.relation is None and model.kind != "incremental":
            raise ProjectFileError(f"{display}:{given.rows.line}: given=this is for an incremental model,"
                                   f" {model.qualified} is kind={model.kind}; give the relations it reads")
        if given.snapshot and model.kind != "scd2":
            raise ProjectFileError(f"{display}:{given.rows.line}: snapshot is for an scd2 model,"
                                   f" {model.qualified} is kind={model.kind}; remove it")
    seen: dict[tuple[tuple[str, str] | None, int], int] = {}
    for given in givens:
        key = (given.relation, given.snapshot)
        if key in seen:
            raise ProjectFileError(f"{display}:{given.rows.line}: these rows are given twice (first on line"
                                   f" {seen[key]}); put them in one SELECT with UNION ALL")
        seen[key] = given.rows.line
    snapshots = tuple(sorted({given.snapshot for given in givens if given.snapshot})) or (0,)
    description = header.get("description")
    return UnitTest(
        name=name,
        display=display,
        model=model,
        givens=tuple(givens),
        expect=expect,
        ordered=ordered is not None and BOOLEAN[ordered.value.lower()],
        watermark=_unquote(watermark.value) if watermark is not None else None,
        description=description.value if description is not None else None,
        checksum=digest,
        snapshots=snapshots,
    )


def _directives_above(lines: list[str], line: int, display: str, allowed: set[str]) -> dict[str, Directive]:
    """Return the directives of the comment lines right above line `line` (1-based), blank lines included."""
    first = line - 1
    while first > 0 and _COMMENT_OR_BLANK.match(lines[first - 1]):
        first -= 1
    block = "\n".join(lines[first : line - 1])
    return {
        key: Directive(key, directive.value, first + directive.line)
        for key, directive in parse_header(block, display, allowed).items()
    }


def _given(directives: dict[str, Directive], rows: Rows, model: Model, display: str) -> Given:
    directive = directives["given"]
    written = directive.value.strip().lower()
    snapshot = 0
    if "snapshot" in directives:
        value = directives["snapshot"].value.strip()
        if not value.isdigit() or int(value) < 1:
            raise ProjectFileError(f"{display}:{directives['snapshot'].line}: snapshot {value!r} is not a number"
                                   " from 1; write snapshot=1, snapshot=2, ... in the order the builds see them")
        snapshot = int(value)
    if written == THIS:
        return Given(None, rows, snapshot)
    match = _RELATION.match(written)
    if match is None:
        raise ProjectFileError(f"{display}:{directive.line}: given {directive.value!r} is not schema.name;"
                               " name a relation the model reads, e.g. given=raw.orders, or given=this")
    relation = (match.group(1), match.group(2))
    if relation not in model.relations:
        reads = ", ".join(sorted(".".join(part for part in pair if part) for pair in model.relations)) or "nothing"
        raise ProjectFileError(f"{display}:{directive.line}: {model.qualified} does not read {written};"
                               f" give one of the relations it reads: {reads}")
    return Given(relation, rows, snapshot)


def _rows(text: str, display: str, where: int, directives: dict[str, Directive]) -> Rows:
    """Return the statement's rows, with the names of its columns, or raise ProjectFileError."""
    from pglast import parser  # see runner.project.statements.split_statements

    try:
        (raw,) = parse_json(text)[0]
    except (parser.ParseError, ValueError):
        raise ProjectFileError(f"{display}:{where}: not one SELECT; write the rows as one SELECT or VALUES") from None
    (kind, node), = raw["stmt"].items()
    line = next(directive.line for key, directive in directives.items() if key in ("given", "expect"))
    if kind != "SelectStmt" or "intoClause" in node:
        raise ProjectFileError(f"{display}:{where}: not a SELECT; write the rows as one SELECT or VALUES")
    body = text[_body_start(text):].rstrip().removesuffix(";").rstrip()
    columns_directive = directives.get("columns")
    if "valuesLists" in node:
        if columns_directive is None:
            raise ProjectFileError(f"{display}:{where}: VALUES has no column names; name them on the line above,"
                                   ' e.g. -- weir: given=raw.orders, columns="order_id status"')
        return Rows(body, line, tuple(map(column_name, columns_directive.value.split())), True)
    if columns_directive is not None:
        raise ProjectFileError(f"{display}:{columns_directive.line}: columns is for VALUES; a SELECT names its"
                               " columns with AS: remove it")
    while node.get("op", "SETOP_NONE") != "SETOP_NONE":
        if node["op"] != "SETOP_UNION" or not node.get("all"):
            raise ProjectFileError(f"{display}:{where}: rows are joined with UNION ALL; write UNION ALL")
        node = node["larg"]
    columns = []
    for number, target in enumerate(node.get("targetList", []), start=1):
        fields = target["ResTarget"]
        name = fields.get("name")
        if name is None:
            ref = fields["val"].get("ColumnRef", {}).get("fields", [])
            name = ref[-1].get("String", {}).get("sval") if ref else None
        if name is None:
            raise ProjectFileError(f"{display}:{where}: column {number} of the first row has no name;"
                                   " write <value> AS <column>")
        columns.append(name)
    if len(set(columns)) != len(columns):
        raise ProjectFileError(f"{display}:{where}: a column is named twice in the first row; name each once")
    return Rows(body, line, tuple(columns), False)


def _body_start(text: str) -> int:
    from pglast import parser  # see runner.project.statements.split_statements

    return next((int(token.start) for token in parser.scan(text) if "COMMENT" not in token.name), 0)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)

