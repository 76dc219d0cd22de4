"""Which database Weir talks to, and opening connections to it without leaking secrets.

Resolution order: `--dsn`, `WEIR_DSN`, `DATABASE_URL`, then libpq: any of libpq's own
connection variables set (non-empty) in the environment (PGHOST, PGPORT, PGDATABASE,
PGUSER, PGPASSWORD, PGSSLMODE, PGSERVICE, ...: every variable libpq's PQconndefaults()
names, plus PGSERVICEFILE and PGSYSCONFDIR), or a service file ~/.pg_service.conf, means
a server was meant: Weir then connects as psql would, with libpq's defaults for the rest,
and never falls back to the embedded server. With none of them, the embedded server.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import pq, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.db.errors import (
    INSUFFICIENT_PRIVILEGE,
    READ_ONLY,
    login_refusal,
    primary_message,
    privilege_advice,
    refusal_advice,
)
from runner.errors import ConnectionFailed, InsufficientResources, TargetRefused, WeirError

if TYPE_CHECKING:
    from runner.project.settings import Settings

# Where libpq finds service files besides the variables it names as connection defaults.
_SERVICE_FILE_VARIABLES = ("PGSERVICEFILE", "PGSYSCONFDIR")

# The key of weir.pii_hash(): read from the environment, passed at connect, redacted everywhere.
PII_KEY_VARIABLE = "WEIR_PII_KEY"
_URI_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A database to connect to and where that choice came from."""

    conninfo: str
    # "--dsn", "WEIR_DSN", "DATABASE_URL", the libpq variables set ("PGHOST, PGPORT"),
    # "~/.pg_service.conf", or "embedded"
    source: str
    data_dir: Path | None = None  # the embedded server's, when source is "embedded"


def resolve_target(
    dsn: str | None, settings: Settings, env: Mapping[str, str] = os.environ
) -> Target:
    """Choose the database by Weir's resolution order, starting the embedded one if needed."""
    if dsn:
        return Target(dsn, "--dsn")
    for variable in ("WEIR_DSN", "DATABASE_URL"):
        if env.get(variable):
            return Target(env[variable], variable)
    libpq_source = libpq_environment(env)
    if libpq_source:
        return Target("", libpq_source)
    # Imported only when no other database is named: most commands never need it.
    from runner.db import embedded

    return Target(embedded.ensure_running(settings), "embedded", embedded.data_dir(settings.state_dir))


def libpq_environment(env: Mapping[str, str] = os.environ) -> str:
    """Return what in the environment points libpq at a server ("PGPASSWORD, PGSSLMODE"), or ''.

    Any connection variable libpq reads (as PQconndefaults() lists them) counts, set to
    anything but '', and so does a service file where libpq looks for one by default.
    """
    names = {option.envvar.decode() for option in pq.Conninfo.get_defaults() if option.envvar}
    found = sorted(name for name in names.union(_SERVICE_FILE_VARIABLES) if env.get(name))
    if found:
        return ", ".join(found)
    home = env.get("HOME")
    if home and (Path(home) / ".pg_service.conf").is_file():
        return "~/.pg_service.conf"
    return ""


def describe_target(target: Target, conn: psycopg.Connection[Any]) -> str:
    """Return where `conn` (opened for `target`) is: `user@host:port/dbname`, or `embedded at .weir/pgdata`."""
    if target.data_dir is None:
        return describe(conn)
    try:
        shown = target.data_dir.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = target.data_dir.resolve()
    return f"embedded at {shown}"


def read_only_reason(conn: psycopg.Connection[Any]) -> str | None:
    """Return why the server behind `conn` refuses writes ("a standby in recovery", ...), or None.

    PostgreSQL 14 and later report both settings at login, so this costs no round trip;
    older servers report neither, and a write there fails with 25006 (see refused()).
    """
    if conn.info.parameter_status("in_hot_standby") == "on":
        return "a standby in recovery"
    if conn.info.parameter_status("default_transaction_read_only") == "on":
        return "default_transaction_read_only is on"
    return None


def refused(exc: BaseException, conn: psycopg.Connection[Any], target: str) -> WeirError | None:
    """Return the WeirError for a refusal by the database behind `conn` (at `target`), or None for other errors.

    On a missing privilege the connection, when still usable, is asked which privileges
    the role lacks on the object, so the message names them.
    """
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == READ_ONLY:
        reason = read_only_reason(conn) or "a standby, or default_transaction_read_only is on"
        return TargetRefused(f"the target {target} is read-only ({reason}): point --dsn at the primary")
    if sqlstate == INSUFFICIENT_PRIVILEGE:
        message = primary_message(exc)
        return TargetRefused(privilege_advice(message, conn.info.user, missing_privileges(conn, message)))
    advice = refusal_advice(exc)
    return InsufficientResources(advice) if advice else None


