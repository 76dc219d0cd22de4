"""The README's library example runs as written, on this repository's project."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """Return the python code block of the README's "Using the library" section."""
    section = ROOT.joinpath("README.md").read_text().split("## Using the library", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README's Using the library section has no python example"
    return found.group(1)


def test_the_library_example_migrates_builds_and_checks(db: psycopg.Connection, dsn: str, capsys) -> None:
    code = readme_example()
    assert '"path/to/project"' in code and '"postgresql://deploy@db.internal/warehouse"' in code
    code = code.replace('"path/to/project"', repr(str(ROOT))).replace(
        '"postgresql://deploy@db.internal/warehouse"', repr(dsn)
    )
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("0001_raw_schema ") and printed[0].endswith(" ms")
    migrations = len(list(ROOT.joinpath("migrations").glob("*.rollback.sql")))
    assert migrations == 6
    assert db.execute("SELECT count(*) FROM weir.migration").fetchone()[0] == migrations
    assert db.execute("SELECT to_regclass('marts.fact_order_items') IS NOT NULL").fetchone()[0]
    assert "'success': 10" in printed[migrations]
