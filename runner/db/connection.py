"""Which database Weir talks to, and opening connections to it without leaking secrets.

Resolution order: `--dsn`, `WEIR_DSN`, `DATABASE_URL`, libpq's own PG* variables
(with its service file and pgpass), and with none of them the embedded server.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.errors import ConnectionFailed

if TYPE_CHECKING:
    from runner.project.settings import Settings

# Any one of these means the user has pointed libpq somewhere itself.
LIBPQ_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")

_URI_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A database to connect to and where that choice came from."""

    conninfo: str
    source: str  # "--dsn", "WEIR_DSN", "DATABASE_URL", "PG* environment" or "embedded"


def resolve_target(
    dsn: str | None, settings: Settings, env: Mapping[str, str] = os.environ
) -> Target:
    """Choose the database by Weir's resolution order, starting the embedded one if needed."""
    if dsn:
        return Target(dsn, "--dsn")
    for variable in ("WEIR_DSN", "DATABASE_URL"):
        if env.get(variable):
            return Target(env[variable], variable)
    if any(env.get(variable) for variable in LIBPQ_TARGET_VARIABLES):
        return Target("", "PG* environment")
    # Imported only when no other database is named: most commands never need it.
    from runner.db import embedded

    return Target(embedded.ensure_running(settings), "embedded")


def redact(text: str, conninfo: str = "") -> str:
    """Remove passwords from `text`: URI and keyword forms, and the one in `conninfo`."""
    text = _URI_PASSWORD.sub(r"\1***@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1***", text)
    text = _QUERY_PASSWORD.sub(r"\1***", text)
    password = _password_of(conninfo)
    if password:
        text = text.replace(password, "***")
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
        )
    except psycopg.ProgrammingError as exc:
        raise ConnectionFailed(
            f"invalid connection string: {_first_line(redact(str(exc), conninfo))};"
            " check --dsn, WEIR_DSN or DATABASE_URL"
        ) from None
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(
            f"cannot connect to {describe_conninfo(conninfo)}: {_first_line(redact(str(exc), conninfo))};"
            " check the server is running and --dsn, WEIR_DSN, DATABASE_URL or PG* variables"
        ) from None
    _notice_dead_client(conn)
    return conn


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
