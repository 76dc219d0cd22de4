"""Failing rows that checks print and keep in history show PII columns masked, gates' too."""

from __future__ import annotations

from pathlib import Path

import psycopg

PROJECT = {
    "migrations/0001_people.sql": (
        "CREATE SCHEMA raw;\n"
        "CREATE TABLE raw.people (id int PRIMARY KEY, email text, phone text, city text);\n"
        "COMMENT ON COLUMN raw.people.email IS 'PII(email) Login address.';\n"
        "INSERT INTO raw.people VALUES (1, 'jane@example.com', '+47 555 12 345', NULL);\n"
    ),
    "migrations/0001_people.rollback.sql": "DROP SCHEMA raw CASCADE;\n",
    "models/marts/contacts.sql": '-- weir: kind=table, pii="email:email phone:phone"\n'
                                 "SELECT id, email, phone, city FROM raw.people",
    "checks/people_have_a_city.sql": "SELECT id, email, phone, city FROM raw.people WHERE city IS NULL",
    "checks/contacts_gate.sql": "-- weir: gate=marts.contacts, severity=warn\n"
                                "SELECT * FROM marts.contacts WHERE city IS NULL",
}


def test_check_output_history_and_gate_results_mask_pii(
    tmp_path: Path, write_files, db: psycopg.Connection, dsn: str, weir
) -> None:
    write_files(tmp_path, PROJECT)
    ran = weir("run", "--project", str(tmp_path), "--dsn", dsn)
    assert ran.exit_code == 1, ran.output  # people_have_a_city fails
    assert "jane@example.com" not in ran.output and "555 12 345" not in ran.output
    assert "j***@example.com" in ran.output
    masked = '[{"id": 1, "city": null, "email": "j***@example.com", "phone": "+** *** *2 345"}]'
    stored = db.execute("SELECT check_name, sample::text FROM weir.check_result ORDER BY check_name").fetchall()
    assert stored == [("contacts_gate", masked), ("people_have_a_city", masked)]
    gate = db.execute("SELECT sample::text FROM weir.gate_result").fetchall()
    assert gate == [(masked,)]


def test_without_pii_tags_samples_are_as_the_check_returned_them(
    tmp_path: Path, write_files, db: psycopg.Connection, dsn: str, weir
) -> None:
    files = dict(PROJECT)
    files["migrations/0001_people.sql"] = files["migrations/0001_people.sql"].replace(
        "'PII(email) Login address.'", "'Login address.'")
    files["models/marts/contacts.sql"] = "-- weir: kind=table\nSELECT id, email, phone, city FROM raw.people"
    write_files(tmp_path, files)
    assert weir("run", "--project", str(tmp_path), "--dsn", dsn).exit_code == 1
    stored = db.execute("SELECT DISTINCT sample::text FROM weir.check_result").fetchall()
    assert stored == [('[{"id": 1, "city": null, "email": "jane@example.com", "phone": "+47 555 12 345"}]',)]
