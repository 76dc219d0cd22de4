"""Test servers and databases: real PostgreSQL, a fresh database per test.

The server is the one named by WEIR_TEST_DSN, or else an embedded PostgreSQL
started for the session in a temporary directory with fsync off. pytest-postgresql's
`postgresql` fixture creates each test's database from a template on that server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql import factories

from runner.cli import cli
from runner.db import embedded

# Cheap, throwaway durability: a per-test database costs about a fifth with these off.
FAST_TEST_SERVER = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

_embedded_state_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point pytest-postgresql at WEIR_TEST_DSN's server, or start an embedded one."""
    global _embedded_state_dir
    if hasattr(config, "workerinput"):
        return
    dsn = os.environ.get("WEIR_TEST_DSN")
    if dsn:
        params = conninfo_to_dict(dsn)
        host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
        user, password = params.get("user", "postgres"), params.get("password")
    else:
        _embedded_state_dir = Path(tempfile.mkdtemp(prefix="weir-test-"))
        state = embedded.start(_embedded_state_dir, FAST_TEST_SERVER)
        host, port, user, password = str(state.socket_dir), str(state.port), embedded.USER, None
    config.option.postgresql_host = host
    config.option.postgresql_port = port
    config.option.postgresql_user = user
    config.option.postgresql_password = password
    # One name per session, so suites run side by side on one server do not collide.
    config.option.postgresql_dbname = f"weir_test_{os.getpid()}"
    config.option.postgresql_drop_test_database = True


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop and remove the session's embedded server."""
    if _embedded_state_dir is not None:
        embedded.stop(_embedded_state_dir)
        shutil.rmtree(_embedded_state_dir, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which server the suite runs against."""
    if os.environ.get("WEIR_TEST_DSN"):
        return "weir test server: WEIR_TEST_DSN"
    return f"weir test server: embedded PostgreSQL in {_embedded_state_dir}"


postgresql_server = factories.postgresql_noproc()
postgresql = factories.postgresql("postgresql_server")


@pytest.fixture
def db(postgresql: psycopg.Connection) -> psycopg.Connection:
    """A connection in autocommit to this test's fresh database."""
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def dsn(postgresql: psycopg.Connection) -> str:
    """A connection string for this test's fresh database, as a user would pass to --dsn."""
    info = postgresql.info
    params = {"host": info.host, "port": info.port, "user": info.user, "dbname": info.dbname}
    password = info.password
    if password:
        params["password"] = password
    return make_conninfo(**params)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty Weir project directory with a [weir] section and a migrations/ folder."""
    (tmp_path / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nlock_retries = 1\n")
    (tmp_path / "migrations").mkdir()
    return tmp_path


def _write_migration(project: Path, stem: str, forward: str, rollback: str | None = "") -> Path:
    """Write migrations/<stem>.sql and, unless `rollback` is None, its rollback file."""
    path = project / "migrations" / f"{stem}.sql"
    path.write_text(forward)
    if rollback is not None:
        (project / "migrations" / f"{stem}.rollback.sql").write_text(rollback)
    return path


def _write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write `files` (paths relative to `root`, text or bytes), creating folders as needed."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _write_models(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (paths relative to `root`) and return the models directory."""
    _write_files(root, files)
    return root / "models"


def _flush_statistics(db: psycopg.Connection) -> None:
    """Make this session's table statistics visible to others now, not within seconds (what skipping reads)."""
    db.execute("SELECT pg_stat_force_next_flush()")


@pytest.fixture
def write_migration() -> Callable[..., Path]:
    """write_migration(project, stem, forward, rollback="") writes a migration and, unless None, its rollback."""
    return _write_migration


@pytest.fixture
def write_files() -> Callable[[Path, dict[str, str | bytes]], None]:
    """write_files(root, files) writes text or bytes files at paths relative to root, creating folders."""
    return _write_files


@pytest.fixture
def write_models() -> Callable[[Path, dict[str, str | bytes]], Path]:
    """write_models(root, files) writes files like write_files and returns root / "models"."""
    return _write_models


@pytest.fixture
def flush_statistics() -> Callable[[psycopg.Connection], None]:
    """flush_statistics(db) makes this session's table statistics visible to other sessions now."""
    return _flush_statistics


@pytest.fixture
def weir() -> Callable[..., Result]:
    """weir(*args, **kwargs) runs the weir CLI in-process via click's CliRunner and returns its Result."""

    def invoke(*args: str, **kwargs) -> Result:
        return CliRunner().invoke(cli, list(args), **kwargs)

    return invoke


def _wait_until(condition: Callable[[], Any], seconds: float = 30.0, what: str | None = None) -> Any:
    """Return `condition()` once it is truthy, polling every 10 ms; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() >= deadline:
            pytest.fail(f"{what or 'the condition'} did not hold within {seconds} s")
        time.sleep(0.01)  # polling a condition, not waiting in its place


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """wait_until(condition, seconds=30.0, what=None) polls until condition() is truthy and returns it."""
    return _wait_until


@pytest.fixture
def analyst(db: psycopg.Connection) -> Iterator[str]:
    """A role of this test's own (roles are server-wide), dropped with what it was granted."""
    role = f"analyst_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    yield role
    db.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role)))
