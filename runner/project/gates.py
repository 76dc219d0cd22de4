"""Which checks are gates of which models, read from the project before any database work.

A check file declaring `-- weir: gate=marts.fact_order_items` is a gate of that model. A gate
may read only its model (found with pglast: FROM clauses, typed NULLs, regclass literals and
the relation arguments of the weir.* check functions), and may quarantine only a table or
incremental model. runner/checks/gates.py runs them inside the model's build transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from runner.errors import ProjectFileError
from runner.project.checks import Check, read_checks
from runner.project.model_select import found_in
from runner.project.sqlfile import json_nodes, parse_json

if TYPE_CHECKING:
    from runner.project import Project
    from runner.project.models import Model
    from runner.project.settings import Settings

QUARANTINE_KINDS = ("table", "incremental")
# The weir.* library functions that take a relation by name, and at which argument.
_RELATION_ARGUMENTS = {
    "row_count_between": (0,),
    "null_rate": (0,),
    "freshness": (0,),
    "volume_anomaly": (0,),
    "expected_columns": (0,),
    "relationships": (2,),  # the parent relation: a gate may not read one
}
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_RELATION_TEXT = re.compile(rf"^\s*(?:({_NAME})\s*\.\s*)?({_NAME})\s*$")


def read_gates(settings: Settings, models: Iterable[Model]) -> dict[str, tuple[Check, ...]]:
    """Return the gates of each model ("schema.name" -> checks), quarantine gates first, then by name.

    Reads every check file (runner.project.checks.read_checks) and raises ProjectFileError
    (`path:line: message`) when a gate names no model, reads anything but its model, or asks
    for quarantine on a model that cannot give rows up (a view, an scd2 history).
    """
    return gates_of(read_checks(settings.checks_dir, settings.root), models)


def validate_gates(project: Project) -> None:
    """Raise ProjectFileError as lint does when a gate names no model or reads more than its model.

    Every command that runs gates or the checks they are calls this before connecting. The
    models are read only when some check is a gate.
    """
    if any(check.gate is not None for check in project.checks):
        project.gates  # noqa: B018  (reading the gates validates them)


def gates_of(checks: Iterable[Check], models: Iterable[Model]) -> dict[str, tuple[Check, ...]]:
    """Return the gates among `checks` of each model, as read_gates does, for checks already read."""
    by_name = {model.qualified: model for model in models}
    gates: dict[str, list[Check]] = {}
    for check in checks:
        if check.gate is None:
            continue
        model = by_name.get(check.gate)
        if model is None:
            raise ProjectFileError(
                f"{check.display}:{check.directives['gate'].line}: gate={check.gate} names no model"
                + _suggest(check.gate, sorted(by_name))
            )
        validate_gate(check, model, by_name.values())
        gates.setdefault(model.qualified, []).append(check)
    return {
        name: tuple(sorted(checks, key=lambda check: (not check.quarantine, check.name)))
        for name, checks in gates.items()
    }


def validate_gate(check: Check, model: Model, models: Iterable[Model]) -> None:
    """Raise ProjectFileError unless `check` reads `model` and nothing else (and can quarantine it)."""
    unique: dict[str, list[tuple[str, str]]] = {}
    for other in models:
        unique.setdefault(other.name, []).append((other.schema, other.name))
    inputs = gate_inputs(check)
    if not inputs:
        raise ProjectFileError(
            f"{check.display}:{check.sql_line}: a gate checks its model, and this check reads no relation;"
            f" select from it: SELECT * FROM {model.qualified} WHERE <bad condition>"
        )
    for schema, name, location, maybe_type in inputs:
        if schema is None:
            candidates = unique.get(name, [])
            if len(candidates) == 1:
                schema = candidates[0][0]
            elif maybe_type:
                continue  # NULL::text and the like: a type, not a relation
            else:
                schema = ""
        if (schema, name) != (model.schema, model.name):
            shown = f"{schema}.{name}" if schema else name
            line = check.sql_line + check.sql.count("\n", 0, max(location, 0))
            raise ProjectFileError(
                f"{check.display}:{line}: gate={model.qualified} reads {shown}; a gate runs inside its model's"
                f" build and may read only {model.qualified}: drop the gate directive to make it a plain check,"
                " or check only the model"
            )
    if check.quarantine and model.kind not in QUARANTINE_KINDS:
        why = "a view holds no rows" if model.kind == "view" else "deleting versions would break its history"
        raise ProjectFileError(
            f"{check.display}:{check.directives['quarantine'].line}: quarantine=true on {model.qualified},"
            f" a {model.kind} model: {why}; quarantine works on table and incremental models, remove"
            " quarantine to fail the build instead"
        )


def gate_inputs(check: Check) -> list[tuple[str | None, str, int, bool]]:
    """Return every relation `check` reads: (schema or None, name, offset in its SQL, could be a type name).

    Found by pglast: relations in FROM (CTE names excluded), the library's typed-NULL pattern
    (NULL::marts.x), regclass literals ('marts.x'::regclass) and the relation arguments of
    the weir.* check functions.
    """
    found: list[tuple[str | None, str, int, bool]] = [
        (reference.schema, reference.name, reference.location, False)
        for reference in found_in(check.sql, check.display, check.sql_line).references
    ]
    statements, char_offset = parse_json(check.sql)
    for schema, name, location, maybe_type in _named_relations(statements[0]["stmt"]):
        found.append((schema, name, char_offset(location), maybe_type))
    return found


def gate_tokens(gates: Sequence[Check]) -> dict[str, dict[str, str]]:
    """Return what a model's skip decision must also compare: its gates' checksums ({} without gates).

    A gate added, edited or removed since the model's last build makes the next build run it.
    """
    return {"gates": {check.name: check.checksum for check in gates}} if gates else {}


def _named_relations(tree: dict[str, Any]) -> list[tuple[str | None, str, int, bool]]:
    """Return the relations named outside FROM in a JSON parse tree, with byte offsets (see gate_inputs)."""
    found: list[tuple[str | None, str, int, bool]] = []
    for kind, node in json_nodes(tree):
        if kind == "TypeCast" and "A_Const" in node["arg"]:
            constant = node["arg"]["A_Const"]
            names = [part["String"]["sval"] for part in node["typeName"]["names"]]
            location = node.get("location", 0)
            if constant.get("isnull") and names[0] != "pg_catalog" and len(names) <= 2:
                found.append((names[0] if len(names) == 2 else None, names[-1], location, len(names) == 1))
            elif names[-1] == "regclass" and "sval" in constant:
                _add_named(constant["sval"]["sval"], location, found)
        if kind == "FuncCall" and len(node["funcname"]) == 2 and node["funcname"][0]["String"]["sval"] == "weir":
            args = node.get("args", [])
            for position in _RELATION_ARGUMENTS.get(node["funcname"][1]["String"]["sval"], ()):
                constant = args[position].get("A_Const", {}) if position < len(args) else {}
                if "sval" in constant:  # the constant's own location would do too; keep the call's
                    _add_named(constant["sval"]["sval"], node.get("location", 0), found)
    return found


def _add_named(text: str, location: int, found: list[tuple[str | None, str, int, bool]]) -> None:
    """Add the relation a string names ('marts.x', '"Odd"."Name"'), as PostgreSQL would read it."""
    match = _RELATION_TEXT.match(text)
    if match is None:
        return  # not a name the functions would accept either; they raise at run time

    def unquote(part: str) -> str:
        return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()

    schema, name = match.group(1), match.group(2)
    found.append((unquote(schema) if schema else None, unquote(name), location, False))


def _suggest(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(close) + "?"
    return "; write gate=schema.name of a model under models/, or remove the gate directive"
