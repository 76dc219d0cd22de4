"""Check files: headers, thresholds, the one-read-only-SELECT rule, selection, and the bad-file corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError, ProjectFileError
from runner.project.checks import ANY_ROW, Check, Threshold, read_checks, select_checks

# Each case: the files of a project (path -> content) and the start of the ProjectFileError
# it must raise, `path:line: message`.
BAD_CHECKS = [
    {
        "id": "unknown directive",
        "files": {"checks/c.sql": "-- weir: sevirity=warn\nSELECT 1\n"},
        "error": "checks/c.sql:1: unknown directive 'sevirity'; known directives: description, error_if, gate,",
    },
    {
        "id": "directive set twice",
        "files": {"checks/c.sql": "-- weir: show=5\n-- weir: show=6\nSELECT 1\n"},
        "error": "checks/c.sql:2: directive 'show' is set twice (first on line 1)",
    },
    {
        "id": "malformed header",
        "files": {"checks/c.sql": "-- weir: severity=warn, =x\nSELECT 1\n"},
        "error": "checks/c.sql:1: malformed directive near ' =x'",
    },
    {
        "id": "unknown severity",
        "files": {"checks/c.sql": "-- a check\n-- weir: severity=fatal\nSELECT 1\n"},
        "error": "checks/c.sql:2: severity 'fatal' is not error or warn; write severity=error",
    },
    {
        "id": "threshold without operator",
        "files": {"checks/c.sql": "-- weir: warn_if=10\nSELECT 1\n"},
        "error": "checks/c.sql:1: warn_if '10' is not a comparison with a whole number; write e.g. warn_if=\"> 10\"",
    },
    {
        "id": "threshold with a fraction",
        "files": {"checks/c.sql": '-- weir: error_if="> 1.5"\nSELECT 1\n'},
        "error": "checks/c.sql:1: error_if '> 1.5' is not a comparison with a whole number",
    },
    {
        "id": "threshold with a negative number",
        "files": {"checks/c.sql": '-- weir: error_if="> -1"\nSELECT 1\n'},
        "error": "checks/c.sql:1: error_if '> -1' is not a comparison with a whole number",
    },
    {
        "id": "threshold with an unknown operator",
        "files": {"checks/c.sql": '-- weir: error_if="=> 1"\nSELECT 1\n'},
        "error": "checks/c.sql:1: error_if '=> 1' is not a comparison",
    },
    {
        "id": "error_if on a warn check",
        "files": {"checks/c.sql": '-- weir: severity=warn\n-- weir: error_if="> 10"\nSELECT 1\n'},
        "error": "checks/c.sql:2: error_if has no effect with severity=warn (a warn check never fails)",
    },
    {
        "id": "show is not a number",
        "files": {"checks/c.sql": "-- weir: show=all\nSELECT 1\n"},
        "error": "checks/c.sql:1: show 'all' is not a whole number; write show=20",
    },
    {
        "id": "show too large",
        "files": {"checks/c.sql": "-- weir: show=5000\nSELECT 1\n"},
        "error": "checks/c.sql:1: show 5000 is more than 1000; query the check in psql",
    },
    {
        "id": "empty tags",
        "files": {"checks/c.sql": '-- weir: tags=""\nSELECT 1\n'},
        "error": "checks/c.sql:1: tags is empty",
    },
    {
        "id": "tags separated by commas",
        "files": {"checks/c.sql": '-- weir: tags="a,b"\nSELECT 1\n'},
        "error": "checks/c.sql:1: tag 'a,b' has a character other than letters, digits and _.:/-",
    },
    {
        "id": "empty description",
        "files": {"checks/c.sql": '-- weir: description=""\nSELECT 1\n'},
        "error": "checks/c.sql:1: description is empty",
    },
    {
        "id": "gate is not schema.name",
        "files": {"checks/c.sql": "-- weir: gate=dim_customer\nSELECT 1\n"},
        "error": "checks/c.sql:1: gate 'dim_customer' is not a model name; write gate=schema.name",
    },
    {
        "id": "quarantine is not a boolean",
        "files": {"checks/c.sql": "-- weir: gate=marts.x, quarantine=maybe\nSELECT 1\n"},
        "error": "checks/c.sql:1: quarantine 'maybe' is not true or false",
    },
    {
        "id": "quarantine without a gate",
        "files": {"checks/c.sql": "-- weir: quarantine=true\nSELECT 1\n"},
        "error": "checks/c.sql:1: quarantine needs a gate",
    },
    {
        "id": "no statement",
        "files": {"checks/c.sql": "-- weir: severity=warn\n-- nothing yet\n"},
        "error": "checks/c.sql:1: no SELECT; a check file holds one SELECT whose rows are the violations",
    },
    {
        "id": "two statements",
        "files": {"checks/c.sql": "SELECT 1;\n\n-- and\nSELECT 2;\n"},
        "error": "checks/c.sql:4: a second statement; a check file holds exactly one SELECT",
    },
    {
        "id": "not a select",
        "files": {"checks/c.sql": "-- weir: severity=warn\n\nDELETE FROM raw.orders WHERE amount < 0\n"},
        "error": "checks/c.sql:3: a check is one SELECT, this is DELETE FROM; a check only reads",
    },
    {
        "id": "select into",
        "files": {"checks/c.sql": "SELECT 1 AS x INTO scratch.t\n"},
        "error": "checks/c.sql:1: SELECT ... INTO creates a table; a check only reads",
    },
    {
        "id": "data-modifying CTE",
        "files": {"checks/c.sql": "WITH a AS (SELECT 1),\n  gone AS (DELETE FROM t RETURNING *)\nSELECT * FROM gone\n"},
        "error": "checks/c.sql:2: WITH gone AS (...) changes data; a check only reads",
    },
    {
        "id": "locking clause",
        "files": {"checks/c.sql": "SELECT * FROM (SELECT * FROM t FOR UPDATE) AS x\n"},
        "error": "checks/c.sql:1: SELECT ... FOR UPDATE/SHARE locks rows; a check only reads",
    },
    {
        "id": "syntax error",
        "files": {"checks/orders/c.sql": "-- weir: severity=warn\nSELECT id\nFROM raw.orders\nWHERE WHERE\n"},
        "error": "checks/orders/c.sql:4: syntax error at or near \"WHERE\"; fix the SQL",
    },
    {
        "id": "space in the name",
        "files": {"checks/my check.sql": "SELECT 1\n"},
        "error": "checks/my check.sql:1: 'my check' in the check's name has a character other than",
    },
    {
        "id": "not UTF-8",
        "files": {"checks/c.sql": b"SELECT '\xff' AS x\n"},
        "error": "checks/c.sql:1: not UTF-8 text",
    },
]


@pytest.fixture
def write_checks(write_files):
    """write_checks(root, files) writes `files` (paths relative to `root`) and returns the checks directory."""

    def write_checks(root: Path, files: dict[str, str | bytes]) -> Path:
        write_files(root, files)
        return root / "checks"

    return write_checks


@pytest.fixture
def one_check(write_checks):
    """one_check(root, text, path="checks/c.sql") writes one check file and returns what read_checks makes of it."""

    def one_check(root: Path, text: str, path: str = "checks/c.sql") -> Check:
        checks = read_checks(write_checks(root, {path: text}), root)
        assert len(checks) == 1
        return checks[0]

    return one_check


@pytest.mark.parametrize("case", BAD_CHECKS, ids=[case["id"] for case in BAD_CHECKS])
def test_bad_check_files_are_reported_with_path_and_line(tmp_path: Path, case: dict, write_checks) -> None:
    checks_dir = write_checks(tmp_path, case["files"])
    with pytest.raises(ProjectFileError) as raised:
        read_checks(checks_dir, tmp_path)
    message = str(raised.value)
    assert message.startswith(case["error"]), message
    assert "\n" not in message
    assert ";" in message  # every message says what to do next
    assert raised.value.exit_code == 2


def test_a_check_carries_its_select_and_header(tmp_path: Path, one_check) -> None:
    text = (
        "-- Orders must have a positive amount.\n"
        '-- weir: severity=warn, warn_if=">= 3", tags="orders daily"\n'
        '-- weir: description="Amounts are positive", show=5\n'
        "\n"
        "SELECT o.id, o.amount  -- the offenders\n"
        "FROM raw.orders AS o\n"
        "WHERE o.amount <= 0;  -- none expected\n"
    )
    check = one_check(tmp_path, text, "checks/orders/positive_amount.sql")
    assert check.name == "orders/positive_amount"
    assert check.display == "checks/orders/positive_amount.sql"
    # Trailing comments are dropped: Weir wraps the SELECT in a subquery.
    assert check.sql == "SELECT o.id, o.amount  -- the offenders\nFROM raw.orders AS o\nWHERE o.amount <= 0"
    assert check.sql_line == 5
    assert check.severity == "warn"
    assert check.warn_if == Threshold(">=", 3)
    assert check.error_if is None
    assert check.tags == frozenset({"orders", "daily"})
    assert check.description == "Amounts are positive"
    assert check.show == 5
    assert check.gate is None and check.quarantine is False


def test_defaults_make_any_row_fail(tmp_path: Path, one_check) -> None:
    check = one_check(tmp_path, "SELECT 1")
    assert (check.severity, check.error_if, check.warn_if, check.show) == ("error", ANY_ROW, None, 10)
    assert check.tags == frozenset() and check.description is None


def test_a_gate_and_quarantine_are_read(tmp_path: Path, one_check) -> None:
    check = one_check(tmp_path, "-- weir: gate=marts.dim_customer, quarantine=true\nSELECT 1")
    assert (check.gate, check.quarantine) == ("marts.dim_customer", True)


def test_checks_are_found_in_subdirectories_and_sorted_by_name(tmp_path: Path, write_checks) -> None:
    checks_dir = write_checks(
        tmp_path,
        {
            "checks/z.sql": "SELECT 1",
            "checks/orders/b.sql": "SELECT 1",
            "checks/orders/a.sql": "SELECT 1",
            "checks/README.md": "# checks",
            "checks/.drafts/x.sql": "DROP TABLE everything",
            "checks/.hidden.sql": "not SQL",
        },
    )
    assert [check.name for check in read_checks(checks_dir, tmp_path)] == ["orders/a", "orders/b", "z"]


def test_a_missing_checks_directory_has_no_checks(tmp_path: Path) -> None:
    assert read_checks(tmp_path / "checks", tmp_path) == []


# Header and row count -> status: the thresholds and severities, without a database.
STATUS_CASES = [
    ("", 0, "pass"),
    ("", 1, "fail"),
    ("", 1000, "fail"),
    ("severity=warn", 0, "pass"),
    ("severity=warn", 5, "warn"),
    ('error_if="> 10"', 10, "pass"),
    ('error_if="> 10"', 11, "fail"),
    ('warn_if="> 0", error_if="> 10"', 0, "pass"),
    ('warn_if="> 0", error_if="> 10"', 3, "warn"),
    ('warn_if="> 0", error_if="> 10"', 11, "fail"),
    ('warn_if=">= 1"', 1, "warn"),
    ('error_if="= 0"', 0, "fail"),
    ('error_if="= 0"', 2, "pass"),
    ('error_if="!= 3"', 3, "pass"),
    ('error_if="<> 3"', 4, "fail"),
    ('error_if="< 5"', 4, "fail"),
    ('error_if="<= 5"', 6, "pass"),
    ('error_if="== 2"', 2, "fail"),
    ('severity=warn, warn_if="> 100"', 100, "pass"),
    ('severity=warn, warn_if="> 100"', 101, "warn"),
]


@pytest.mark.parametrize(("header", "count", "status"), STATUS_CASES)
def test_status_for_a_count(tmp_path: Path, header: str, count: int, status: str, one_check) -> None:
    check = one_check(tmp_path, (f"-- weir: {header}\n" if header else "") + "SELECT 1")
    assert check.status_for(count)[0] == status


def test_status_names_the_threshold_that_decided_it(tmp_path: Path, one_check) -> None:
    check = one_check(tmp_path, '-- weir: warn_if="> 0", error_if="> 10"\nSELECT 1')
    assert check.status_for(11) == ("fail", "error_if > 10")
    assert check.status_for(1) == ("warn", "warn_if > 0")
    assert check.status_for(0) == ("pass", None)


# ---------------------------------------------------------------------------------------------
# Selection


@pytest.fixture
def some_checks(tmp_path: Path, write_checks) -> list[Check]:
    """Four checks in two directories, with tags."""
    checks_dir = write_checks(
        tmp_path,
        {
            "checks/orders/positive_amount.sql": '-- weir: tags="orders daily"\nSELECT 1',
            "checks/orders/unique_id.sql": '-- weir: tags="orders"\nSELECT 1',
            "checks/customers/unique_id.sql": '-- weir: tags="customers daily"\nSELECT 1',
            "checks/freshness.sql": "SELECT 1",
        },
    )
    return read_checks(checks_dir, tmp_path)


def names(checks: list[Check]) -> list[str]:
    return [check.name for check in checks]


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ((), ["customers/unique_id", "freshness", "orders/positive_amount", "orders/unique_id"]),
        (("freshness",), ["freshness"]),
        (("orders/unique_id",), ["orders/unique_id"]),
        (("positive_amount",), ["orders/positive_amount"]),
        (("checks/freshness.sql",), []),  # not a name: see the path: case below
        (("tag:daily",), ["customers/unique_id", "orders/positive_amount"]),
        (("path:checks/orders",), ["orders/positive_amount", "orders/unique_id"]),
        (("path:orders",), ["orders/positive_amount", "orders/unique_id"]),
        (("path:checks/freshness.sql",), ["freshness"]),
        (("freshness tag:customers",), ["customers/unique_id", "freshness"]),
        (("freshness", "tag:orders"), ["freshness", "orders/positive_amount", "orders/unique_id"]),
    ],
)
def test_selection(some_checks: list[Check], selectors: tuple[str, ...], expected: list[str]) -> None:
    if not expected:
        with pytest.raises(ConfigError):
            select_checks(some_checks, selectors)
    else:
        assert names(select_checks(some_checks, selectors)) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("freshnes", "--select 'freshnes': no check named 'freshnes'; did you mean freshness?"),
        ("unique_id", "--select 'unique_id': 'unique_id' is ambiguous: customers/unique_id, orders/unique_id;"
                      " write the full name"),
        ("tag:dialy", "--select 'tag:dialy': no check has tag 'dialy'; did you mean tag:daily?"),
        ("path:checks/order", "--select 'path:checks/order': no check file under 'checks/order'"
                              " (paths are relative to the project root); did you mean path:checks/orders?"),
        ("zzzz", "--select 'zzzz': no check named 'zzzz'; see the files under checks/ for the names"),
    ],
)
def test_an_unknown_selector_names_close_matches(some_checks: list[Check], selector: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        select_checks(some_checks, [selector])
    assert str(raised.value) == message
    assert raised.value.exit_code == 2
