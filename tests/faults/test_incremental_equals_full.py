"""Property: on the example warehouse, incremental builds equal a full rebuild, whatever the changes.

Hypothesis draws a sequence of days. Each day applies the sample generator's change batch
for that day (or not) and a few changes of its own to the raw tables: order status moves,
price changes, customers who move or leave, late lines on old orders, corrected quantities,
each stamped inside that simulated day as the source system would. After each day's
incremental build, the database is copied and rebuilt with --full-refresh, and every model
must hold the same rows in both (dim_customer's history, which no rebuild can recreate, is
checked against its source: one current version per customer, equal to it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from runner.build.run import build
from runner.project import Project
from runner.sample import data as sample_data

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("WEIR_FAULT_TRIALS", "3"))
# Days per trial: a handful in `make test`, longer histories in `make faults`.
MAX_DAYS = max(2, TRIALS // 2)

# Each change picks its row by `pick` among the rows it may touch: loaded rows not yet
# changed on this simulated day, so updated_at only moves forward and stays inside the day.
_ELIGIBLE = "created_at < %(end_at)s AND updated_at < %(day)s"

_OPEN_ORDER = _ELIGIBLE + " AND status IN ('placed', 'paid', 'shipped')"


def _picked(key: str, table: str, where: str = _ELIGIBLE) -> str:
    """SQL for the key of row number `pick` (wrapping around) of `table`'s rows that satisfy `where`."""
    return (f"(SELECT {key} FROM {table} WHERE {where} ORDER BY {key}"
            f" OFFSET %(pick)s %% greatest(1, (SELECT count(*) FROM {table} WHERE {where})) LIMIT 1)")


CHANGES = {
    "order status": f"""
        UPDATE raw.orders SET updated_at = %(at)s, status = CASE status
            WHEN 'placed' THEN CASE WHEN %(pick)s %% 7 = 0 THEN 'cancelled' ELSE 'paid' END
            WHEN 'paid' THEN 'shipped' ELSE 'delivered' END
        WHERE order_id = {_picked("order_id", "raw.orders", _OPEN_ORDER)}""",
    "new price": f"""
        UPDATE raw.products SET updated_at = %(at)s, price_cents = price_cents + 1 + %(pick)s %% 500
        WHERE product_id = {_picked("product_id", "raw.products")}""",
    "customer moves": f"""
        UPDATE raw.customers SET updated_at = %(at)s, city = 'Moved ' || %(pick)s %% 13, country = 'NL'
        WHERE customer_id = {_picked("customer_id", "raw.customers")}""",
    "customer leaves": f"""
        DELETE FROM raw.customers WHERE customer_id = {_picked("customer_id", "raw.customers AS c",
            "c.created_at < %(end_at)s AND c.customer_id NOT IN (SELECT customer_id FROM raw.orders)")}""",
    "late line": f"""
        INSERT INTO raw.order_items (order_item_id, order_id, product_id, quantity, unit_price_cents, created_at,
                                     updated_at)
        SELECT (SELECT max(order_item_id) + 1 FROM raw.order_items), {_picked("order_id", "raw.orders")},
               p.product_id, 1 + %(pick)s %% 4, p.price_cents, %(at)s, %(at)s
        FROM raw.products AS p WHERE p.product_id = {_picked("product_id", "raw.products", "true")}""",
    "corrected quantity": f"""
        UPDATE raw.order_items SET updated_at = %(at)s, quantity = quantity + 1
        WHERE order_item_id = {_picked("order_item_id", "raw.order_items")}""",
}
_SET_SEQUENCE = ("SELECT setval(pg_get_serial_sequence('raw.order_items', 'order_item_id'), max(order_item_id))"
                 " FROM raw.order_items")
_CUSTOMER = "customer_id, email, full_name, city, country, created_at, updated_at"
# dim_customer stores the e-mail masked: the source's goes through the same mask.
_SOURCE_CUSTOMER = _CUSTOMER.replace("email", "weir.mask_email(email)")
_CURRENT_VERSION_NOT_SOURCE = f"""
SELECT count(*) FROM (
    (SELECT {_CUSTOMER} FROM marts.dim_customer WHERE is_current
     EXCEPT ALL SELECT {_SOURCE_CUSTOMER} FROM staging.stg_customers)
    UNION ALL
    (SELECT {_SOURCE_CUSTOMER} FROM staging.stg_customers
     EXCEPT ALL SELECT {_CUSTOMER} FROM marts.dim_customer WHERE is_current)
) AS differences
"""

days = st.lists(
    st.tuples(
        st.sampled_from([None, 0.01, 0.03, 0.1]),  # the day's sample change batch, by fraction, or none
        st.lists(st.tuples(st.sampled_from(sorted(CHANGES)), st.integers(0, 10**6), st.integers(0, 24 * 60 - 1)),
                 max_size=4),
    ),
    min_size=1,
    max_size=MAX_DAYS,
)


def apply_day(conn: psycopg.Connection[Any], day: int, batch: float | None,
              changes: list[tuple[str, int, int]]) -> None:
    """Apply simulated day `day`: its sample batch (if any), then `changes` (kind, pick, minute of the day)."""
    if batch is not None:
        sample_data.change_batch(conn, day, fraction=batch)
    day_start = conn.execute("SELECT %s::timestamptz + interval '1 day' * (%s - 1)",
                             (sample_data.END_AT, day)).fetchone()[0]
    for kind, pick, minute in changes:
        at = conn.execute("SELECT %s::timestamptz + interval '1 minute' * %s", (day_start, minute)).fetchone()[0]
        conn.execute(CHANGES[kind], {"at": at, "pick": pick, "day": day_start, "end_at": sample_data.END_AT})
    conn.execute(_SET_SEQUENCE)


def build_all(dsn: str, *, full_refresh: bool = False) -> None:
    """Build every model of the example in-process, failing the test on any model error."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        report = build(conn, Project.load(ROOT), full_refresh=full_refresh, threads=2)
    assert report.ok, report.errors


def models_of(fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The rows of every model (staging and marts), from a content fingerprint."""
    return {relation: rows for relation, rows in fingerprint.items() if relation.startswith(("staging.", "marts."))}


def test_incremental_builds_equal_full_rebuilds_over_random_change_sequences(databases, content, record_trial):
    built = databases.warehouse(loaded=True, built=True)

    @settings(max_examples=TRIALS, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(days)
    def trial(sequence: list[tuple[float | None, list[tuple[str, int, int]]]]) -> None:
        incremental = databases.create(template=built)
        try:
            for day, (batch, changes) in enumerate(sequence, 1):
                with psycopg.connect(databases.dsn(incremental), autocommit=True) as conn:
                    apply_day(conn, day, batch, changes)
                build_all(databases.dsn(incremental))
                rebuilt = databases.create(template=incremental)
                build_all(databases.dsn(rebuilt), full_refresh=True)
                with psycopg.connect(databases.dsn(incremental), autocommit=True) as conn:
                    kept = models_of(content(conn))
                    assert conn.execute(_CURRENT_VERSION_NOT_SOURCE).fetchone()[0] == 0
                with psycopg.connect(databases.dsn(rebuilt), autocommit=True) as conn:
                    assert kept == models_of(content(conn)), f"day {day}"
                databases.drop(rebuilt)
        finally:
            databases.drop(incremental)
        record_trial("incremental", days=len(sequence), changes=sum(len(c) for _, c in sequence),
                     batches=sum(batch is not None for batch, _ in sequence))

    trial()
