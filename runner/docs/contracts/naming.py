"""Names in the contracts: snake_case columns to camelCase fields, relations to PascalCase types.

Every name is derived from the catalog alone, in catalog order, so the same schema always gives
the same names; when two derive to the same name, the later one (by column position, or by
schema and name) gets a numeric suffix, so no name depends on anything but the schema itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORDS = re.compile(r"[^\W_]+")  # runs of letters and digits: `_`, spaces and punctuation separate words
_TS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")


def _words(name: str) -> list[str]:
    """Return the words of a name, a word in capitals read as lower case (`URL_PATH` -> url, path)."""
    return [word.lower() if word.isupper() else word for word in _WORDS.findall(name)]


def camel(name: str) -> str:
    """Return a column name in camelCase: `unit_price_cents` -> `unitPriceCents`, `URL` -> `url`."""
    words = _words(name)
    if not words:
        return "field"
    first, rest = words[0], words[1:]
    return first[0].lower() + first[1:] + "".join(word[0].upper() + word[1:] for word in rest)


def pascal(*parts: str) -> str:
    """Return names in PascalCase, joined: ('raw', 'order_items') -> `RawOrderItems`."""
    joined = "".join(word[0].upper() + word[1:] for part in parts for word in _words(part))
    if not joined:
        return "Relation"
    return joined if joined[0].isalpha() else f"T{joined}"


def unique(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Return `names` made unique in order: a name already used gets the first free suffix 2, 3, ..."""
    used = set(taken)
    result = []
    for name in names:
        candidate, suffix = name, 2
        while candidate in used:
            candidate, suffix = f"{name}{suffix}", suffix + 1
        used.add(candidate)
        result.append(candidate)
    return result


def ts_property(name: str) -> str:
    """Return a field name as a TypeScript property key: bare when it is an identifier, else quoted.

    Reserved words (`class`, `default`) are valid property names in TypeScript, so they stay bare.
    """
    return name if _TS_IDENTIFIER.match(name) else string_literal(name)


def string_literal(text: str) -> str:
    """Return a double-quoted string literal, ASCII only, that TypeScript and Python read the same."""
    import json

    return json.dumps(text, ensure_ascii=True)
