"""The one place a PostgreSQL error becomes `path:line: message`.

PostgreSQL reports where in the statement it failed as a 1-based character position.
Weir often sends a file's SQL wrapped in text of its own (`CREATE TABLE x AS ` before a
model's SELECT, `SELECT count(*) FROM (` around a check's), so the position is first
taken back past that prefix, then counted in lines from where the SQL starts in its file.
"""

from __future__ import annotations


def primary_message(exc: BaseException) -> str:
    """Return PostgreSQL's primary message for `exc`, else the first line of its text."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
    lines = [line.strip() for line in str(primary).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def detail_and_hint(exc: BaseException) -> str:
    """Return PostgreSQL's detail and hint for `exc`, each in parentheses after a space; '' when neither."""
    diag = getattr(exc, "diag", None)
    if diag is None:
        return ""
    return "".join(f" ({text.strip()})" for text in (diag.message_detail, diag.message_hint) if text)


def hint_of(exc: BaseException) -> str | None:
    """Return the first line of PostgreSQL's hint for `exc`, if it gave one."""
    hint = getattr(getattr(exc, "diag", None), "message_hint", None)
    return hint.strip().splitlines()[0] if hint and hint.strip() else None


def error_line(exc: BaseException, sql: str, first_line: int, sent_before: int = 0) -> int:
    """Return the file line `exc` points at, for `sql` that starts at `first_line` of its file.

    `sent_before` is how many characters of the statement sent came before `sql`. Without a
    position inside `sql`, the answer is `first_line`.
    """
    position = getattr(getattr(exc, "diag", None), "statement_position", None)
    if not position:
        return first_line
    offset = int(position) - 1 - sent_before
    if not 0 <= offset <= len(sql):
        return first_line
    return first_line + sql.count("\n", 0, offset)
