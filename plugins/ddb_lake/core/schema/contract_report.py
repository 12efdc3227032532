"""The schema contract as text for people: its columns (column → attribute, type, pinned or inferred) and the
history of its changes (which snapshot added or widened what, from → to). Used by ``ddb-lake schema``."""

from __future__ import annotations

from ddb_lake.core.schema.contract import WIDENED, SchemaContract, members
from ddb_lake.core.schema.lake_schema import LakeField, LakeType


def type_text(kind: LakeType) -> str:
    """``decimal(21,2)``, ``list<string>``, ``struct<city,zip>``, ``json`` ... (struct members by name only)."""
    if kind.kind == "decimal":
        return f"decimal({kind.precision},{kind.scale})"
    if kind.kind == "list":
        return f"list<{type_text(kind.item)}>"  # type: ignore[arg-type]
    if kind.kind == "struct":
        return "struct<" + ",".join(f.name for f in kind.fields) + ">"
    return kind.kind


def _rows(fields: tuple[LakeField, ...], parent: str = "") -> list[tuple[str, str, str, str]]:
    out = []
    for lake_field in fields:
        column = f"{parent}{lake_field.name}"
        how = f"pinned (columns.{lake_field.attribute})" if lake_field.pinned else "inferred"
        out.append((column, lake_field.attribute, type_text(lake_field.type), how))
        out.extend(_rows(members(lake_field.type), column + "."))
    return out


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (header, *rows)]


def contract_lines(contract: SchemaContract, source: str) -> list[str]:
    """The contract's columns and change history, as printed by ``ddb-lake schema``."""
    lines = [f"table {contract.table}: schema contract as published at snapshot {contract.snapshot}",
             f"read from {source}", "", "columns (struct members as column.member):"]
    lines += _table(("column", "attribute", "type", "how"), _rows(contract.schema.fields))
    lines += ["", f"changes ({len(contract.history)}, oldest first):"]
    changes = []
    for change in contract.history:
        if change.change == WIDENED and change.previous_type is not None:
            what = f"{type_text(change.previous_type)} -> {type_text(change.type)}"
        else:
            what = type_text(change.type)
        changes.append((change.snapshot, change.change, change.column, change.attribute, what))
    lines += _table(("snapshot", "change", "column", "attribute", "type"), changes) if changes else ["(none)"]
    return lines
