"""BigQuery side of the lake schema: LakeSchema -> BigQuery fields, column names, and the evolution check.

The schema of every load job is written here from the converter's :class:`LakeSchema`; BigQuery never autodetects.
Fields are in the REST API's ``TableFieldSchema`` form (``{"name", "type", "mode", "description", "fields"}``), so
the same dicts go into a job configuration, a ``tables.insert`` body, or ``SchemaField.from_api_repr``.

Type mapping (lossless: a value that cannot be held exactly goes to STRING):

=================  ==========================================================================
lake kind          BigQuery
=================  ==========================================================================
string, json       STRING
decimal_text       STRING (the exact decimal text; no BigQuery number type holds every value)
int64              INT64
float64            FLOAT64
bool               BOOL
binary             BYTES
timestamp_us       TIMESTAMP
decimal(p, s)      NUMERIC if p - s <= 29 and s <= 9; else BIGNUMERIC if p - s <= 38 and s <= 38; else STRING
struct             RECORD with its fields
list(T)            T with mode REPEATED; list(list(T)) -> REPEATED RECORD wrapping one REPEATED ``element``
                   (a DynamoDB list holding a NULL element is ``json`` in the lake, so STRING: REPEATED holds no NULL)
=================  ==========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

NUMERIC_INTEGER_DIGITS = 29
NUMERIC_MAX_SCALE = 9
BIGNUMERIC_INTEGER_DIGITS = 38
BIGNUMERIC_MAX_SCALE = 38
MAX_COLUMN_NAME_LENGTH = 300
NESTED_LIST_WRAPPER = "element"
"""Name of the one field of the RECORD that wraps an inner list (BigQuery has no REPEATED of REPEATED)."""

_SCALAR_TYPES = {
    "string": "STRING",
    "json": "STRING",
    "decimal_text": "STRING",
    "int64": "INT64",
    "float64": "FLOAT64",
    "bool": "BOOL",
    "binary": "BYTES",
    "timestamp_us": "TIMESTAMP",
}
_TYPE_ALIASES = {
    "INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD", "BIGDECIMAL": "BIGNUMERIC",
}
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIXES = ("_table_", "_file_", "_partition", "_row_timestamp", "__root__", "_colidentifier")


class BigQuerySchemaError(SchemaError, ValueError):
    """The lake schema cannot be written to BigQuery as it is (a column name, or a type change a load cannot do)."""


def decimal_bigquery_type(precision: int, scale: int) -> str:
    """The narrowest exact BigQuery type for ``decimal(precision, scale)``, or STRING when none holds it."""
    integer_digits = precision - scale
    if integer_digits <= NUMERIC_INTEGER_DIGITS and scale <= NUMERIC_MAX_SCALE:
        return "NUMERIC"
    if integer_digits <= BIGNUMERIC_INTEGER_DIGITS and scale <= BIGNUMERIC_MAX_SCALE:
        return "BIGNUMERIC"
    return "STRING"


def column_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid BigQuery column name, or None when it is."""
    if not _VALID_NAME.match(name):
        return "BigQuery column names hold only letters, digits and underscores and do not start with a digit"
    if len(name) > MAX_COLUMN_NAME_LENGTH:
        return f"BigQuery column names are at most {MAX_COLUMN_NAME_LENGTH} characters"
    lowered = name.lower()
    for prefix in _RESERVED_PREFIXES:
        if lowered.startswith(prefix):
            return f"BigQuery reserves the prefix {prefix!r}"
    return None


def field_description(lake_field: LakeField) -> str:
    """The column description: the DynamoDB attribute the column holds (the name mapping), then the converter's note."""
    text = f"DynamoDB attribute {lake_field.attribute!r}"
    if lake_field.note:
        text += f"; {lake_field.note}"
    return text[:1024]


def bigquery_fields(schema: LakeSchema, *, table: str = "") -> list[dict[str, Any]]:
    """The BigQuery fields (API form) of a lake schema; raises :class:`BigQuerySchemaError` on an invalid name."""
    return [_field(f, path=f.name, table=table) for f in schema.fields]


def _field(lake_field: LakeField, *, path: str, table: str) -> dict[str, Any]:
    problem = column_name_problem(lake_field.name)
    if problem:
        where = f"table {table!r}, " if table else ""
        raise BigQuerySchemaError(
            f"{where}column {path!r} (DynamoDB attribute {lake_field.attribute!r}): {problem}. BigQuery matches "
            "Parquet columns by name, so the converter must write this column under a valid name."
        )
    out = _typed(lake_field.type, path=path, table=table)
    out["name"] = lake_field.name
    out["description"] = field_description(lake_field)
    return {key: out[key] for key in ("name", "type", "mode", "description", "fields") if key in out}


