"""weir lint follows PII through column lineage: unmasked and undeclared fails with file:line and the path."""

from __future__ import annotations

from pathlib import Path

import pytest

SOURCE = {
    "migrations/0001_people.sql": (
        "CREATE SCHEMA raw;\n"
        "CREATE TABLE raw.people (id bigint PRIMARY KEY, email text, phone text, city text);\n"
        "COMMENT ON COLUMN raw.people.email IS 'PII(email) Login address.';\n"
        "COMMENT ON COLUMN raw.people.phone IS 'PII(phone)';\n"
    ),
    "migrations/0001_people.rollback.sql": "DROP SCHEMA raw CASCADE;\n",
}


def lint(tmp_path: Path, write_files, weir, models: dict[str, str]):
    write_files(tmp_path, {**SOURCE, **models})
    return weir("lint", "--project", str(tmp_path))


def test_an_unmasked_pii_column_fails_lint_with_its_line_and_lineage_path(tmp_path: Path, write_files, weir) -> None:
    linted = lint(tmp_path, write_files, weir, {
        "models/staging/stg_people.sql": '-- weir: kind=view, pii="email:email phone:phone"\n'
                                         "SELECT id, email, phone, city FROM raw.people",
        "models/marts/contacts.sql": "-- weir: kind=table\n"
                                     "SELECT p.id,\n"
                                     "       upper(p.email) AS contact,\n"
                                     "       weir.mask_phone(p.phone) AS phone\n"
                                     "FROM staging.stg_people AS p",
    })
    assert linted.exit_code == 2
    assert ("models/marts/contacts.sql:3: column contact carries PII unmasked"
            " (raw.people.email -> staging.stg_people.email -> marts.contacts.contact); mask it"
            " (weir.mask_email, weir.mask_phone, weir.redact, weir.pii_hash) or, if marts.contacts may hold it,"
            ' declare it: -- weir: pii="contact"') in linted.output
    assert "column phone" not in linted.output  # masked on the way


@pytest.mark.parametrize(("models", "leaked"), [
    ({"models/staging/s.sql": "-- weir: kind=view\nSELECT * FROM raw.people"}, ["email", "phone"]),
    ({"models/staging/s.sql": "-- weir: kind=view\nWITH x AS (SELECT email AS e FROM raw.people) SELECT e FROM x"},
     ["e"]),
    ({"models/staging/s.sql": "-- weir: kind=view\nSELECT city, count(email) AS people FROM raw.people GROUP BY 1"},
     []),
    ({"models/staging/s.sql": "-- weir: kind=view\nSELECT weir.pii_hash(email) AS person FROM raw.people"}, []),
    ({"models/staging/s.sql": '-- weir: kind=view, pii="email phone"\nSELECT * FROM raw.people',
      "models/marts/m.sql": "-- weir: kind=view\nSELECT s.email || '!' AS shout FROM staging.s"}, ["shout"]),
])
def test_pii_is_followed_through_stars_ctes_aggregates_and_models(
    tmp_path: Path, write_files, weir, models: dict[str, str], leaked: list[str]
) -> None:
    linted = lint(tmp_path, write_files, weir, models)
    lines = [line for line in linted.output.splitlines() if "carries PII" in line]
    found = sorted(line.split("column ")[1].split(" ")[0] for line in lines)
    assert found == leaked
    assert linted.exit_code == (2 if leaked else 0), linted.output
