"""The one place a PostgreSQL error becomes `path:line: message`.

PostgreSQL reports where in the statement it failed as a 1-based character position.
Weir often sends a file's SQL wrapped in text of its own (`CREATE TABLE x AS ` before a
model's SELECT, `SELECT count(*) FROM (` around a check's), so the position is first
taken back past that prefix, then counted in lines from where the SQL starts in its file.

Refusals by the database itself get one line that says what to do, and an exit code:

| refusal                                   | SQLSTATE     | found                          | exit |
|-------------------------------------------|--------------|--------------------------------|------|
| database or role does not exist           | (login)      | connecting                     | 2    |
| read-only target (standby, or             | 25006        | connecting (PostgreSQL 14+),   | 2    |
|   default_transaction_read_only)          |              | else at the first write        |      |
| missing privilege (names it, and a GRANT) | 42501        | Weir's own statements          | 2    |
| too many connections                      | 53300        | connecting                     | 1    |
| disk full                                 | 53100        | any statement                  | 1    |

A refusal inside a migration, model or check fails that one as any error does (exit 1),
with the same advice after PostgreSQL's message.
"""

from __future__ import annotations

import re

from runner.errors import ConnectionFailed, InsufficientResources, WeirError


def primary_message(exc: BaseException) -> str:
    """Return PostgreSQL's primary message for `exc`, else the first line of its text."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
    lines = [line.strip() for line in str(primary).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def detail_and_hint(exc: BaseException) -> str:
    """Return PostgreSQL's detail and hint (else Weir's advice on a refusal), each in parentheses after a space."""
    diag = getattr(exc, "diag", None)
    if diag is None:
        return ""
    hint = diag.message_hint or refusal_advice(exc)
    return "".join(f" ({text.strip()})" for text in (diag.message_detail, hint) if text)


def hint_of(exc: BaseException) -> str | None:
    """Return the first line of PostgreSQL's hint for `exc`, if it gave one, else what to do about a refusal."""
    hint = getattr(getattr(exc, "diag", None), "message_hint", None) or refusal_advice(exc)
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


# Refusals by the database itself, as opposed to mistakes in the SQL: what each means and
# what to do, in one line. Connection-time refusals carry no SQLSTATE in libpq, so those are
# recognised by the server's (English) text.
READ_ONLY = "25006"
INSUFFICIENT_PRIVILEGE = "42501"
DISK_FULL = "53100"
TOO_MANY_CONNECTIONS = "53300"

_DENIED = re.compile(
    r"permission denied for (?P<kind>materialized view|foreign table|database|schema|table|view|sequence"
    r"|function|procedure|routine|type|language|tablespace) (?P<name>.+)"
)
_NOT_OWNER = re.compile(r"must be owner of (?P<kind>[a-z ]+?) (?P<name>\S+)$")
_TEMPORARY = re.compile(r'permission denied to create temporary tables in database "(?P<name>.+)"')
_NO_DATABASE = re.compile(r'database "(?P<name>.+)" does not exist')
_NO_ROLE = re.compile(r'role "(?P<name>.+)" does not exist')
_TOO_MANY = re.compile(
    r'too many connections for (?P<kind>role|database) "(?P<name>.+)"|too many clients already'
    r"|remaining connection slots are reserved"
)
# Without a statement to go by, what each kind of object is most likely refused for.
_PRIVILEGE_OF = {
    "database": "CREATE",
    "schema": "USAGE, CREATE",
    "sequence": "USAGE, SELECT, UPDATE",
    "function": "EXECUTE",
    "procedure": "EXECUTE",
    "routine": "EXECUTE",
    "type": "USAGE",
    "language": "USAGE",
    "tablespace": "CREATE",
}
_GRANT_KEYWORD = {"materialized view": "TABLE", "view": "TABLE", "foreign table": "TABLE"}


