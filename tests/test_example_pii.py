"""The example warehouse's personal data: tagged at the source, masked in the marts, masked views for analysts.

Migration 0006 tags raw.customers.email and full_name; stg_customers declares both; dim_customer
stores the e-mail masked (weir.mask_email, no key) and declares the name. What the README's
"Personal data" section shows, run here.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


def built(weir, dsn: str, *commands: tuple[str, ...]) -> None:
    for command in (("migrate",), ("sample", "load", "--scale", "1000"), ("build",), *commands):
        result = weir(*command, "--project", str(ROOT), "--dsn", dsn)
        assert result.exit_code == 0, result.output


def test_the_marts_hold_no_raw_email_and_need_no_key(db: psycopg.Connection, dsn: str, weir, monkeypatch) -> None:
    monkeypatch.delenv("WEIR_PII_KEY", raising=False)
    built(weir, dsn, ("sample", "change", "--batch", "1"), ("build",), ("check",))
    assert db.execute("SELECT count(*) FROM raw.customers").fetchone()[0] > 0
    # every version's e-mail is its customer's, masked; none is an address raw holds
    assert db.execute("""
        SELECT count(*) FROM marts.dim_customer AS d JOIN raw.customers AS c USING (customer_id)
        WHERE d.is_current AND d.email IS DISTINCT FROM left(c.email, 1) || '***@' || split_part(c.email, '@', 2)
    """).fetchone() == (0,)
    assert db.execute("""
        SELECT count(*) FROM marts.dim_customer WHERE email !~ '^.\\*\\*\\*@'
           OR email IN (SELECT email FROM raw.customers)
    """).fetchone() == (0,)
    current = "SELECT customer_id, email, full_name FROM marts.dim_customer WHERE is_current ORDER BY 1"
    before = db.execute(current).fetchall()
    # a key, when one is set, changes nothing the example stores: its masks are not keyed
    monkeypatch.setenv("WEIR_PII_KEY", "a-test-key-of-the-example-0123456789")
    rebuilt = weir("build", "--full-refresh", "--project", str(ROOT), "--dsn", dsn)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert db.execute(current).fetchall() == before


def test_the_analyst_sees_the_example_masked_and_no_base_table(
    db: psycopg.Connection, dsn: str, weir, analyst: str
) -> None:
    built(weir, dsn)
    applied = weir("grants", "--role", analyst, "--apply", "--project", str(ROOT), "--dsn", dsn)
    assert applied.exit_code == 0, applied.output
    assert applied.stdout == (f"{analyst} sees 15 masked views (5 PII columns masked)"
                              " and no table or view of the base schemas\n")
    first = db.execute("SELECT customer_id, email, full_name, city FROM raw.customers ORDER BY 1 LIMIT 3").fetchall()
    db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(analyst)))
    try:
        shown = db.execute("SELECT customer_id, email, full_name, city FROM marts_masked.dim_customer"
                           " WHERE is_current ORDER BY customer_id LIMIT 3").fetchall()
        assert shown == [(customer_id, email[0] + "***@" + email.split("@")[1], "[redacted]", city)
                         for customer_id, email, _, city in first]
        assert db.execute("SELECT email, full_name FROM raw_masked.customers ORDER BY customer_id LIMIT 1"
                          ).fetchone() == shown[0][1:3]
        assert db.execute("SELECT count(*) FROM marts_masked.fact_order_items").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM ref_masked.countries").fetchone()[0] > 0  # seeds too
        for base in ("raw.customers", "staging.stg_customers", "marts.dim_customer", "ref.countries"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"SELECT * FROM {base}")
    finally:
        db.execute("RESET ROLE")