def _typed(lake_type: LakeType, *, path: str, table: str) -> dict[str, Any]:
    """Type, mode and sub-fields of one lake type (name and description are the caller's)."""
    kind = lake_type.kind
    if kind in _SCALAR_TYPES:
        return {"type": _SCALAR_TYPES[kind], "mode": "NULLABLE"}
    if kind == "decimal":
        return {"type": decimal_bigquery_type(lake_type.precision or 0, lake_type.scale or 0), "mode": "NULLABLE"}
    if kind == "struct":
        subfields = [_field(f, path=f"{path}.{f.name}", table=table) for f in lake_type.fields]
        return {"type": "RECORD", "mode": "NULLABLE", "fields": subfields}
    item = lake_type.item
    assert item is not None  # LakeType guarantees a list has an item type
    if item.kind == "list":
        inner = _typed(item, path=f"{path}.{NESTED_LIST_WRAPPER}", table=table)
        wrapper = {"name": NESTED_LIST_WRAPPER, **inner, "description": "items of the inner list"}
        wrapper = {key: wrapper[key] for key in ("name", "type", "mode", "description", "fields") if key in wrapper}
        return {"type": "RECORD", "mode": "REPEATED", "fields": [wrapper]}
    return {**_typed(item, path=path, table=table), "mode": "REPEATED"}


def normalized_type(field: dict[str, Any]) -> str:
    """A field's type under its standard SQL name (the API answers legacy names: INTEGER, FLOAT, BOOLEAN)."""
    type_name = str(field.get("type", "")).upper()
    return _TYPE_ALIASES.get(type_name, type_name)


def _mode(field: dict[str, Any]) -> str:
    return str(field.get("mode") or "NULLABLE").upper()


@dataclass(frozen=True)
class SchemaEvolution:
    """How a snapshot's fields meet the table's: the schema to load with, and what changed."""

    fields: list[dict[str, Any]]
    added: tuple[str, ...]
    kept_missing: tuple[str, ...]

    @property
    def needs_field_addition(self) -> bool:
        return bool(self.added)


def evolve_schema(
    existing: Iterable[dict[str, Any]] | None, snapshot: list[dict[str, Any]], *, table: str = ""
) -> SchemaEvolution:
    """Merge a snapshot's fields into an existing table's: additions allowed, any narrowing change raises.

    Allowed: new columns (also inside records), columns the snapshot lacks (kept, NULL in this snapshot), a snapshot
    NUMERIC into a table BIGNUMERIC (wider, exact). Refused with :class:`BigQuerySchemaError`: any other type change
    and any mode change (REPEATED <-> NULLABLE), because a load job cannot change them and a silent cast loses data.
    """
    if existing is None:
        return SchemaEvolution(list(snapshot), (), ())
    added: list[str] = []
    missing: list[str] = []
    merged = _merge(list(existing), snapshot, prefix="", table=table, added=added, missing=missing)
    return SchemaEvolution(merged, tuple(added), tuple(missing))


def _merge(
    existing: list[dict[str, Any]],
    snapshot: list[dict[str, Any]],
    *,
    prefix: str,
    table: str,
    added: list[str],
    missing: list[str],
) -> list[dict[str, Any]]:
    by_name = {f["name"].lower(): f for f in snapshot}
    merged: list[dict[str, Any]] = []
    for old in existing:
        path = f"{prefix}{old['name']}"
        new = by_name.pop(old["name"].lower(), None)
        if new is None:
            missing.append(path)
            merged.append(old)
            continue
        merged.append(_merge_field(old, new, path=path, table=table, added=added, missing=missing))
    for new in by_name.values():
        added.append(f"{prefix}{new['name']}")
        merged.append(new)
    return merged


def _merge_field(
    old: dict[str, Any], new: dict[str, Any], *, path: str, table: str, added: list[str], missing: list[str]
) -> dict[str, Any]:
    old_type, new_type = normalized_type(old), normalized_type(new)
    if _mode(old) != _mode(new) or not _type_accepts(old_type, new_type):
        where = f"table {table!r}: " if table else ""
        raise BigQuerySchemaError(
            f"{where}column {path!r} is {_mode(old)} {old_type} in BigQuery but {_mode(new)} {new_type} in this "
            "snapshot. A load job can only add columns; changing a column's type or mode would drop or alter data. "
            "Load this snapshot into a new table (or recreate the table and backfill) if the change is intended."
        )
    if old_type != "RECORD":
        return {**new, "type": old_type}
    fields = _merge(
        list(old.get("fields", ())), list(new.get("fields", ())), prefix=f"{path}.", table=table,
        added=added, missing=missing,
    )
    return {**new, "type": "RECORD", "fields": fields}


def _type_accepts(table_type: str, snapshot_type: str) -> bool:
    return table_type == snapshot_type or (table_type, snapshot_type) == ("BIGNUMERIC", "NUMERIC")
