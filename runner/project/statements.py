"""A SQL file's statements, found by PostgreSQL's parser in time and memory linear in the file's size.

Splitting: pglast hands its whole parse tree back as JSON, and for a 20 MB migration of
150,000 INSERTs that is 120 MB of JSON and a gigabyte of Python objects; its `split()`
maps each statement's byte offset to a character offset by walking the file from the start.
So Weir asks the parser (libpg_query's split, which builds no JSON) for the statements of
one chunk of about `_CHUNK` characters at a time and finds each statement's character offset
and line by moving one cursor forward. A chunk is cut after a semicolon that ends a line; every statement of a
chunk but its last ended at a top-level semicolon the parser saw, so it is exactly the statement
the whole file holds there (a cut inside a string, comment, dollar quote or BEGIN ATOMIC body
leaves it unterminated: the parse fails and the chunk grows). The last one is read again at the
start of the next chunk.

Kinds: whether a statement is transaction control (BEGIN, COMMIT, SAVEPOINT, ...) or one
PostgreSQL refuses inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...) is
decided by parsing it, on first use. A statement whose first word cannot begin such a statement
(`_FIRST_WORDS`, `_DDL_WORDS`) cannot be one and is not parsed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from runner.errors import ProjectFileError

_CHUNK = 1 << 18  # characters handed to the parser at once: about 2,000 typical statements

# The first word of every statement that is transaction control or that PostgreSQL runs only
# outside a transaction block; after CREATE, DROP or ALTER, one of the words that says so must
# follow. A keyword is never written with escapes, so a statement failing this test is neither,
# and one passing it (`ALTER TABLE system_log ...`) is parsed to find out.
_FIRST_WORDS = frozenset({"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare",
                          "vacuum", "reindex", "cluster", "discard"})
_DDL_WORDS = frozenset({"create", "drop", "alter"})
_DDL_MARKS = re.compile(r"\b(?:concurrently|database|system|tablespace|subscription)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]*")

# What each TransactionStmt kind is written as, for messages.
_TRANSACTION_WORDS = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE SAVEPOINT",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a file: its text (leading comments included) and where it starts."""

    text: str
    offset: int  # character offset in the file
    line: int

    @property
    def kind(self) -> str:
        """The parser's node name, e.g. "CreateStmt", "IndexStmt"."""
        return self._parsed[0]

    @property
    def transaction_control(self) -> str | None:
        """The statement as written if it begins, ends or marks a transaction ("COMMIT", "SAVEPOINT"), else None."""
        if not self._may_matter:
            return None
        kind, node = self._parsed
        return transaction_word(node) if kind == "TransactionStmt" else None

    @property
    def outside_transaction(self) -> str | None:
        """What this statement is if PostgreSQL (15 to 18) refuses it in a transaction block, e.g. "VACUUM", else None.

        `ALTER TYPE ... ADD VALUE` is not among them: PostgreSQL 12 and later run it in a
        transaction. Using the new value in the same transaction fails there, and the whole
        transaction is rolled back, so nothing is left half done.
        """
        if not self._may_matter:
            return None
        return _refused_in_transaction(*self._parsed)

    @property
    def keyword_line(self) -> int:
        """The line of the statement's first keyword (after any comments before it)."""
        from pglast import parser  # see split_statements

        first = next((token.start for token in parser.scan(self.text) if "COMMENT" not in token.name), 0)
        return self.line + self.text.count("\n", 0, first)

    @cached_property
    def first_word(self) -> str | None:
        """The statement's first word in lower case, after its comments ("insert"); None when unsure."""
        return _first_word(self.text)

    @cached_property
    def _may_matter(self) -> bool:
        """Whether the statement may be transaction control or refused in a transaction: if so, parse it."""
        word = self.first_word
        if word is None or word in _FIRST_WORDS:
            return True
        return word in _DDL_WORDS and _DDL_MARKS.search(self.text) is not None

    @cached_property
    def _parsed(self) -> tuple[str, dict[str, Any]]:
        from pglast import parser  # see split_statements

        (raw,) = json.loads(parser.parse_sql_json(self.text))["stmts"]
        ((kind, node),) = raw["stmt"].items()
        return kind, node


def _first_word(text: str) -> str | None:
    """Return the statement's first word in lower case, after its comments; None when unsure (nested comments)."""
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("--", position):
            newline = text.find("\n", position)
            if newline < 0:
                return ""
            position = newline + 1
        elif text.startswith("/*", position):
            end = text.find("*/", position + 2)
            if end < 0 or "/*" in text[position + 2 : end]:
                return None  # PostgreSQL nests block comments: let the parser read it
            position = end + 2
        else:
            match = _WORD.match(text, position)
            return match.group().lower() if match else ""


def transaction_word(node: dict[str, Any]) -> str:
    """Return how a TransactionStmt's fields are written in SQL, e.g. "COMMIT"."""
    return _TRANSACTION_WORDS.get(node.get("kind", ""), "transaction control")


