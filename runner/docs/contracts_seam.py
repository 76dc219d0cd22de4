"""The seam to runner.docs.contracts (TYPE-CONTRACTS.ts, contracts.py), written beside `weir docs`.

`weir docs` expects from it two renderers of the catalog and a classifier of a contract change:

    typescript_contracts(catalog) -> str           TYPE-CONTRACTS.ts
    python_contracts(catalog) -> str               contracts.py
    classify_change(old_ts, new_ts) -> str         a few lines: each change, breaking or additive

Until that package is there, no contract files are written and `--check` says so.
"""

from __future__ import annotations

import importlib
from typing import Any

from runner.catalog import Catalog

TYPESCRIPT = "TYPE-CONTRACTS.ts"
PYTHON = "contracts.py"


def _contracts() -> Any:
    try:
        return importlib.import_module("runner.docs.contracts")
    except ImportError:
        return None


def contract_files(catalog: Catalog) -> dict[str, str]:
    """Return TYPE-CONTRACTS.ts and contracts.py for `catalog`, or nothing without runner.docs.contracts."""
    contracts = _contracts()
    if contracts is None:
        return {}
    files = {}
    for name, function in ((TYPESCRIPT, "typescript_contracts"), (PYTHON, "python_contracts")):
        render = getattr(contracts, function, None)
        if render is not None:
            files[name] = str(render(catalog))
    return files


def classify_change(old: str, new: str) -> str:
    """Say how TYPE-CONTRACTS.ts changed (breaking or additive), or '' when that cannot be told."""
    contracts = _contracts()
    classify = getattr(contracts, "classify_change", None) if contracts is not None else None
    if classify is None:
        return ""
    return str(classify(old, new)).rstrip()
