"""How a BigQuery table follows a widening lake contract: the changes to make before a snapshot is copied in. Pure.

Rules (docs/bigquery.md, "Widening"): the destination never narrows and never loses a value.

=====================================  =============================================================================
snapshot column vs table column        change to the table (before the publish copy)
=====================================  =============================================================================
new top-level column                   ``add_column``: the schema gains it (NULLABLE; older rows read NULL)
new member of a RECORD                 ``add_member``: the RECORD gains it (NULLABLE)
INT64 → NUMERIC, INT64 → BIGNUMERIC,   ``set_data_type``: ``ALTER TABLE … ALTER COLUMN … SET DATA TYPE`` (a
NUMERIC → BIGNUMERIC (top level)       coercion BigQuery allows; metadata only, existing values kept exactly)
narrower than the table (NUMERIC into  none: the table's type holds the values exactly; the staging table takes the
BIGNUMERIC, INT64 into NUMERIC, …)     table's type
column the snapshot lacks              none: kept; this snapshot's rows read NULL
anything else (a number column that    ``versioned_column``: a new column ``<col>__v2`` (``__v3`` …) of the new type
must become STRING, a type change      takes this and later snapshots' values; the old column keeps older rows; the
inside a RECORD, a mode change)        view ``<table>__contract`` reads ``COALESCE(new, old as the new type)`` under
                                       the original name (scalars: CAST; ARRAY/STRUCT → STRING: TO_JSON_STRING;
                                       STRUCT → STRUCT: member by member). A RECORD whose member changes type is
                                       versioned whole (top-level columns only are versioned).
=====================================  =============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ddb_lake.destinations.bigquery.schema import BigQuerySchemaError, normalized_type

ALTERABLE = {("INT64", "NUMERIC"), ("INT64", "BIGNUMERIC"), ("NUMERIC", "BIGNUMERIC")}
"""(table type, new type) pairs ``ALTER COLUMN SET DATA TYPE`` accepts (BigQuery's documented coercions we use)."""
HOLDS = {("NUMERIC", "INT64"), ("BIGNUMERIC", "INT64"), ("BIGNUMERIC", "NUMERIC")}
"""(table type, snapshot type) pairs where the table's type already holds every value of the snapshot's exactly."""
VERSION_SUFFIX = "__v"
VIEW_SUFFIX = "__contract"


@dataclass(frozen=True)
class Widening:
    """One change the table needs: ``kind`` is add_column, add_member, set_data_type or versioned_column."""

    kind: str
    column: str
    old_type: str | None
    new_type: str
    target: str = ""  # versioned_column: the new column's name

    @property
    def change(self) -> str:
        if self.kind == "set_data_type":
            return f"{self.column}: {self.old_type} -> {self.new_type} (ALTER COLUMN SET DATA TYPE)"
        if self.kind == "versioned_column":
            return f"{self.column}: {self.old_type} -> {self.new_type} in new column {self.target} (view reads both)"
        return f"{self.column}: new {self.new_type} ({self.kind.replace('_', ' ')})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class WidenedSchema:
    """The table's schema after widening (the staging table's too) and the changes that lead there."""

    fields: list[dict[str, Any]]
    widenings: tuple[Widening, ...]
    renames: dict[str, str] = field(default_factory=dict)  # snapshot column -> the versioned column that holds it


def _mode(field: dict[str, Any]) -> str:
    return str(field.get("mode") or "NULLABLE").upper()


def widen_schema(
    existing: Iterable[dict[str, Any]] | None, snapshot: list[dict[str, Any]], *, table: str = ""
) -> WidenedSchema:
    """Merge the snapshot's fields into the table's by the rules above; raise on a nested change no rule covers."""
    if existing is None:
        return WidenedSchema(list(snapshot), (), {})
    merged = list(existing)
    names = {f["name"].lower() for f in merged}
    # A versioned column the incoming fields name themselves (the publish step re-planning the widened schema) is
    # not where their base column's values go: only a snapshot's column is routed to its newest version.
    incoming = {f["name"].lower() for f in snapshot}
    versions = {v: b for v, b in _versioned(merged).items() if v not in incoming}
    widenings: list[Widening] = []
    renames: dict[str, str] = {}
    for new in snapshot:
        key = new["name"].lower()
        if key not in names:
            widenings.append(Widening("add_column", new["name"], None, normalized_type(new)))
            merged.append({**new, "mode": "REPEATED" if _mode(new) == "REPEATED" else "NULLABLE"})
            names.add(key)
            continue
        chain = [key, *sorted((v for v, base in versions.items() if base == key), key=_version_number)]
        at = next(i for i, f in enumerate(merged) if f["name"].lower() == chain[-1])
        base = next(f["name"] for f in merged if f["name"].lower() == key)
        field, change = _merge_top(merged[at], new, table=table, names=names, base=base)
        if change is not None and change.kind == "versioned_column":
            merged.append({**new, "name": change.target, "mode": _mode(new)})
            names.add(change.target.lower())
            renames[new["name"]] = change.target
        else:
            merged[at] = field
            if len(chain) > 1:
                renames[new["name"]] = merged[at]["name"]
        if change is not None:
            widenings.append(change)
    return WidenedSchema(merged, tuple(widenings), renames)


def _merge_top(
    old: dict[str, Any], new: dict[str, Any], *, table: str, names: set[str], base: str
) -> tuple[dict[str, Any], Widening | None]:
    """``old`` is the column (or its newest version) that takes the snapshot's ``new``; ``base`` its first name."""
    old_type, new_type = normalized_type(old), normalized_type(new)
    if _mode(old) == _mode(new) and old_type == new_type == "RECORD":
        added: list[str] = []
        try:
            fields = _merge_members(old, new, path=old["name"], table=table, added=added)
        except BigQuerySchemaError:  # a member changed type: no ALTER reaches inside a RECORD, version the column
            fields = None
        if fields is not None:
            change = Widening("add_member", ", ".join(added), None, "RECORD") if added else None
            return {**old, "fields": fields}, change
    elif _mode(old) == _mode(new) and (old_type == new_type or (old_type, new_type) in HOLDS):
        return old, None
    elif _mode(old) == _mode(new) and (old_type, new_type) in ALTERABLE:
        return {**old, "type": new_type}, Widening("set_data_type", old["name"], old_type, new_type)
    target = _next_version(base, names)
    return old, Widening(
        "versioned_column", base, f"{_mode(old)} {old_type}", f"{_mode(new)} {new_type}", target
    )


def _merge_members(
    old: dict[str, Any], new: dict[str, Any], *, path: str, table: str, added: list[str]
) -> list[dict[str, Any]]:
    by_name = {f["name"].lower(): f for f in new.get("fields", ())}
    merged: list[dict[str, Any]] = []
    for member in old.get("fields", ()):
        incoming = by_name.pop(member["name"].lower(), None)
        if incoming is None:
            merged.append(member)
            continue
        old_type, new_type = normalized_type(member), normalized_type(incoming)
        where = f"{path}.{member['name']}"
        if _mode(member) == _mode(incoming) and old_type == new_type == "RECORD":
            merged.append({**member, "fields": _merge_members(member, incoming, path=where, table=table, added=added)})
        elif _mode(member) == _mode(incoming) and (old_type == new_type or (old_type, new_type) in HOLDS):
            merged.append(member)
        else:
            raise BigQuerySchemaError(
                f"table {table!r}: RECORD member {where!r} is {_mode(member)} {old_type} in BigQuery but "
                f"{_mode(incoming)} {new_type} in this snapshot. BigQuery cannot change a nested column's type and "
                f"ddb-lake versions top-level columns only. Fix: pin {where.split('.')[0]!r} in the table's YAML "
                "`columns:` to a type that holds every value, or recreate the BigQuery table and backfill."
            )
    for incoming in by_name.values():
        added.append(f"{path}.{incoming['name']}")
        merged.append({**incoming, "mode": "REPEATED" if _mode(incoming) == "REPEATED" else "NULLABLE"})
    return merged


def _versioned(fields: list[dict[str, Any]]) -> dict[str, str]:
    """``{"price__v2": "price"}`` for the table's versioned columns whose base column exists."""
    names = {f["name"].lower() for f in fields}
    out = {}
    for name in names:
        base, sep, number = name.rpartition(VERSION_SUFFIX)
        if sep and number.isdigit() and base in names:
            out[name] = base
    return out


def _version_number(name: str) -> int:
    return int(name.rpartition(VERSION_SUFFIX)[2])


def _next_version(column: str, names: set[str]) -> str:
    number = 2
    while f"{column}{VERSION_SUFFIX}{number}".lower() in names:
        number += 1
    return f"{column}{VERSION_SUFFIX}{number}"


def contract_view_sql(project: str, dataset: str, table: str, fields: list[dict[str, Any]]) -> str | None:
    """``CREATE OR REPLACE VIEW <table>__contract``: versioned columns read under their base name; None if none."""
    versions = _versioned(fields)
    if not versions:
        return None
    by_name = {f["name"].lower(): f for f in fields}
    chains: dict[str, list[str]] = {}
    for version in sorted(versions, key=_version_number, reverse=True):
        chains.setdefault(versions[version], []).append(by_name[version]["name"])
    columns = []
    for f in fields:
        key = f["name"].lower()
        if key in versions:
            continue
        if key in chains:
            newest = by_name[chains[key][0].lower()]
            older = [by_name[c.lower()] for c in chains[key][1:]] + [f]
            parts = [f"`{newest['name']}`"] + [_as_type(f"`{o['name']}`", o, newest) for o in older]
            columns.append(f"COALESCE({', '.join(p for p in parts if p)}) AS `{f['name']}`")
        else:
            columns.append(f"`{f['name']}`")
    return (
        f"CREATE OR REPLACE VIEW `{project}.{dataset}.{table}{VIEW_SUFFIX}` AS SELECT {', '.join(columns)} "
        f"FROM `{project}.{dataset}.{table}`"
    )


def _nested(field: dict[str, Any]) -> bool:
    return _mode(field) == "REPEATED" or normalized_type(field) == "RECORD"


def sql_type(field: dict[str, Any]) -> str:
    """A field's GoogleSQL type: ``NUMERIC``, ``ARRAY<STRING>``, ``STRUCT<`city` STRING, `zip` INT64>``."""
    kind = normalized_type(field)
    if kind == "RECORD":
        kind = "STRUCT<" + ", ".join(f"`{m['name']}` {sql_type(m)}" for m in field.get("fields", ())) + ">"
    return f"ARRAY<{kind}>" if _mode(field) == "REPEATED" else kind


def _as_type(expr: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """``expr`` (a value of ``old``'s type) as ``new``'s type for the contract view; None when SQL has no such
    conversion (the older column's values then stay readable in the table only)."""
    if sql_type(old) == sql_type(new):
        return expr
    if not _nested(old) and not _nested(new):
        return f"CAST({expr} AS {normalized_type(new)})"
    if not _nested(new) and normalized_type(new) == "STRING":
        return f"TO_JSON_STRING({expr})"  # an ARRAY or STRUCT as JSON text
    if _mode(old) == _mode(new) == "NULLABLE" and normalized_type(old) == normalized_type(new) == "RECORD":
        members = {m["name"].lower(): m for m in old.get("fields", ())}
        parts = []
        for m in new.get("fields", ()):
            was = members.get(m["name"].lower())
            value = _as_type(f"{expr}.`{was['name']}`", was, m) if was else None
            parts.append(f"{value or f'CAST(NULL AS {sql_type(m)})'} AS `{m['name']}`")
        return f"IF({expr} IS NULL, NULL, STRUCT({', '.join(parts)}))"
    return None


def staging_fields(widened: WidenedSchema, snapshot: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The staging table's columns: the widened table's, but a column held by a versioned column is loaded under its
    own (snapshot) name and type, and the versioned columns are left out (``reshape_sql`` fills them)."""
    if not widened.renames:
        return list(widened.fields)
    by_snapshot = {f["name"].lower(): f for f in snapshot}
    renamed = {name.lower() for name in widened.renames}
    targets = {target.lower() for target in widened.renames.values()}
    return [
        by_snapshot[f["name"].lower()] if f["name"].lower() in renamed else f
        for f in widened.fields
        if f["name"].lower() not in targets
    ]


def reshape_sql(staging: str, reshaped: str, widened: WidenedSchema) -> str | None:
    """``CREATE OR REPLACE TABLE`` of the staging rows in the table's shape (values moved to their versioned columns,
    the old columns NULL); None when no column is versioned and the staging table is copied as it is."""
    if not widened.renames:
        return None
    source_of = {target.lower(): name for name, target in widened.renames.items()}
    renamed = {name.lower() for name in widened.renames}
    columns = []
    for f in widened.fields:
        key, kind = f["name"].lower(), normalized_type(f)
        if key in source_of:
            source = f"`{source_of[key]}`"
            columns.append(f"{source if _nested(f) else f'CAST({source} AS {kind})'} AS `{f['name']}`")
        elif key in renamed:
            columns.append(f"CAST(NULL AS {sql_type(f)}) AS `{f['name']}`")
        else:
            columns.append(f"`{f['name']}`")
    return f"CREATE OR REPLACE TABLE {reshaped} AS SELECT {', '.join(columns)} FROM {staging}"
