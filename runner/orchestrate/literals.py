"""Python literals of names for generated modules, laid out as ruff's formatter lays them out (88 columns)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.orchestrate.plan import Plan

WIDTH = 88
Value = str | Sequence[str]


def literal(value: Value) -> str:
    """Return a double-quoted string literal, or a one-line list of them."""
    return json.dumps(value if isinstance(value, str) else list(value))


def project_dir_line(relative: str) -> str:
    """Return the line naming the project directory relative to the generated file (a long path is let be)."""
    line = f"PROJECT_DIR = {literal(relative)}  # relative to this file; WEIR_PROJECT overrides it"
    if len(line) <= WIDTH:
        return line
    line = f"PROJECT_DIR = {literal(relative)}"
    return line if len(line) <= WIDTH else f"{line}  # noqa: E501"


def opening(header: str, plan: Plan, relative_project: str) -> list[str]:
    """Return a generated module's header (project directory and retries filled in), its MODELS and SLAS dicts."""
    parts = [header.format(
        project_dir=project_dir_line(relative_project),
        retries=plan.retries.tries - 1,
        base_delay=plan.retries.base_delay,
        max_delay=plan.retries.max_delay,
    )]
    parts.append(dictionary("MODELS", "model -> (its schedule, the models it reads)",
                            [entry(task.model, (task.schedule, list(task.upstream))) for task in plan.models]))
    parts.append(dictionary("SLAS", "model -> its freshness SLA, which `weir freshness` watches and alerts on",
                            [entry(task.model, task.sla) for task in plan.models if task.sla is not None]))
    return parts


def dictionary(name: str, comment: str, entries: list[str]) -> str:
    """Return `# comment` and `NAME = {...}` holding `entries` (each from entry()), after a blank line."""
    body = "{\n" + "".join(entries) + "}" if entries else "{}"
    return f"\n# {comment}\n{name} = {body}\n"


def entry(key: str, value: Value | tuple[Value, ...], indent: int = 4) -> str:
    """Return the line(s) of one dict entry `key: value,`, exploded as ruff would when too long."""
    return _layout(f"{' ' * indent}{literal(key)}: ", value, indent, ",") + "\n"


def _layout(prefix: str, value: Value | tuple[Value, ...], indent: int, suffix: str) -> str:
    flat = _flat(value)
    if len(prefix) + len(flat) + len(suffix) <= WIDTH or isinstance(value, str):
        return f"{prefix}{flat}{suffix}"
    opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
    inner = " " * (indent + 4)
    items = "".join(_layout(inner, item, indent + 4, ",") + "\n" for item in value)
    return f"{prefix}{opening}\n{items}{' ' * indent}{closing}{suffix}"


def _flat(value: Value | tuple[Value, ...]) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_flat(item) for item in value) + ")"
    return literal(value)
