"""Read back a TYPE-CONTRACTS.ts that typescript_file wrote: its interfaces and field maps.

Only the layout that module writes is understood (one member per line, comments in `/** */`
blocks); anything else in the file is passed over.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_INTERFACE = re.compile(r"export interface (\w+) \{$")
_CONST = re.compile(r"export const (\w+) = \{$")
_KEY = r'(?P<name>[A-Za-z_$][\w$]*|"(?:[^"\\]|\\.)*")'
_MEMBER = re.compile(_KEY + r"(?P<optional>\?)?: (?P<type>.+);$")
_ENTRY = re.compile(_KEY + r': (?P<column>"(?:[^"\\]|\\.)*"),$')
_STRING_OR_SEPARATOR = re.compile(r'"(?:[^"\\]|\\.)*"|[()\[\]{}|]')


@dataclass(frozen=True)
class Member:
    """A member of an interface: a field, its type, and whether it may be left out."""

    name: str
    type: str
    optional: bool


@dataclass
class Contracts:
    """What a TYPE-CONTRACTS.ts declares: interfaces (name -> members in order) and field maps."""

    interfaces: dict[str, list[Member]] = field(default_factory=dict)
    field_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # FooFields -> field -> column


def read(text: str) -> Contracts:
    """Return the interfaces and field maps declared in `text`."""
    contracts = Contracts()
    members: list[Member] | None = None
    entries: dict[str, str] | None = None
    in_comment = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_comment or line.startswith("/*"):
            in_comment = "*/" not in line
            continue
        if line.startswith("}"):
            members = entries = None
        elif (match := _INTERFACE.match(line)) is not None:
            members = contracts.interfaces.setdefault(match[1], [])
        elif (match := _CONST.match(line)) is not None:
            entries = contracts.field_maps.setdefault(match[1], {})
        elif members is not None and (match := _MEMBER.match(line)) is not None:
            members.append(Member(_key(match["name"]), match["type"], bool(match["optional"])))
        elif entries is not None and (match := _ENTRY.match(line)) is not None:
            entries[_key(match["name"])] = json.loads(match["column"])
    return contracts


def _key(text: str) -> str:
    return str(json.loads(text)) if text.startswith('"') else text


def alternatives(type_: str) -> frozenset[str]:
    """Return the alternatives of a union at its top level: `"a" | "b" | null` -> {"a", "b", null}."""
    parts, depth, start = [], 0, 0
    for match in _STRING_OR_SEPARATOR.finditer(type_):
        token = match[0]
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
        elif token == "|" and depth == 0:
            parts.append(type_[start:match.start()].strip())
            start = match.end()
    parts.append(type_[start:].strip())
    return frozenset(parts)