_ALWAYS_OUTSIDE = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
}


def _refused_in_transaction(kind: str, node: dict[str, Any]) -> str | None:
    if kind in _ALWAYS_OUTSIDE:
        return _ALWAYS_OUTSIDE[kind]
    if kind == "VacuumStmt":  # ANALYZE alone runs in a transaction
        return "VACUUM" if node.get("is_vacuumcmd") else None
    if kind == "IndexStmt" and node.get("concurrent"):
        return "CREATE INDEX CONCURRENTLY"
    if kind == "DropStmt" and node.get("concurrent"):
        return "DROP INDEX CONCURRENTLY"
    if kind == "ReindexStmt":
        if any(param.get("DefElem", {}).get("defname") == "concurrently" for param in node.get("params", ())):
            return "REINDEX CONCURRENTLY"
        if node.get("kind") in ("REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"):
            return "REINDEX " + str(node["kind"]).removeprefix("REINDEX_OBJECT_")
    if kind == "AlterTableStmt":
        for command in node.get("cmds", ()):
            fields = command.get("AlterTableCmd", {})
            if fields.get("subtype") == "AT_DetachPartition" and fields.get("def", {}).get("PartitionCmd", {}).get(
                "concurrent"
            ):
                return "DETACH PARTITION CONCURRENTLY"
    if kind == "ClusterStmt" and "relation" not in node:
        return "CLUSTER without a table"
    if kind == "DiscardStmt" and node.get("target") == "DISCARD_ALL":
        return "DISCARD ALL"
    if kind == "AlterDatabaseStmt" and "tablespace" in _option_values(node):
        return "ALTER DATABASE SET TABLESPACE"
    if kind == "CreateSubscriptionStmt":  # it creates a replication slot unless told not to
        options = _option_values(node)
        if not {options.get("connect", "true"), options.get("create_slot", "true")} & {"false", "off", "no", "0"}:
            return "CREATE SUBSCRIPTION (creating a replication slot)"
    # DROP SUBSCRIPTION is refused only when the subscription has a slot, which only the server knows.
    return None


def _option_values(node: dict[str, Any]) -> dict[str, str]:
    """Return the `WITH (name = value)` options of a statement's JSON fields, values in lower case as written."""
    values = {}
    for option in node.get("options", ()):
        fields = option.get("DefElem", {})
        words = [value for _, value in _leaves(fields.get("arg", {}))]
        values[fields.get("defname", "")] = str(words[0]).lower() if words else "true"
    return values


def _leaves(value: object) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in (_leaves(item) or [(key, item)])]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def split_statements(text: str, shown: str) -> list[Statement]:
    """Split `text` into statements with PostgreSQL's own parser (pglast), one chunk at a time.

    A syntax error raises ProjectFileError `shown:line: message`.
    """
    from pglast import parser  # costs 0.05 s to import; a run the parse cache serves never needs it

    statements: list[Statement] = []
    lines = _LineCursor(text)
    position, size = 0, _CHUNK
    while position < len(text):
        end = _cut_after_semicolon(text, position + size)
        last_chunk = end == len(text)
        try:
            found = [body for body in parser.split(text[position:end], with_parser=True) if body]
        except parser.ParseError as exc:
            if not last_chunk:
                size *= 2  # cut inside a string, comment or statement: read on to its end
                continue
            index = exc.args[1] if len(exc.args) > 1 and exc.args[1] is not None else len(text[position:].rstrip())
            raise ProjectFileError(f"{shown}:{lines.at(position + index)}: {parse_error_text(exc.args[0])}") from None
        if not last_chunk:
            if len(found) < 2:
                size *= 2
                continue
            found.pop()  # it may be cut short: read again at the start of the next chunk
        cursor = position
        for body in found:
            start = text.find(body, cursor)  # after the semicolon and blanks that follow `cursor`
            statements.append(Statement(body, start, lines.at(start)))
            cursor = start + len(body)
        if last_chunk:
            break
        position, size = cursor, _CHUNK
    return statements


def parse_error_text(message: str) -> str:
    """Return the first line of a pglast parse error, marking where it was cut."""
    # "at or near" quotes the rest of an unterminated string, newlines and all.
    lines = message.splitlines() or [""]
    return lines[0] + ('..."' if len(lines) > 1 else "")


def _cut_after_semicolon(text: str, at: int) -> int:
    """Return where a chunk reaching at least to `at` ends: after a semicolon that ends a line, if there is one."""
    if at >= len(text):
        return len(text)
    semicolon = text.find(";\n", at)  # a semicolon inside a string seldom ends its line
    if semicolon < 0:
        semicolon = text.find(";", at)
    return len(text) if semicolon < 0 else semicolon + 1


class _LineCursor:
    """The line of increasing offsets into a text, counting each newline once."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        """Return the 1-based line of character `offset`."""
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = max(offset, self.offset)
        return self.line
