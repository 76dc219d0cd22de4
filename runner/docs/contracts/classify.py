"""Classify how a TYPE-CONTRACTS.ts changed: what breaks its consumers, and what only adds.

Breaking: an entity or a field removed or renamed; a field's type changed in any way (narrowed,
widened, another type), null now allowed included (readers did not expect it) and null no longer
allowed (writers sending it fail); a field newly required in a Create DTO, or one left out of a
DTO that had it. Additive: a new entity, a new field of a row, a new optional DTO field, a Create
field no longer required.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.docs.contracts.reader import Contracts, Member, alternatives, read

BREAKING = "breaking"
ADDITIVE = "additive"


@dataclass(frozen=True)
class ContractChange:
    """One change of the contract: breaking or additive, on an entity (and a field), said in a line."""

    kind: str  # 'breaking' | 'additive'
    entity: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def classify(old_text: str, new_text: str) -> list[ContractChange]:
    """Return each change from the old TYPE-CONTRACTS.ts to the new one, breaking ones first."""
    old, new = read(old_text), read(new_text)
    old_rows, new_rows = _rows(old), _rows(new)
    changes: list[ContractChange] = []
    removed = [name for name in old_rows if name not in new_rows]
    added = [name for name in new_rows if name not in old_rows]
    renamed = _renamed_entities(old, new, removed, added)
    for before, after in renamed.items():
        changes.append(ContractChange(BREAKING, before, None, f"{before} renamed to {after}"))
    for name in removed:
        if name not in renamed:
            changes.append(ContractChange(BREAKING, name, None, f"{name} removed"))
    for name in added:
        if name not in renamed.values():
            changes.append(ContractChange(ADDITIVE, name, None, f"{name} added"))
    for name in old_rows:
        if name in new_rows:
            row_changes, renamed_fields = _row_changes(name, old.interfaces[name], new.interfaces[name])
            changes += row_changes
            # A field removed or renamed is said once, for the row, not again for each DTO.
            kept = {member.name for member in old.interfaces[name]} & {member.name for member in new.interfaces[name]}
            skip = ({member.name for member in old.interfaces[name]} - kept) | set(renamed_fields.values())
            for dto in (f"Create{name}DTO", f"Update{name}DTO"):
                changes += _dto_changes(dto, old.interfaces.get(dto), new.interfaces.get(dto), skip)
    return sorted(changes, key=lambda change: change.kind != BREAKING)


def describe(changes: list[ContractChange]) -> str:
    """Return the changes as lines, one each, with a first line counting the breaking ones."""
    if not changes:
        return "no change to the contracts"
    breaking = sum(change.kind == BREAKING for change in changes)
    summary = f"{breaking} breaking, {len(changes) - breaking} additive change(s) to the contracts"
    return "\n".join([summary, *(f"  {change}" for change in changes)])


def _rows(contracts: Contracts) -> dict[str, list[Member]]:
    """Return the row interfaces: those with a ...Fields map (DTOs have none)."""
    return {name: members for name, members in contracts.interfaces.items()
            if f"{name}Fields" in contracts.field_maps}


def _renamed_entities(old: Contracts, new: Contracts, removed: list[str], added: list[str]) -> dict[str, str]:
    """Pair a removed and an added entity that declare the very same fields: a rename."""
    renamed: dict[str, str] = {}
    for before in removed:
        for after in added:
            if after not in renamed.values() and old.interfaces[before] == new.interfaces[after]:
                renamed[before] = after
                break
    return renamed


def _row_changes(entity: str, old: list[Member], new: list[Member]) -> tuple[list[ContractChange], dict[str, str]]:
    """Return the changes of a row's fields, and the fields renamed (old name -> new name)."""
    before, after = {member.name: member for member in old}, {member.name: member for member in new}
    gone = [member for member in old if member.name not in after]
    came = [member for member in new if member.name not in before]
    changes, renamed = [], {}
    for member in gone:
        twin = _renamed_field(member, old, new, came)
        if twin is not None:
            came.remove(twin)
            renamed[member.name] = twin.name
            changes.append(ContractChange(BREAKING, entity, member.name,
                                          f"{entity}.{member.name} renamed to {twin.name}"))
        else:
            changes.append(ContractChange(BREAKING, entity, member.name, f"{entity}.{member.name} removed"))
    for member in came:
        what = "nullable field" if "null" in alternatives(member.type) else "field"
        changes.append(ContractChange(ADDITIVE, entity, member.name,
                                      f"{entity}.{member.name} added ({what}: {member.type})"))
    for member in old:
        if member.name in after and after[member.name].type != member.type:
            changes.append(_type_change(entity, member, after[member.name]))
    return changes, renamed


def _renamed_field(member: Member, old: list[Member], new: list[Member], came: list[Member]) -> Member | None:
    """Return the added field at the removed one's place with its type, if any: the same column renamed."""
    index = old.index(member)
    if index < len(new) and new[index] in came and new[index].type == member.type:
        return new[index]
    return None


def _type_change(entity: str, old: Member, new: Member) -> ContractChange:
    before, after = alternatives(old.type), alternatives(new.type)
    where = f"{entity}.{old.name}"
    if before | {"null"} == after:
        message = f"{where} now allows null"
    elif after | {"null"} == before:
        message = f"{where} no longer allows null"
    elif after < before:
        message = f"{where} narrowed: {old.type} -> {new.type}"
    elif after > before:
        message = f"{where} widened, allowing values consumers do not expect: {old.type} -> {new.type}"
    else:
        message = f"{where} changed type: {old.type} -> {new.type}"
    return ContractChange(BREAKING, entity, old.name, message)


def _dto_changes(dto: str, old: list[Member] | None, new: list[Member] | None,
                 skip: set[str]) -> list[ContractChange]:
    """Return what changed in which fields a DTO takes and requires (their types are the row's)."""
    if old is None and new is None:
        return []
    if old is None or new is None:
        kind, verb = (ADDITIVE, "added") if old is None else (BREAKING, "removed")
        return [ContractChange(kind, dto, None, f"{dto} {verb}")]
    before = {member.name: member for member in old if member.name not in skip}
    after = {member.name: member for member in new if member.name not in skip}
    changes = []
    for name, member in before.items():
        if name not in after:
            changes.append(ContractChange(BREAKING, dto, name, f"{dto}.{name} no longer accepted"))
        elif member.optional and not after[name].optional:
            changes.append(ContractChange(BREAKING, dto, name, f"{dto}.{name} now required"))
        elif not member.optional and after[name].optional:
            changes.append(ContractChange(ADDITIVE, dto, name, f"{dto}.{name} now optional"))
    for name, member in after.items():
        if name not in before:
            if member.optional:
                changes.append(ContractChange(ADDITIVE, dto, name, f"{dto}.{name} added (optional)"))
            else:
                changes.append(ContractChange(BREAKING, dto, name, f"{dto}.{name} added and required"))
    return changes
