"""Fixtures for `weir test`: a copy of the example warehouse to mutate."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example warehouse (migrations, models, unit tests) in a temporary directory."""
    root = tmp_path / "example"
    root.mkdir()
    (root / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nlock_retries = 1\n")
    for directory in ("migrations", "models", "seeds", "unit_tests"):
        shutil.copytree(REPOSITORY / directory, root / directory)
    return root


@pytest.fixture
def json_validator() -> Callable[[str], Any]:
    """json_validator(command) returns a jsonschema validator of that command's shipped schema."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    shipped = REPOSITORY / "runner" / "reports" / "schemas"
    registry = Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text()))) for path in shipped.glob("*.schema.json")
    )

    def validator(command: str) -> Any:
        schema = json.loads((shipped / f"weir-{command}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        return Draft202012Validator(schema, registry=registry)

    return validator