_PROBES = {
    "schema": ("has_schema_privilege", ("USAGE", "CREATE")),
    "table": ("has_table_privilege", ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")),
    "sequence": ("has_sequence_privilege", ("USAGE", "SELECT", "UPDATE")),
}
_PROBED_KIND = re.compile(r"permission denied for (?P<kind>schema|table|view|materialized view|sequence) (?P<name>.+)")


def missing_privileges(conn: psycopg.Connection[Any], message: str) -> str | None:
    """Return the privileges the role of `conn` lacks on the object a 42501 `message` names ("USAGE"), if known.

    On a schema it is USAGE when that is missing (nothing in it can be used), else CREATE;
    on a table, view or sequence every privilege the role lacks there, reading ones first.
    """
    found = _PROBED_KIND.search(message)
    if found is None or conn.closed or conn.broken or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return None
    kind = "table" if found["kind"] in ("view", "materialized view") else found["kind"]
    function, privileges = _PROBES[kind]
    name = found["name"].strip('"')
    probe = sql.SQL("SELECT {}(current_user, %s, %s)").format(sql.Identifier(function))
    try:
        lacking = [p for p in privileges if not conn.execute(probe, (name, p)).fetchone()[0]]  # type: ignore[index]
    except psycopg.Error:
        return None
    if kind == "schema" and "USAGE" in lacking:
        lacking = ["USAGE"]
    return ", ".join(lacking[:4] if kind == "table" else lacking) or None


def redact(text: str, conninfo: str = "") -> str:
    """Remove passwords from `text`: URI and keyword forms, and the one in `conninfo`."""
    text = _URI_PASSWORD.sub(r"\1***@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1***", text)
    text = _QUERY_PASSWORD.sub(r"\1***", text)
    password = _password_of(conninfo)
    if password:
        text = text.replace(password, "***")
    key = os.environ.get(PII_KEY_VARIABLE)
    if key:
        text = text.replace(key, "***")
    return text


def describe(conn: psycopg.Connection[Any]) -> str:
    """Return `user@host:port/dbname` of the server `conn` reached, as libpq resolved it; never a password."""
    info = conn.info
    where = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
    service = info.get_parameters().get("service")
    return f"service {service} ({where})" if service else where


def describe_conninfo(conninfo: str) -> str:
    """Return `user@host:port/dbname` that libpq would try for `conninfo`, before connecting; never a password.

    What the string leaves out comes from libpq's defaults (its PG* variables, the login
    name); a host libpq leaves to its compiled-in socket directory is shown as 'localhost'.
    """
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return redact(conninfo, conninfo)
    defaults = {
        option.keyword.decode(): option.val.decode()
        for option in pq.Conninfo.get_defaults()
        if option.val is not None
    }

    def value(keyword: str) -> str:
        return str(params.get(keyword) or defaults.get(keyword) or "")

    user = value("user")
    host = value("host") or value("hostaddr") or "localhost"
    dbname = value("dbname") or user
    where = f"{user}@{host}:{value('port')}/{dbname}" if user else f"{host}:{value('port')}/{dbname}"
    service = value("service")
    return f"service {service} ({where})" if service else where


def connect(conninfo: str, purpose: str = "weir", autocommit: bool = True) -> psycopg.Connection[Any]:
    """Open a connection, named after `purpose` in pg_stat_activity so others see who holds it."""
    application_name = f"{purpose} ({socket.gethostname()} pid {os.getpid()})"[:63]
    try:
        conn = psycopg.connect(
            conninfo,
            autocommit=autocommit,
            application_name=application_name,
            connect_timeout=int(os.environ.get("WEIR_CONNECT_TIMEOUT", "10")),
            **_pii_key_option(conninfo),
        )
    except psycopg.ProgrammingError as exc:
        raise ConnectionFailed(
            f"invalid connection string: {_first_line(redact(str(exc), conninfo))};"
            " check --dsn, WEIR_DSN or DATABASE_URL"
        ) from None
    except psycopg.OperationalError as exc:
        where = describe_conninfo(conninfo)
        reason = _first_line(redact(str(exc), conninfo))
        refusal = login_refusal(reason, where)
        if refusal is not None:
            raise refusal from None
        raise ConnectionFailed(
            f"cannot connect to {where}: {reason};"
            " check the server is running and --dsn, WEIR_DSN, DATABASE_URL or PG* variables"
        ) from None
    _notice_dead_client(conn)
    return conn


def _pii_key_option(conninfo: str) -> dict[str, Any]:
    """Return the `options` that set weir.pii_key from WEIR_PII_KEY, keeping the connection's own.

    The key goes in the startup packet: unlike a SET or a bound parameter, no statement text,
    pg_stat_activity row or statement log ever holds it.
    """
    key = os.environ.get(PII_KEY_VARIABLE)
    if not key:
        return {}
    given = conninfo_to_dict(conninfo).get("options") or os.environ.get("PGOPTIONS", "")
    if "weir.pii_key" in str(given):
        return {}  # a worker's connection string, made from a connection that already had it
    escaped = key.replace("\\", "\\\\").replace(" ", "\\ ")
    return {"options": f"{given} -c weir.pii_key={escaped}".strip()}


def conninfo_of(conn: psycopg.Connection[Any]) -> str:
    """Return a connection string that reaches the same database as `conn`, as the same user.

    psycopg's `conn.info.dsn` leaves the password out; it is added back, so worker threads
    can open connections of their own with the credentials the caller's connection used.
    """
    password = conn.info.password
    return make_conninfo(conn.info.dsn, password=password) if password else conn.info.dsn


def _notice_dead_client(conn: psycopg.Connection[Any]) -> None:
    # A weir process killed mid-statement (even while waiting for a lock) should not leave
    # its backend running, holding Weir's run lock: have the server poll the socket.
    try:
        conn.execute("SET client_connection_check_interval = '1s'")
    except psycopg.Error:
        pass  # PostgreSQL before 14, or a platform without the check: the lock ends with the backend


def _password_of(conninfo: str) -> str:
    if not conninfo:
        return ""
    try:
        return str(conninfo_to_dict(conninfo).get("password") or "")
    except psycopg.ProgrammingError:
        return ""


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    # libpq prefixes with the socket it tried; the reason is the last meaningful line.
    for line in lines:
        if "FATAL:" in line or "failed:" in line:
            return line.split("FATAL:", 1)[-1].strip()
    return lines[-1] if lines else "unknown error"
