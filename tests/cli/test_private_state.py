""".weir/ is private: folders 0700 and files 0600 whatever the umask, wider ones tightened on use."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.project.private import state_dir_mode


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run the test with umask 000, so nothing private comes from the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def project_with_a_model(project: Path) -> Path:
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "m.sql").write_text("SELECT 1 AS id\n")
    return project


def test_weir_creates_its_state_private_whatever_the_umask(project, open_umask, weir):
    project_with_a_model(project)
    result = weir("lint", "--project", str(project))
    assert "Traceback" not in result.output
    cache = project / ".weir" / "cache" / "parsed.json"
    assert cache.exists()
    assert (mode(project / ".weir"), mode(cache.parent), mode(cache)) == (state_dir_mode(), 0o700, 0o600)


def test_wider_state_left_by_an_older_weir_is_tightened_on_next_use(project, open_umask, weir):
    project_with_a_model(project)
    cache_dir = project / ".weir" / "cache"
    cache_dir.mkdir(parents=True, mode=0o755)
    (project / ".weir").chmod(0o755)
    cache_dir.chmod(0o777)
    (cache_dir / "parsed.json").write_text("{}")
    (cache_dir / "parsed.json").chmod(0o644)
    weir("lint", "--project", str(project))
    cache = cache_dir / "parsed.json"
    assert (mode(project / ".weir"), mode(cache_dir), mode(cache)) == (state_dir_mode(), 0o700, 0o600)
