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
    assert text.count("    ordered_at: ") >= 2
    # ordered_at renamed placed_at, as `weir docs` would write it: the TypedDicts and the field maps
    contracts.write_text(text.replace("ordered_at", "placed_at").replace('"orderedAt"', '"placedAt"'))
    code, output = _mypy(folder)
    assert code != 0
    assert 'contracts_usage.py' in output and '"ordered_at"' in output, output


EDGE_SCHEMA = r"""
CREATE SCHEMA shop;
CREATE SCHEMA "shop 2";
CREATE TYPE shop.mood AS ENUM ('happy', 'sad', 'it''s "ok"', 'back\slash');
CREATE TABLE shop.everything (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "class" text NOT NULL, "default" integer, "2fa_enabled" boolean NOT NULL DEFAULT false,
    "with space" text, "orderId" text, order_id text, "Straße" text,
    small smallint, big bigint, price numeric(12,2), cash money, ratio real, wide double precision,
    flag boolean, chars char(3), var varchar(9), uid uuid, doc json, docb jsonb, raw bytea,
    day date, at timestamp, atz timestamptz, t time, ttz timetz, span interval, addr inet,
    mood shop.mood NOT NULL, moods shop.mood[], ints integer[], texts text[] NOT NULL DEFAULT '{}',
    status text CHECK (status IN ('a', 'b''c', 'd"e')),
    doubled numeric GENERATED ALWAYS AS (price * 2) STORED
);
COMMENT ON TABLE shop.everything IS 'A table with */ in its comment, and "quotes", and a
second line \ with a backslash.';
COMMENT ON COLUMN shop.everything."class" IS 'A reserved word. */ /* -- # "" ''';
CREATE TABLE shop.keys_only (a integer, b integer, PRIMARY KEY (a, b));
CREATE TABLE shop.parted (id integer NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE shop.empty ();
CREATE VIEW shop.everything_view AS SELECT * FROM shop.everything;
CREATE MATERIALIZED VIEW shop.summary AS SELECT count(*) AS n FROM shop.everything;
CREATE TABLE "shop 2"."everything" (x integer);
CREATE TABLE shop."2_everything" (x integer);
"""


def test_contracts_of_every_type_and_awkward_name_compile(node_modules, db, tmp_path) -> None:
    from runner.catalog import read_catalog
    from runner.docs.contracts import python, typescript

    db.execute(EDGE_SCHEMA)
    catalog = read_catalog(db, ["shop", "shop 2"])
    (tmp_path / "TYPE-CONTRACTS.ts").write_text(typescript(catalog))
    (tmp_path / "contracts_usage.ts").write_text(
        'import type { ShopEverything } from "./TYPE-CONTRACTS";\n'
        "export const n = (row: ShopEverything): string => row.class + row.withSpace + row.orderId2;\n")
    (tmp_path / "contracts.py").write_text(python(catalog))
    (tmp_path / "contracts_usage.py").write_text(
        "from contracts import ShopEverything\n\n\n"
        "def n(row: ShopEverything) -> str:\n"
        '    return row["class"] + (row["with space"] or "")\n')
    assert _tsc(node_modules, tmp_path) == (0, "")
    code, output = _mypy(tmp_path)
    assert code == 0, output
