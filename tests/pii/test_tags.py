"""Where PII is declared: COMMENT ON COLUMN 'PII...' in migrations, and a model's pii directive."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ProjectFileError
from runner.project.migrations import read_migrations
from runner.project.models import read_models
from runner.project.pii import PiiColumn, source_pii


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_migration_comments_tag_source_columns_and_the_last_comment_counts(tmp_path: Path) -> None:
    write(tmp_path, {
        "migrations/0001_people.sql": (
            "CREATE TABLE raw.people (id int, email text, phone text, name text);\n"
            "COMMENT ON COLUMN raw.people.email IS 'PII(email) Login address.';\n"
            "COMMENT ON COLUMN raw.people.phone IS\n  'pii(phone)';\n"
            "COMMENT ON COLUMN raw.people.name IS 'PII: as entered';\n"
            "COMMENT ON COLUMN raw.people.id IS 'Pii-free key: PIIs are elsewhere';\n"
        ),
        "migrations/0001_people.rollback.sql": "DROP TABLE raw.people;\n",
        "migrations/0002_unname.sql": "COMMENT ON COLUMN raw.people.name IS 'Display name, public.';\n"
                                      "COMMENT ON COLUMN raw.people.phone IS 'PII';\n",
        "migrations/0002_unname.rollback.sql": "SELECT 1;\n",
    })
    tags = source_pii(read_migrations(tmp_path / "migrations", tmp_path))
    assert sorted(tags.values(), key=lambda tag: tag.column) == [
        PiiColumn("raw.people", "email", "email", "migrations/0001_people.sql", 2),
        PiiColumn("raw.people", "phone", "redact", "migrations/0002_unname.sql", 2),
    ]


def test_an_unknown_mask_in_a_migration_comment_is_refused_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {
        "migrations/0001_people.sql": "CREATE TABLE raw.people (fax text);\n\n"
                                      "COMMENT ON COLUMN raw.people.fax IS 'PII(fax) old';\n",
        "migrations/0001_people.rollback.sql": "DROP TABLE raw.people;\n",
    })
    with pytest.raises(ProjectFileError) as raised:
        source_pii(read_migrations(tmp_path / "migrations", tmp_path))
    assert str(raised.value) == (
        "migrations/0001_people.sql:3: PII(fax) on raw.people.fax: unknown mask;"
        " use one of email, phone, redact in a new migration's COMMENT ON COLUMN")


def test_a_model_declares_the_pii_it_may_hold_with_masks(tmp_path: Path, write_models) -> None:
    write_models(tmp_path, {"models/marts/m.sql": '-- weir: kind=view, pii="email:email Phone:PHONE full_name"\n'
                                                  "SELECT 1 AS email, 2 AS phone, 3 AS full_name"})
    (model,) = read_models(tmp_path / "models", tmp_path)
    assert model.pii == (("email", "email"), ("phone", "phone"), ("full_name", "redact"))


@pytest.mark.parametrize(("value", "message"), [
    ('""', 'models/marts/m.sql:1: pii is empty; write pii="email:email full_name" or remove it'),
    ('"email:secret"', "models/marts/m.sql:1: pii: 'email:secret' has an unknown mask 'secret';"
                       " use one of email, phone, redact"),
    ('":email"', "models/marts/m.sql:1: pii: ':email' names no column; write column or column:mask"),
])
def test_a_bad_pii_directive_is_refused_at_its_line(tmp_path: Path, write_models, value: str, message: str) -> None:
    write_models(tmp_path, {"models/marts/m.sql": f"-- weir: kind=view, pii={value}\nSELECT 1 AS email"})
    with pytest.raises(ProjectFileError) as raised:
        read_models(tmp_path / "models", tmp_path)
    assert str(raised.value) == message
