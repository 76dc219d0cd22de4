"""Personal data is marked in the docs and the contracts: a source's PII comment, a model's pii directive."""

from __future__ import annotations

from pathlib import Path

import psycopg

from runner.docs.run import document_throwaway
from runner.project import Project

FILES = {
    "migrations/0001_people.sql": (
        "CREATE SCHEMA raw;\n"
        "CREATE TABLE raw.people (id bigint PRIMARY KEY, email text NOT NULL, city text);\n"
        "COMMENT ON TABLE raw.people IS 'People.';\n"
        "COMMENT ON COLUMN raw.people.id IS 'Key.';\n"
        "COMMENT ON COLUMN raw.people.email IS 'PII(email) Login address.';\n"
        "COMMENT ON COLUMN raw.people.city IS 'City.';\n"
    ),
    "migrations/0001_people.rollback.sql": "DROP SCHEMA raw CASCADE;\n",
    "models/marts/contacts.sql": (
        '-- weir: kind=table, pii="email:email", description="Contacts."\n'
        "SELECT id, -- Key.\n"
        "       email, -- Where to write.\n"
        "       city -- City.\n"
        "FROM raw.people"
    ),
}


def test_pii_columns_are_marked_in_the_data_model_and_tagged_in_the_typescript_contract(
    tmp_path: Path, write_files, db: psycopg.Connection
) -> None:
    write_files(tmp_path, FILES)
    docs = document_throwaway(db, Project.load(tmp_path))
    model = docs.files["DATA-MODEL.md"]
    assert "| `email` | `text` | no |  |  | PII(email) Login address. |" in model
    # the model's column: CREATE TABLE AS keeps no NOT NULL
    assert "| `email` | `text` | yes |  |  | PII(email) Where to write. |" in model
    assert "| `city` | `text` | yes |  |  | City. |" in model
    contract = docs.files["TYPE-CONTRACTS.ts"]
    assert contract.count("@pii personal data") == 2  # raw.people.email and marts.contacts.email, nothing else