def refusal_advice(exc: BaseException, role: str | None = None, privileges: str | None = None) -> str | None:
    """Return what a refusal by the database means and what to do, in one line; None for other errors.

    `role` is the role Weir connected as (the GRANT names it; without it, `<role>`), and
    `privileges` which privileges the refused statement lacked, when the caller could find
    out (see `missing_privileges`).
    """
    sqlstate = getattr(exc, "sqlstate", None)
    message = primary_message(exc)
    if sqlstate == READ_ONLY:
        return "the target is read-only (a standby, or default_transaction_read_only is on): point --dsn at the primary"
    if sqlstate == DISK_FULL:
        return (f"the server is out of disk space ({message}); nothing more was changed:"
                " free space on the server, then re-run")
    if sqlstate == TOO_MANY_CONNECTIONS or _TOO_MANY.search(message):
        return too_many_connections_advice(message)
    if sqlstate == INSUFFICIENT_PRIVILEGE:
        return privilege_advice(message, role, privileges)
    return None


def privilege_advice(message: str, role: str | None = None, privileges: str | None = None) -> str:
    """Return which privilege `role` lacks on which object, and the GRANT to run, for a 42501 `message`.

    Without `role` (the caller does not know it) the GRANT names `<role>`: the role on the
    `target:` line Weir printed.
    """
    who, grantee = (f"role {role}", quote_ident(role)) if role else ("the role", "<role>")
    temporary = _TEMPORARY.search(message)
    if temporary:
        name = quote_ident(temporary["name"])
        return (f"{who} lacks TEMPORARY on database {name}:"
                f" as its owner run GRANT TEMPORARY ON DATABASE {name} TO {grantee}")
    denied = _DENIED.search(message)
    if denied:
        kind, name = denied["kind"], denied["name"].strip('"')
        grant = privileges or _PRIVILEGE_OF.get(kind, "SELECT")
        what = privileges or _PRIVILEGE_OF.get(kind, "SELECT (to read; INSERT, UPDATE, DELETE to change)")
        if kind == "schema" and not privileges:
            what = "USAGE or CREATE"
        on = _GRANT_KEYWORD.get(kind, kind.upper())
        return (f"{who} lacks {what} on {kind} {name}:"
                f" as its owner run GRANT {grant} ON {on} {quote_ident(name)} TO {grantee}")
    not_owner = _NOT_OWNER.search(message)
    if not_owner:
        kind, name = not_owner["kind"], not_owner["name"].strip('"')
        return (f"only the owner of {kind} {name} may do this, and {who} is not: run it as the owner,"
                f" or as the owner run GRANT <owner> TO {grantee}")
    return f"{who} lacks a privilege this needs ({message}): grant it, or connect as a role that has it"


def too_many_connections_advice(message: str) -> str:
    """Return what to do when the server refuses a connection for lack of connection slots."""
    found = _TOO_MANY.search(message)
    if found and found["kind"]:
        kind, name = found["kind"], found["name"]
        return (f"the server refused a connection: too many connections for {kind} {name} (its CONNECTION LIMIT);"
                f" nothing more was changed: wait for other sessions to end, use fewer --threads, or raise it"
                f" with ALTER {kind.upper()} {quote_ident(name)} CONNECTION LIMIT n")
    return ("the server refused a connection: all its connection slots are taken (max_connections);"
            " nothing more was changed: wait for other sessions to end, use fewer --threads,"
            " or raise max_connections")


def login_refusal(message: str, where: str) -> WeirError | None:
    """Return the error for a login `where` refused: no such database or role, or no connection slot free."""
    database = _NO_DATABASE.search(message)
    if database:
        name = database["name"]
        return ConnectionFailed(
            f"database {name} does not exist on {where}: create it (CREATE DATABASE {quote_ident(name)})"
            " or fix the database name in --dsn, WEIR_DSN, DATABASE_URL or PGDATABASE")
    role = _NO_ROLE.search(message)
    if role:
        name = role["name"]
        return ConnectionFailed(
            f"role {name} does not exist on {where}: create it (CREATE ROLE {quote_ident(name)} LOGIN)"
            " or fix the user name in --dsn, WEIR_DSN, DATABASE_URL or PGUSER")
    if _TOO_MANY.search(message):
        return InsufficientResources(f"{too_many_connections_advice(message)} ({where})")
    return None


def quote_ident(name: str) -> str:
    """Return `name` as PostgreSQL would need it written in SQL: bare when it can be, else double-quoted."""
    if _BARE_IDENTIFIER.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


_BARE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?")
