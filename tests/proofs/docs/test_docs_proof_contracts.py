"""The example warehouse's contracts compile: TYPE-CONTRACTS.ts with `tsc --strict`, contracts.py with
`mypy --strict`, each with a typed usage file; after a field is renamed the same usage fails to compile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def _tsc(node_modules: Path, folder: Path) -> tuple[int, str]:
    done = run(["node", str(node_modules / "typescript/bin/tsc"), "--strict", "--noEmit", "--target", "es2022",
                "TYPE-CONTRACTS.ts", "contracts_usage.ts"], folder)
    return done.returncode, done.stdout + done.stderr


def _mypy(folder: Path) -> tuple[int, str]:
    done = run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "/dev/null",
                "contracts.py", "contracts_usage.py"], folder)
    return done.returncode, done.stdout + done.stderr


def _workspace(tmp_path: Path, example_docs: Path, contracts: str, usage: str) -> Path:
    shutil.copy(example_docs / contracts, tmp_path / contracts)
    shutil.copy(HERE / usage, tmp_path / usage)
    return tmp_path


def test_typescript_contracts_compile_strict_with_their_usage(node_modules, example_docs, tmp_path) -> None:
    folder = _workspace(tmp_path, example_docs, "TYPE-CONTRACTS.ts", "contracts_usage.ts")
    assert _tsc(node_modules, folder) == (0, "")


def test_a_renamed_typescript_field_fails_the_usage(node_modules, example_docs, tmp_path) -> None:
    folder = _workspace(tmp_path, example_docs, "TYPE-CONTRACTS.ts", "contracts_usage.ts")
    contracts = folder / "TYPE-CONTRACTS.ts"
    text = contracts.read_text()
    assert text.count("orderedAt") >= 4
    # ordered_at renamed placed_at, as `weir docs` would write it: the interface, the field map, the DTOs
    contracts.write_text(text.replace("orderedAt", "placedAt").replace('"ordered_at"', '"placed_at"'))
    code, output = _tsc(node_modules, folder)
    assert code != 0
    assert "contracts_usage.ts" in output and "'orderedAt'" in output, output


def test_python_contracts_pass_mypy_strict_with_their_usage(example_docs, tmp_path) -> None:
    folder = _workspace(tmp_path, example_docs, "contracts.py", "contracts_usage.py")
    code, output = _mypy(folder)
    assert code == 0, output
    assert output.startswith("Success: no issues found in 2 source files")


def test_a_renamed_python_field_fails_the_usage(example_docs, tmp_path) -> None:
    folder = _workspace(tmp_path, example_docs, "contracts.py", "contracts_usage.py")
    contracts = folder / "contracts.py"
    text = contracts.read_text()
    assert text.count('"ordered_at"') >= 2
    contracts.write_text(text.replace('"ordered_at"', '"placed_at"').replace('"orderedAt"', '"placedAt"'))
    code, output = _mypy(folder)
    assert code != 0
    assert 'contracts_usage.py' in output and '"ordered_at"' in output, output
