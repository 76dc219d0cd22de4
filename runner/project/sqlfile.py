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
from functools import cached_property
from pathlib import Path
from typing import Any

from runner.errors import ProjectFileError
from runner.project.statements import Statement as Statement  # re-exported: a SqlFile holds them
from runner.project.statements import parse_error_text, transaction_word
from runner.project.statements import split_statements as split_statements

# `-- weir: key=value, key="value, with commas"`; yoyo's own `-- transactional: false` too.
_WEIR_DIRECTIVE = re.compile(r"^\s*--\s*weir\s*:(.*)$", re.IGNORECASE)
_YOYO_DIRECTIVE = re.compile(r"^\s*--\s*(transactional|depends)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_COMMENT_OR_BLANK = re.compile(r"^\s*(--.*)?$")
_PAIR = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,"]*))?\s*(?:,|$)""")
_BOM = "\ufeff"


@dataclass(frozen=True)
class Directive:
    """One `key=value` from a file's header, with the line it stands on."""

    key: str
    value: str
    line: int


@dataclass
class SqlFile:
    """A SQL file as Weir reads it."""

    path: Path
    text: str
    directives: dict[str, Directive] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)

    @cached_property
    def checksum(self) -> str:
        return checksum(self.text)

    def line_at(self, offset: int) -> int:
        """Return the 1-based line of a character offset into the file."""
        return line_at(self.text, offset)


def column_name(token: str) -> str:
    """Return the column a header token names: `"Mixed Case"` as written, anything else folded to lower case."""
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('""', '"')
    return token.lower()


def checksum(text: str) -> str:
    """Return the SHA-256 of `text` with line endings normalised, so CRLF checkouts agree.

    `text` is as read_text returns it, without a byte-order mark: adding or removing one is
    no more an edit than changing line endings.
    """
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def line_at(text: str, offset: int) -> int:
    """Return the 1-based line number of a character offset into `text`."""
    return text.count("\n", 0, max(offset, 0)) + 1


def read_text(path: Path, shown: str) -> str:
    """Return the text of `path`, decoded as UTF-8 without its byte-order mark, if it has one.

    Some Windows editors start UTF-8 files with a BOM (EF BB BF); PostgreSQL would read it as
    part of the first word, so it is dropped here. Anything that is not UTF-8 raises
    ProjectFileError `shown:line: not UTF-8 text (... at byte N)`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectFileError(f"{shown}:1: cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ProjectFileError(
            f"{shown}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    return text.removeprefix(_BOM)


def read_sql_file(path: Path, allowed_directives: Iterable[str], display: str | None = None) -> SqlFile:
    """Read `path`, check its header directives against `allowed_directives`, split statements.

    A syntax error, an unknown directive or an undecodable file raises ProjectFileError
    naming the file and line, before anything reaches the database.
    """
    shown = display or str(path)
    text = read_text(path, shown)
    directives = parse_header(text, shown, set(allowed_directives))
    return SqlFile(path=path, text=text, directives=directives, statements=split_statements(text, shown))


def parse_header(text: str, shown: str, allowed: set[str]) -> dict[str, Directive]:
    """Return the directives of the leading comment block of `text`."""
    directives: dict[str, Directive] = {}
    for number, line in enumerate(_leading_lines(text), start=1):
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


def _leading_lines(text: str) -> Iterator[str]:
    """Yield the lines of `text` one by one: a header is a few lines at the top of a file of any size."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield text[start:end].rstrip("\r")
        start = end + 1


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
            rest = body[position:]
            if '"' in rest:
                raise ProjectFileError(
                    f"{shown}:{number}: unclosed or misplaced quote near {rest.strip()!r};"
                    ' quote a whole value and close it: key="value, with commas"'
                )
            raise ProjectFileError(
                f"{shown}:{number}: malformed directive near {rest!r};"
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


def parse_json(text: str) -> tuple[list[dict[str, Any]], Callable[[int], int]]:
    """Parse `text` with PostgreSQL's parser; return its raw statements and a map from byte to character offsets.

    The tree comes back as JSON, ten times faster to load than pglast's Python node
    objects. Its nodes are `{"RangeVar": {...}}`, fields holding one fixed node type are
    left unwrapped, zero and false values are left out, and offsets count bytes.
    For a model or a check: a migration's statements are found by split_statements.
    Raises pglast's ParseError.
    """
    from pglast import parser  # see runner.project.statements.split_statements

    statements = json.loads(parser.parse_sql_json(text)).get("stmts", [])
    if text.isascii():
        return statements, lambda byte_offset: byte_offset
    encoded = text.encode("utf-8")
    return statements, lambda byte_offset: len(encoded[:byte_offset].decode("utf-8", errors="ignore"))


def error_offset(text: str, exc: Exception) -> int:
    """Return the character offset of a pglast ParseError in `text`; "at end of input" has none: the end.

    PostgreSQL reports an error's position in characters, not bytes.
    """
    index = exc.args[1] if len(exc.args) > 1 else None
    return len(text.rstrip()) if index is None else int(index)


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


@dataclass(frozen=True)
class SelectRules:
    """What a kind of file (a model, a check) says when it is not exactly one SELECT."""

    empty: str  # after "path:1: "
    second: str  # after "path:line: a second statement; "
    not_select: str  # after "path:line: "; {statement} is the first two words, e.g. "INSERT INTO"
    into: str  # after "path:line: SELECT ... INTO creates a table; "
    # after "path:line: COMMIT is transaction control; "
    transaction: str = "Weir runs the file in a transaction of its own: remove it"


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
    from pglast import parser  # see runner.project.statements.split_statements

    try:
        statements, char_offset = parse_json(text)
    except parser.ParseError as exc:
        message = parse_error_text(exc.args[0])
        raise ProjectFileError(f"{display}:{line_at(text, error_offset(text, exc))}: {message}; fix the SQL") from None
    if not statements:
        raise ProjectFileError(f"{display}:1: {rules.empty}")
    for raw in statements:  # named as what it is, before "a second statement" would hide it
        if "TransactionStmt" in raw["stmt"]:
            where = line_at(text, _first_token(text, char_offset(raw.get("stmt_location", 0))))
            word = transaction_word(raw["stmt"]["TransactionStmt"])
            raise ProjectFileError(f"{display}:{where}: {word} is transaction control; {rules.transaction}")
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


def _first_token(text: str, offset: int) -> int:
    from pglast import parser  # see runner.project.statements.split_statements

    for token in parser.scan(text):
        if token.start >= offset and "COMMENT" not in token.name:
            return token.start
    return offset
