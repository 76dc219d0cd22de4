"""Fixtures for the report tests: a project whose checks end in every status, and the validators."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

SCHEMAS = Path(__file__).parent / "schemas"
SHIPPED = Path(__file__).parents[2] / "runner" / "reports" / "schemas"

CHECKS = {
    "all_good": "SELECT 1 AS x WHERE false",
    "orders/negative_amount": "SELECT zeta, id, amount FROM orders WHERE amount < 0 ORDER BY id",
    "orders/few_orders": '-- weir: severity=warn, warn_if="< 100"\nSELECT id FROM orders ORDER BY id LIMIT 2',
    "broken": "SELECT *\nFROM missing_table",
}


@pytest.fixture
def checked_project(project: Path, db: psycopg.Connection) -> Path:
    """A project with one check of each status (pass, warn, fail with 3 rows, error) over a real table."""
    db.execute("CREATE TABLE orders AS SELECT g AS id, -g * 1.5 AS amount, 'z' || g AS zeta"
               " FROM generate_series(1, 3) AS g")
    for name, text in CHECKS.items():
        path = project / "checks" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project


@pytest.fixture(scope="session")
def junit_schemas() -> dict[str, Any]:
    """The Jenkins xUnit and the strict Ant JUnit schemas, loaded with xmlschema."""
    import xmlschema

    return {name: xmlschema.XMLSchema(SCHEMAS / f"{name}.xsd") for name in ("jenkins-xunit-junit", "ant-junit")}


@pytest.fixture(scope="session")
def json_validator() -> Callable[[str], Any]:
    """json_validator(command) returns a jsonschema validator of that command's shipped schema."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = [(path.name, Resource.from_contents(json.loads(path.read_text())))
                 for path in SHIPPED.glob("*.schema.json")]
    registry = Registry().with_resources(resources)

    def validator(command: str) -> Any:
        schema = json.loads((SHIPPED / f"weir-{command}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)

    return validator
