"""Reading the SQL files a user writes: `-- weir:` header directives, statements, checksums.

Every position is kept as a line number in the file, so an error can be reported as
`path:line: message` the way a compiler would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import ProjectFileError

# `-- weir: key=value, key="value, with commas"`; yoyo's own `-- transactional: false` too.
_WEIR_DIRECTIVE = re.compile(r"^\s*--\s*weir\s*:(.*)$", re.IGNORECASE)
_YOYO_DIRECTIVE = re.compile(r"^\s*--\s*(transactional|depends)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_COMMENT_OR_BLANK = re.compile(r"^\s*(--.*)?$")
_PAIR = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)""")


@dataclass(frozen=True)
class Directive:
    """One `key=value` from a file's header, with the line it stands on."""

    key: str
    value: str
    line: int


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a file: its text and where it starts."""

    text: str
    offset: int  # character offset in the file
    line: int
    kind: str = ""  # the parser's node name, e.g. "CreateStmt", "IndexStmt"
    outside_transaction: bool = False  # True for statements PostgreSQL refuses in a transaction


@dataclass
class SqlFile:
    """A SQL file as Weir reads it."""

    path: Path
    text: str
    directives: dict[str, Directive] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)

    @property
    def checksum(self) -> str:
        return checksum(self.text)

    def line_at(self, offset: int) -> int:
        """Return the 1-based line of a character offset into the file."""
        return line_at(self.text, offset)


def checksum(text: str) -> str:
    """Return the SHA-256 of `text` with line endings normalised, so CRLF checkouts agree."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def line_at(text: str, offset: int) -> int:
    """Return the 1-based line number of a character offset into `text`."""
    return text.count("\n", 0, max(offset, 0)) + 1


def read_sql_file(path: Path, allowed_directives: Iterable[str], display: str | None = None) -> SqlFile:
    """Read `path`, check its header directives against `allowed_directives`, split statements.

    A syntax error, an unknown directive or an undecodable file raises ProjectFileError
    naming the file and line, before anything reaches the database.
    """
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ProjectFileError(f"{shown}: cannot be read: {exc.strerror}") from None
    directives = parse_header(text, shown, set(allowed_directives))
    return SqlFile(path=path, text=text, directives=directives, statements=split_statements(text, shown))


def parse_header(text: str, shown: str, allowed: set[str]) -> dict[str, Directive]:
    """Return the directives of the leading comment block of `text`."""
    directives: dict[str, Directive] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not _COMMENT_OR_BLANK.match(line):
            break
        pairs = _directive_pairs(line, shown, number)
        for key, value in pairs:
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ProjectFileError(f"{shown}:{number}: unknown directive {key!r}; known directives: {known}")
            if key in directives:
                raise ProjectFileError(
                    f"{shown}:{number}: directive {key!r} is set twice (first on line {directives[key].line})"
                )
            directives[key] = Directive(key, value, number)
    return directives


def _directive_pairs(line: str, shown: str, number: int) -> list[tuple[str, str]]:
    yoyo = _YOYO_DIRECTIVE.match(line)
    if yoyo:
        return [(yoyo.group(1).lower(), yoyo.group(2))]
    weir = _WEIR_DIRECTIVE.match(line)
    if not weir:
        return []
    body = weir.group(1).strip()
    pairs = []
    position = 0
    while position < len(body):
        match = _PAIR.match(body, position)
        if not match or match.end() == position:
            raise ProjectFileError(
                f"{shown}:{number}: malformed directive near {body[position:]!r};"
                ' write -- weir: key=value, other_key="value, with commas"'
            )
        key, value = match.group(1).lower(), (match.group(2) or "true").strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        pairs.append((key, value))
        position = match.end()
    if not pairs:
        raise ProjectFileError(f"{shown}:{number}: empty '-- weir:' directive; remove it or add key=value")
    return pairs


def split_statements(text: str, shown: str) -> list[Statement]:
    """Split `text` into statements with PostgreSQL's own parser (pglast)."""
    from pglast import parser  # costs 0.05 s to import; a run the parse cache serves never needs it

    try:
        tree, char_offset = parse_json(text)
    except parser.ParseError as exc:
        raise ProjectFileError(f"{shown}:{line_at(text, error_offset(text, exc))}: {exc.args[0]}") from None
    statements = []
    for raw in tree:
        location = raw.get("stmt_location", 0)  # JSON leaves out zero values
        start = char_offset(location)
        end = char_offset(location + raw["stmt_len"]) if raw.get("stmt_len") else len(text)
        body = text[start:end].strip()
        if body:
            (kind, node), = raw["stmt"].items()
            statements.append(Statement(body, start, line_at(text, start), kind, _needs_autocommit(kind, node)))
    return statements


def parse_json(text: str) -> tuple[list[dict[str, Any]], Callable[[int], int]]:
    """Parse `text` with PostgreSQL's parser; return its raw statements and a map from byte to character offsets.

    The tree comes back as JSON, ten times faster to load than pglast's Python node
    objects. Its nodes are `{"RangeVar": {...}}`, fields holding one fixed node type are
    left unwrapped, zero and false values are left out, and offsets count bytes.
    Raises pglast's ParseError.
    """
    from pglast import parser  # see split_statements

    statements = json.loads(parser.parse_sql_json(text)).get("stmts", [])
    return statements, lambda byte_offset: char_offset_in(text, byte_offset)


