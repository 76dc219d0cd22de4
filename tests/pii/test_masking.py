"""The masking functions on a real server: HMAC agrees with Python's, keys change pseudonyms, masks keep shape."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import psycopg
import pytest

from runner.pii import MASKING

KEY = "correct horse battery staple 42"


@pytest.fixture
def masking(db: psycopg.Connection) -> psycopg.Connection:
    """This test's database with the masking functions installed."""
    assert MASKING.install(db)
    assert not MASKING.install(db)  # installed once per version
    return db


def hashed(db: psycopg.Connection, value: str | None, key: str) -> str | None:
    db.execute("SELECT set_config('weir.pii_key', %s, false)", (key,))
    return db.execute("SELECT weir.pii_hash(%s)", (value,)).fetchone()[0]


@pytest.mark.parametrize("value", ["jane@example.com", "", "ü∑ß", "x" * 1000])
@pytest.mark.parametrize("key", [KEY, "k" * 64, "a much longer key than one block of sixty-four bytes, hashed first"])
def test_pii_hash_is_hmac_sha256_as_python_computes_it(masking: psycopg.Connection, value: str, key: str) -> None:
    expected = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
    assert hashed(masking, value, key) == expected


def test_a_pseudonym_is_stable_for_one_key_and_differs_for_another(masking: psycopg.Connection) -> None:
    first = hashed(masking, "jane@example.com", KEY)
    assert hashed(masking, "jane@example.com", KEY) == first
    assert hashed(masking, "jane@example.com", KEY + "!") != first
    assert hashed(masking, "john@example.com", KEY) != first
    assert hashed(masking, None, KEY) is None


@pytest.mark.parametrize(("key", "message", "hint"), [
    ("", "weir.pii_key is not set, so PII cannot be hashed", "export WEIR_PII_KEY"),
    ("short", "weir.pii_key is shorter than 16 characters", "openssl rand -hex 32"),
])
def test_hashing_without_a_usable_key_fails_and_says_how_to_give_one(masking, key: str, message: str, hint) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        hashed(masking, "jane@example.com", key)
    assert raised.value.diag.message_primary == message
    assert hint in raised.value.diag.message_hint


@pytest.mark.parametrize(("function", "value", "expected"), [
    ("mask_email", "jane.doe@example.com", "j***@example.com"),
    ("mask_email", "not an address", "***"),
    ("mask_email", "@example.com", "***"),
    ("mask_email", None, None),
    ("mask_phone", "+1 555-123-4567", "+* ***-***-4567"),
    ("mask_phone", "123", "123"),
    ("mask_phone", None, None),
    ("redact", "anything", "[redacted]"),
])
def test_partial_masks_keep_the_shape_and_hide_the_rest(masking, function: str, value, expected) -> None:
    query = f"SELECT weir.{function}(%s::text)"
    assert masking.execute(query, (value,)).fetchone()[0] == expected


def test_a_build_passes_the_key_from_the_environment_and_never_prints_it(
    tmp_path: Path, write_models, db: psycopg.Connection, dsn: str, weir, monkeypatch
) -> None:
    write_models(tmp_path, {
        "models/marts/contacts.sql": "-- weir: kind=table\n"
                                     "SELECT weir.pii_hash(email) AS person, weir.mask_email(email) AS email\n"
                                     "FROM (VALUES ('jane@example.com')) AS v(email)",
        "models/marts/broken.sql": "-- weir: kind=table\nSELECT 1 / 0 AS x, weir.redact(1) AS y",
    })
    monkeypatch.setenv("WEIR_PII_KEY", KEY)
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 1  # broken.sql divides by zero: the key must not show in its error
    assert KEY not in built.output
    expected = hmac.new(KEY.encode(), b"jane@example.com", hashlib.sha256).hexdigest()
    assert db.execute("SELECT person, email FROM marts.contacts").fetchall() == [(expected, "j***@example.com")]


def test_without_the_key_a_hashing_model_fails_with_the_hint(
    tmp_path: Path, write_models, dsn: str, weir, monkeypatch
) -> None:
    monkeypatch.delenv("WEIR_PII_KEY", raising=False)
    write_models(tmp_path, {"models/marts/contacts.sql": "-- weir: kind=table\nSELECT weir.pii_hash('x') AS p"})
    built = weir("build", "--project", str(tmp_path), "--dsn", dsn)
    assert built.exit_code == 1
    assert "weir.pii_key is not set" in built.output
