"""Shared benchmark helpers: which server to measure on, throwaway databases, timed commands, result tables.

Every benchmark compares Weir with a floor (the same SQL through psql) on the same server,
so the server, the psql and the way time is taken are chosen here once.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runner.db import embedded
from runner.db.connection import describe, redact

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN_VARIABLE = "WEIR_BENCH_DSN"


def compile_weir() -> None:
    """Write the bytecode of Weir's modules, so a timed `weir` does not compile them every run.

    pip writes it for an installed package, but not for an editable install's sources, and not
    at all under PYTHONDONTWRITEBYTECODE; without it each `weir` spends about 0.05 s compiling.
    """
    import compileall

    compileall.compile_dir(ROOT / "runner", quiet=1)


@dataclass(frozen=True)
class Server:
    """The PostgreSQL server a benchmark runs on, and the psql that talks to it."""

    conninfo: str  # an administrative connection, used to create and drop databases
    psql: str
    description: str


def find_server(dsn: str | None) -> Server:
    """Use `dsn`, else $WEIR_BENCH_DSN, else the system PostgreSQL if it answers, else the embedded one."""
    dsn = dsn or os.environ.get(DSN_VARIABLE)
    if dsn:
        return _server(dsn, shutil.which("psql") or _embedded_psql())
    if _reachable(DEFAULT_DSN):
        return _server(DEFAULT_DSN, shutil.which("psql") or _embedded_psql())
    state = embedded.start(ROOT / ".weir")
    return _server(state.conninfo(), _embedded_psql())


def _server(conninfo: str, psql: str) -> Server:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        where = describe(conn)
    return Server(conninfo, psql, f"PostgreSQL {version} at {where}")


def _reachable(conninfo: str) -> bool:
    try:
        psycopg.connect(conninfo, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def _embedded_psql() -> str:
    return str(embedded.bin_dir() / "psql")


def database_conninfo(conninfo: str, dbname: str) -> str:
    """Return `conninfo` pointed at database `dbname`."""
    params = conninfo_to_dict(conninfo)
    params["dbname"] = dbname
    return make_conninfo(**params)


@contextmanager
def fresh_database(server: Server, dbname: str) -> Iterator[str]:
    """Create an empty database `dbname` (dropping any leftover), yield its conninfo, drop it."""
    drop_database(server, dbname)
    create_database(server, dbname)
    try:
        yield database_conninfo(server.conninfo, dbname)
    finally:
        drop_database(server, dbname)


def create_database(server: Server, dbname: str, template: str | None = None) -> None:
    """Create database `dbname`, a copy of `template` when one is given."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(statement)


def drop_database(server: Server, dbname: str) -> None:
    """Drop database `dbname` if it exists, whoever is connected to it."""
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def timed(label: str, command: list[str], conninfo: str = "") -> float | None:
    """Run `command` and return its wall-clock seconds, or None (after saying why) if it failed."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
        detail = redact("\n    ".join(output), conninfo)
        print(f"  {label} failed (exit {result.returncode}):\n    {detail}", file=sys.stderr)
        return None
    return elapsed


@dataclass(frozen=True)
class Measured:
    """How long a command took, and the most memory it held at once."""

    seconds: float
    peak_rss_mb: float


def measured(label: str, command: list[str], conninfo: str = "") -> Measured | None:
    """Run `command`; return its wall-clock seconds and peak RSS, or None (after saying why) if it failed.

    os.wait4 reports the resources of this one child, where RUSAGE_CHILDREN would give
    the largest of every child the benchmark has run so far.
    """
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if process.returncode != 0:
            output.seek(0)
            detail = redact("\n    ".join(output.read().strip().splitlines()[-5:]), conninfo)
            print(f"  {label} failed (exit {process.returncode}):\n    {detail}", file=sys.stderr)
            return None
    return Measured(elapsed, usage.ru_maxrss / 1024)  # Linux counts ru_maxrss in KiB


def median(samples: list[float | None]) -> float | None:
    """Return the median of `samples`, or None if any of them failed."""
    if not samples or any(sample is None for sample in samples):
        return None
    return statistics.median(samples)


def results_table(medians: dict[str, float | None], floor: str) -> str:
    """Return a table of each method's median seconds and its ratio to the `floor` method."""
    from tabulate import tabulate

    base = medians.get(floor)
    rows = []
    for method, seconds in medians.items():
        ratio = f"{seconds / base:.2f}x" if seconds is not None and base else "-"
        rows.append([method, f"{seconds:.3f}" if seconds is not None else "failed", ratio])
    return tabulate(rows, headers=["method", "seconds", f"ratio to {floor}"], tablefmt="simple")


def verdict(met: bool | None) -> str:
    """Say whether a target was met, or could not be judged."""
    return {True: "met", False: "NOT met", None: "not measured"}[met]
