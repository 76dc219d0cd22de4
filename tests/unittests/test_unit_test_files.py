"""Unit test files: what a good one reads as, and a one-line `file:line: message` for each bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.project import Project

MODEL = "-- weir: kind=table, unique_key=id\nSELECT s.id, s.amount, s.seen_at FROM raw.source AS s\n"
GOOD = """-- weir: model=marts.amounts
-- weir: ordered=true
-- A comment line between the header and the rows.

-- weir: given=raw.source
SELECT 1 AS id, 10 AS amount
UNION ALL SELECT 2, 20;

-- weir: expect, columns="id amount"
VALUES (1, 10), (2, 20);
"""

BAD = [
    ("SELECT 1;\n", "1: no model; start the file with -- weir: model=<schema>.<name>"),
    ("-- weir: model=marts.nope\n-- weir: expect\nSELECT 1 AS id;\n",
     "1: 'marts.nope' is not a model of this project; name one as schema.name, e.g. -- weir: model=marts.dim_product"),
    ("-- weir: model=marts.amounts\n\nSELECT 1 AS id;\n",
     "3: no -- weir: given=<relation> or -- weir: expect right above this statement;"
     " put exactly one of them on the comment line above it"),
    ("-- weir: model=marts.amounts\n-- weir: given=raw.source\nSELECT 1 AS id;\n",
     "1: no -- weir: expect; add it above a SELECT of the rows expected"),
    ("-- weir: model=marts.amounts\n-- weir: given=raw.other\nSELECT 1 AS id;\n-- weir: expect\nSELECT 1 AS id;\n",
     "2: marts.amounts does not read raw.other; give one of the relations it reads: raw.source"),
    ("-- weir: model=marts.amounts\n-- weir: expect\nVALUES (1);\n",
     '3: VALUES has no column names; name them on the line above, e.g. -- weir: given=raw.orders,'
     ' columns="order_id status"'),
    ("-- weir: model=marts.amounts\n-- weir: expect\nSELECT 1 AS id UNION SELECT 2;\n",
     "3: rows are joined with UNION ALL; write UNION ALL"),
    ("-- weir: model=marts.amounts\n-- weir: expect\nSELECT 1;\n",
     "3: column 1 of the first row has no name; write <value> AS <column>"),
    ("-- weir: model=marts.amounts\n-- weir: watermark='2024-01-01'\n-- weir: expect\nSELECT 1 AS id;\n",
     "2: watermark is for an incremental model, marts.amounts is kind=table; remove it"),
    ("-- weir: model=marts.amounts\n-- weir: given=this\nSELECT 1 AS id;\n-- weir: expect\nSELECT 1 AS id;\n",
     "2: given=this is for an incremental model, marts.amounts is kind=table; give the relations it reads"),
    ("-- weir: model=marts.amounts\n-- weir: expect\nSELECT 1 AS id FROM;\n",
     '3: syntax error at or near ";"'),
    ("-- weir: model=marts.amounts\n-- weir: expect, snapshot=1\nSELECT 1 AS id;\n",
     "2: snapshot is for given; expect is the history after the last snapshot: remove it"),
    ("-- weir: model=marts.amounts\n-- weir: frobnicate=1\n-- weir: expect\nSELECT 1 AS id;\n",
     "2: unknown directive 'frobnicate'; known directives: columns, description, expect, given, model, ordered,"
     " snapshot, watermark"),
]


@pytest.fixture
def amounts(project: Path, write_models) -> Path:
    """A project with one table model, marts.amounts, reading raw.source."""
    write_models(project, {"models/marts/amounts.sql": MODEL})
    return project


def test_a_good_file_reads_as_its_model_rows_and_expectation(amounts: Path, write_files):
    write_files(amounts, {"unit_tests/marts/amounts__two_rows.sql": GOOD})
    (test,) = Project.load(amounts).unit_tests
    assert (test.name, test.model.qualified, test.ordered) == ("marts/amounts__two_rows", "marts.amounts", True)
    (given,) = test.givens
    assert (given.relation, given.rows.columns, given.rows.line, given.rows.values) == (
        ("raw", "source"), ("id", "amount"), 5, False)
    assert given.rows.sql == "SELECT 1 AS id, 10 AS amount\nUNION ALL SELECT 2, 20"
    assert (test.expect.columns, test.expect.values, test.expect.line) == (("id", "amount"), True, 9)


@pytest.mark.parametrize(("text", "message"), BAD, ids=[message.split(":")[1][:40] for _, message in BAD])
def test_a_bad_file_is_one_line_naming_file_and_line(amounts: Path, write_files, weir, text: str, message: str):
    write_files(amounts, {"unit_tests/marts/amounts__bad.sql": text})
    result = weir("test", "--project", str(amounts))
    assert result.exit_code == 2
    assert result.stderr == f"weir: unit_tests/marts/amounts__bad.sql:{message}\n"
    assert "Traceback" not in result.output


def test_the_directory_is_a_setting(amounts: Path, write_files):
    (amounts / "setup.cfg").write_text("[weir]\nunit_tests = spec\n")
    write_files(amounts, {"spec/marts/amounts__two_rows.sql": GOOD, "unit_tests/marts/ignored.sql": "nonsense"})
    assert [test.display for test in Project.load(amounts).unit_tests] == ["spec/marts/amounts__two_rows.sql"]


def test_no_directory_means_no_tests(amounts: Path, weir, dsn):
    result = weir("test", "--project", str(amounts), "--dsn", dsn)
    assert result.exit_code == 0, result.output
    assert result.stdout == "unit tests: none\n"


def test_weir_lint_reads_unit_tests_and_refuses_a_bad_one(amounts: Path, write_files, weir):
    write_files(amounts, {"unit_tests/marts/amounts__two_rows.sql": GOOD})
    good = weir("lint", "--project", str(amounts))
    assert good.exit_code == 0, good.output
    assert "read 0 migrations, 1 models, 0 checks, 1 unit tests: 0 refused;" in good.output
    write_files(amounts, {"unit_tests/marts/amounts__bad.sql": "SELECT 1;\n"})
    bad = weir("lint", "--project", str(amounts))
    assert bad.exit_code == 2
    assert "unit_tests/marts/amounts__bad.sql:1: no model; start the file with -- weir: model=<schema>.<name>" in (
        bad.output)


def test_an_empty_directory_setting_is_refused(amounts: Path, weir):
    (amounts / "setup.cfg").write_text("[weir]\nunit_tests =\n")
    result = weir("test", "--project", str(amounts))
    assert result.exit_code == 2
    assert result.stderr == (f"weir: {amounts / 'setup.cfg'}: [weir] unit_tests is empty; name the directory,"
                             " e.g. unit_tests = unit_tests\n")
