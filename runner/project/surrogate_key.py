"""An scd2 model's `surrogate_key` directive: the version key column Weir adds, and how it is made.

    surrogate_key=customer_sk                  versions numbered 1, 2, 3, ... (an identity column)
    surrogate_key="customer_sk sequence"       the same, said explicitly
    surrogate_key="customer_sk hash bigint"    a hash of the natural key and valid_from (or uuid, or text)

A hash key is the same for the same version whoever builds it and however often: other
systems can compute it (runner.build.materialize.surrogate has the formula).
"""

from __future__ import annotations

HASH_TYPES = ("bigint", "uuid", "text")
_EXAMPLE = 'write e.g. surrogate_key="customer_sk hash bigint" or surrogate_key=customer_sk'


def surrogate_parts(value: str | None) -> tuple[str | None, str | None]:
    """Return (the column as written, the hash type or None for a sequence) of a valid value; (None, None) if unset."""
    tokens = (value or "").split()
    if not tokens:
        return None, None
    return tokens[0], (tokens[2].lower() if len(tokens) == 3 else None)


def surrogate_key_problem(value: str) -> str | None:
    """Say what is wrong with a `surrogate_key` value other than its column name, or return None."""
    tokens = value.split()
    if len(tokens) <= 1:
        return None
    strategy = tokens[1].lower()
    if strategy not in ("sequence", "hash"):
        return f"surrogate_key {value!r}: {tokens[1]!r} is not sequence or hash; {_EXAMPLE}"
    if strategy == "sequence" and len(tokens) > 2:
        return f"surrogate_key {value!r}: a sequence has no type (it is bigint); {_EXAMPLE}"
    if strategy == "hash" and len(tokens) != 3:
        return f"surrogate_key {value!r}: a hash key needs one type, {', '.join(HASH_TYPES)}; {_EXAMPLE}"
    if strategy == "hash" and tokens[2].lower() not in HASH_TYPES:
        return f"surrogate_key {value!r}: a hash key is {', '.join(HASH_TYPES)}, not {tokens[2]!r}; {_EXAMPLE}"
    return None
