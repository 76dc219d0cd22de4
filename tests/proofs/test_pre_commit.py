"""pre-commit from a fresh clone: every hook local, installed from the package registry alone.

Slow (the clone's first hook creates its .venv), so it runs in `make proofs`, not `make test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from runner.db import embedded

REPOSITORY = Path(__file__).parents[2]


def pre_commit(clone: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "SKIP": ""}
    environment.pop("VIRTUAL_ENV", None)
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
                          cwd=clone, env=environment, capture_output=True, text=True, timeout=1800)


def test_pre_commit_runs_green_in_a_fresh_clone_and_catches_an_unsafe_migration(tmp_path: Path) -> None:
    # Outside pytest's own temporary directory, which every pytest session on the machine makes 0700
    # again: the weir docs hook starts the clone's embedded server, which runs as its own user under root.
    base = Path(tempfile.mkdtemp(prefix="weir-pre-commit-"))
    clone = base / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(clone)], check=True)
    assert not (clone / ".venv").exists()

    try:
        _green_then_red(clone, tmp_path)
    finally:
        embedded.stop(clone / ".weir")
        shutil.rmtree(base, ignore_errors=True)


def _green_then_red(clone: Path, tmp_path: Path) -> None:
    green = pre_commit(clone, tmp_path / "pre-commit-home")
    assert green.returncode == 0, green.stdout + green.stderr
    for hook in ("weir lint", "ruff", "mypy --strict", "weir docs --check"):
        assert any(line.startswith(hook) and line.endswith("Passed") for line in green.stdout.splitlines()), (
            hook, green.stdout)

    (clone / "migrations" / "9999_unsafe.sql").write_text("CREATE INDEX unsafe ON raw.orders (status);\n")
    (clone / "migrations" / "9999_unsafe.rollback.sql").write_text("DROP INDEX raw.unsafe;\n")
    subprocess.run(["git", "add", "migrations"], cwd=clone, check=True)
    red = pre_commit(clone, tmp_path / "pre-commit-home")
    assert red.returncode != 0
    assert "migrations/9999_unsafe.sql:1:1: require-concurrent-index-creation" in red.stdout
