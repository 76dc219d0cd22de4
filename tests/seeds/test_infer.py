"""A seed column's inferred type: the narrowest that every sampled value fits."""

from __future__ import annotations

import pytest

from runner.build.seeds.infer import infer_types


@pytest.mark.parametrize(("values", "expected"), [
    (["true", "FALSE", ""], "boolean"),
    (["t", "f"], "text"),  # PostgreSQL reads them as booleans, a person may mean letters
    (["1", "-2", "+3", "2147483647", "-2147483648"], "integer"),
    (["2147483648"], "bigint"),
    (["9223372036854775807", "-9223372036854775808"], "bigint"),
    (["9223372036854775808"], "numeric"),
    (["1.5", "2", "-0.25", "1e5", ".5"], "numeric"),
    (["007", "10115"], "text"),  # a leading zero is kept: postal codes, account numbers
    (["."], "text"),
    (["2024-01-31", ""], "date"),
    (["2024-01-31 10:00", "2024-01-31T10:00:00.5Z", "2024-01-31 10:00:00+02:00"], "timestamptz"),
    (["2024-01-31", "2024-01-31 10:00"], "timestamptz"),
    (["5\n"], "text"),
    (["", ""], "text"),
    (["1", "x"], "text"),
])
def test_the_narrowest_type_every_value_fits(values: list[str], expected: str) -> None:
    assert infer_types(1, [[value] for value in values]) == [expected]


def test_rows_of_another_width_are_left_to_the_load() -> None:
    assert infer_types(2, [["1", "2"], ["x"], ["3", "4", "y"]]) == ["integer", "integer"]