def error_offset(text: str, exc: Exception) -> int:
    """Return the character offset of a pglast ParseError in `text`; "at end of input" has none: the end."""
    byte_offset = exc.args[1] if len(exc.args) > 1 else None
    return len(text.rstrip()) if byte_offset is None else char_offset_in(text, byte_offset)


def char_offset_in(text: str, byte_offset: int) -> int:
    """Return the character offset in `text` of a byte offset into its UTF-8 encoding."""
    if text.isascii():
        return byte_offset
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def json_node(value: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Return (node type, fields) of a JSON parse tree object, or (None, value) for an unwrapped struct."""
    if len(value) == 1:
        (key, fields), = value.items()
        if key[:1].isupper() and isinstance(fields, dict):  # node types are CamelCase, fields are not
            return key, fields
    return None, value


def json_nodes(value: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every node of a JSON parse tree below `value` as (node type, fields), depth first."""
    if isinstance(value, list):
        for item in value:
            yield from json_nodes(item)
    elif isinstance(value, dict):
        kind, fields = json_node(value)
        if kind is not None:
            yield kind, fields
        for item in fields.values():
            yield from json_nodes(item)


_NEVER_IN_TRANSACTION = {"VacuumStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt", "CreateTableSpaceStmt",
                         "DropTableSpaceStmt"}


def _needs_autocommit(kind: str, node: dict[str, Any]) -> bool:
    if kind in _NEVER_IN_TRANSACTION:
        return True
    if kind in ("IndexStmt", "DropStmt"):
        return bool(node.get("concurrent"))
    if kind == "ReindexStmt":
        return any(param.get("DefElem", {}).get("defname") == "concurrently" for param in node.get("params", ()))
    return False


@dataclass(frozen=True)
class SelectRules:
    """What a kind of file (a model, a check) says when it is not exactly one SELECT."""

    empty: str  # after "path:1: "
    second: str  # after "path:line: a second statement; "
    not_select: str  # after "path:line: "; {statement} is the first two words, e.g. "INSERT INTO"
    into: str  # after "path:line: SELECT ... INTO creates a table; "


@dataclass(frozen=True)
class OneSelect:
    """The single SELECT of a model or check file."""

    sql: str  # without header comments or trailing semicolon
    line: int
    offset: int  # character offset of `sql` in the file
    node: dict[str, Any]  # the SelectStmt's fields in pglast's JSON parse tree (see parse_json)
    char_offset: Callable[[int], int]  # a byte offset in the tree -> a character offset in the file


def one_select(text: str, display: str, rules: SelectRules) -> OneSelect:
    """Return the file's only statement, which must be a SELECT, or raise ProjectFileError `path:line: ...`."""
    from pglast import parser  # see split_statements

    try:
        statements, char_offset = parse_json(text)
    except parser.ParseError as exc:
        message = parse_error_text(exc.args[0])
        raise ProjectFileError(f"{display}:{line_at(text, error_offset(text, exc))}: {message}; fix the SQL") from None
    if not statements:
        raise ProjectFileError(f"{display}:1: {rules.empty}")
    if len(statements) > 1:
        second = _first_token(text, char_offset(statements[1].get("stmt_location", 0)))
        raise ProjectFileError(f"{display}:{line_at(text, second)}: a second statement; {rules.second}")
    raw = statements[0]
    start = char_offset(raw.get("stmt_location", 0))
    end = char_offset(raw.get("stmt_location", 0) + raw["stmt_len"]) if raw.get("stmt_len") else len(text)
    # Comments dropped at the ends: a trailing "-- note" would swallow a ")" wrapped around the SELECT.
    tokens = [token for token in parser.scan(text) if start <= token.start < end and "COMMENT" not in token.name]
    if tokens and tokens[-1].name == "ASCII_59":  # ";"
        tokens.pop()
    first, last = tokens[0], tokens[-1]
    line = line_at(text, first.start)
    (kind, node), = raw["stmt"].items()
    if kind != "SelectStmt":
        statement = " ".join(text[token.start : token.end + 1].upper() for token in tokens[:2])
        raise ProjectFileError(f"{display}:{line}: {rules.not_select.format(statement=statement)}")
    if "intoClause" in node:
        raise ProjectFileError(f"{display}:{line}: SELECT ... INTO creates a table; {rules.into}")
    return OneSelect(text[first.start : last.end + 1], line, first.start, node, char_offset)


def parse_error_text(message: str) -> str:
    """Return the first line of a pglast parse error, marking where it was cut."""
    # "at or near" quotes the rest of an unterminated string, newlines and all.
    lines = message.splitlines() or [""]
    return lines[0] + ('..."' if len(lines) > 1 else "")


def _first_token(text: str, offset: int) -> int:
    from pglast import parser  # see split_statements

    for token in parser.scan(text):
        if token.start >= offset and "COMMENT" not in token.name:
            return token.start
    return offset
