"""What the docs proofs need: the npm tools in node_modules, the system Chromium, and the example's docs.

`make docs-proofs` installs the first two (npm ci from the committed package-lock.json; Debian's
chromium with apt-get when it is missing) and runs these tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from runner.cli import cli

REPOSITORY = Path(__file__).parents[3]
NODE_MODULES = REPOSITORY / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The project's node_modules with typescript, mermaid and puppeteer-core, as make docs-proofs installs it."""
    for tool in ("typescript/bin/tsc", "mermaid/dist/mermaid.min.js", "puppeteer-core/package.json"):
        if not (NODE_MODULES / tool).exists():
            pytest.fail(f"node_modules/{tool} is missing: run `make docs-proofs`, which installs it with npm ci")
    return NODE_MODULES


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium (WEIR_CHROMIUM, default /usr/bin/chromium) that renders the Mermaid diagrams."""
    path = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make docs-proofs`, which installs Debian's chromium")
    return path


@pytest.fixture(scope="session")
def example_docs(postgresql_server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/data of this repository's example warehouse as `weir docs` writes it now, from a throwaway build."""
    out = tmp_path_factory.mktemp("example") / "data"
    server = make_conninfo(host=postgresql_server.host, port=postgresql_server.port, user=postgresql_server.user,
                           password=postgresql_server.password or None, dbname="postgres")
    result = CliRunner().invoke(cli, ["docs", "--project", str(REPOSITORY), "--out", str(out),
                                      "--scratch-server", server])
    assert result.exit_code == 0, result.output
    assert (out / "TYPE-CONTRACTS.ts").is_file() and (out / "contracts.py").is_file(), sorted(out.iterdir())
    return out
