"""Fixtures for `weir test`: a copy of the example warehouse to mutate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example warehouse (migrations, models, unit tests) in a temporary directory."""
    root = tmp_path / "example"
    root.mkdir()
    (root / "setup.cfg").write_text("[weir]\nlock_timeout = 1s\nlock_retries = 1\n")
    for directory in ("migrations", "models", "unit_tests"):
        shutil.copytree(REPOSITORY / directory, root / directory)
    return root
