"""Ten `weir run` processes at once on one database: each migration once, content as one run leaves it.

Runs of one kind wait for each other on an advisory lock (README: "One run at a time"), so
every process exits 0: the first applies the pending migration and builds, the others find
it applied and the models up to date.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 10
# `make faults` repeats the whole trial; one round in `make test`.
ROUNDS = max(1, int(os.environ.get("WEIR_FAULT_TRIALS", "3")) // 4)
MIGRATIONS = ["0001_raw_schema", "0002_customers_and_products", "0003_orders", "0004_order_items",
              "0005_orders_ordered_at_index", "0006_customers_personal_data"]


def start_run(dsn: str) -> subprocess.Popen[str]:
    """Start `weir run` on the example project as its own process, as CI jobs on one database would."""
    return subprocess.Popen([sys.executable, "-m", "runner.cli", "run", "--project", str(ROOT), "--dsn", dsn],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_ten_concurrent_runs_apply_each_migration_once_and_leave_one_runs_content(
        databases, weir_process, content, leftovers, record_trial):
    pending = databases.warehouse(migrated_to="0004", loaded=True)
    alone = databases.create(template=pending)
    assert weir_process(databases.dsn(alone), "run").returncode == 0
    with psycopg.connect(databases.dsn(alone), autocommit=True) as conn:
        expected = content(conn)
    for _ in range(ROUNDS):
        name = databases.create(template=pending)
        dsn = databases.dsn(name)
        runs = [start_run(dsn) for _ in range(PROCESSES)]
        outcomes = [(run.wait(timeout=600), *run.communicate()) for run in runs]
        assert [code for code, _, _ in outcomes] == [0] * PROCESSES, [err for _, _, err in outcomes]
        # One process applied the pending migrations; the other nine found nothing to apply.
        migrated = [next(line for line in out.splitlines() if line.startswith("migrate: ")) for _, out, _ in outcomes]
        assert sorted(migrated) == ["migrate: 0 applied"] * 9 + [
            f"migrate: {len(MIGRATIONS) - 4} applied"]
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert leftovers(conn) == {}
            applies = conn.execute(
                "SELECT migration_id, count(*) FROM weir.migration_log WHERE operation = 'apply' GROUP BY 1 ORDER BY 1"
            ).fetchall()
            assert applies == [(migration, 1) for migration in MIGRATIONS]
            assert content(conn) == expected
        databases.drop(name)
        record_trial("concurrent", processes=PROCESSES, exit_codes=[code for code, _, _ in outcomes])
