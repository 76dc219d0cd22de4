"""The surrogate key of an scd2 model's versions: a sequence (the default) or a hash.

`surrogate_key="customer_sk hash bigint"` (or uuid, or text) makes each version's key a
function of what identifies the version, the natural key and valid_from, so it is the same
after the table is dropped and rebuilt, and any system can compute it:

    s = k1 || '|' || k2 || ... || '|' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        where each ki = to_jsonb(key column) #>> '{}' (a number or text as written, a date as YYYY-MM-DD),
        and valid_from -infinity is written '-infinity'
    text:   md5(s)                                     32 lower-case hex digits
    uuid:   md5(s)::uuid
    bigint: ('x' || left(md5(s), 16))::bit(64)::bigint the first 8 bytes of the MD5, big-endian, signed

e.g. in Python: int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big", signed=True).
The key is the primary key, so two versions hashing alike (for bigint, about one chance in
370,000 at 10M versions) fail the build loudly instead of sharing a key.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from runner.build.materialize.common import directive_line
from runner.db.statements import execute
from runner.errors import ModelFailed
from runner.project.models import Model

_TEXT = """
{keys} || '|' || coalesce(to_char({valid_from} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), {valid_from}::text)
"""
_HASH = {
    "text": "md5({})",
    "uuid": "md5({})::uuid",
    "bigint": "('x' || left(md5({}), 16))::bit(64)::bigint",
}
_COLUMN = """
SELECT format_type(atttypid, atttypmod), attidentity <> '' FROM pg_attribute
WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped
"""


def column_type(model: Model) -> sql.Composable:
    """Return the surrogate column's type in CREATE TABLE: an identity, or the hash's type."""
    if model.surrogate_hash is None:
        return sql.SQL("bigint GENERATED ALWAYS AS IDENTITY")
    return sql.SQL(model.surrogate_hash)


def hash_value(model: Model, key_alias: str | None, valid_from: sql.Composable) -> sql.Composable:
    """Return the hash key of a version: its natural key read from `key_alias` (None: unqualified), its `valid_from`."""
    if model.surrogate_hash is None:
        raise ValueError("a sequence key is not computed")
    keys = sql.SQL(" || '|' || ").join(
        sql.SQL("(to_jsonb({}) #>> '{{}}')").format(
            sql.Identifier(key_alias, key) if key_alias else sql.Identifier(key)
        )
        for key in model.natural_key
    )
    text = sql.SQL(_TEXT.strip()).format(keys=keys, valid_from=valid_from)
    return sql.SQL(_HASH[model.surrogate_hash]).format(text)


def surrogate_insert(
    model: Model, surrogate: str, key_alias: str | None, valid_from: sql.Composable
) -> tuple[sql.Composable, sql.Composable]:
    """Return what an INSERT of new versions adds to its column list and its SELECT list (nothing for a sequence)."""
    if model.surrogate_hash is None:
        return sql.SQL(""), sql.SQL("")
    return (
        sql.SQL(", {}").format(sql.Identifier(surrogate)),
        sql.SQL(", {}").format(hash_value(model, key_alias, valid_from)),
    )


def refuse_other_strategy(
    conn: psycopg.Connection[Any], model: Model, table: sql.Identifier, surrogate: str
) -> None:
    """Raise ModelFailed if the kept history table's surrogate key was made another way than the header says."""
    row = execute(conn, _COLUMN, (table.as_string(conn), surrogate)).fetchone()
    if row is None:
        return
    type_name, is_identity = str(row[0]), bool(row[1])
    wanted = model.surrogate_hash
    if (wanted is None and is_identity) or (wanted is not None and not is_identity and type_name == wanted):
        return
    found = "a sequence" if is_identity else f"a {type_name} hash"
    said = "a sequence" if wanted is None else f"a {wanted} hash"
    raise ModelFailed(
        f"{model.display}:{directive_line(model, 'surrogate_key')}: {model.qualified}.{surrogate} is {found},"
        f" the header says {said}; history is never rebuilt implicitly: change surrogate_key back,"
        f" or drop {model.qualified} to rebuild it"
    )
