"""Map a :class:`LakeSchema` onto the Glue Data Catalog: Hive type strings, TableInput, PartitionInput.

Pure: builds the dictionaries Glue's ``CreateTable`` / ``UpdateTable`` / ``BatchCreatePartition`` take, and decides
how an existing table's columns evolve when a new snapshot arrives (additive only: new columns are appended, types
may widen; anything else is an error that names the table and the column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.layout import SNAPSHOT_PARTITION, attempt_of_folder
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

SCHEMA_PARAMETER = "ddb_lake.schema_version"
SNAPSHOT_PARAMETER = "ddb_lake.snapshot"
PUBLISHED_AT_PARAMETER = "ddb_lake.published_at"
CONTRACT_PARAMETER = "ddb_lake.contract"  # the schema contract's URL (see ddb_lake.core.lake.contract_store)

_HIVE_SCALARS = {
    "string": "string",
    "int64": "bigint",
    "float64": "double",
    "bool": "boolean",
    "binary": "binary",
    "decimal_text": "string",
    "json": "string",
    "timestamp_us": "timestamp",
}

# Widenings a Parquet reader in Athena (Trino) and Hive accepts between a partition's files and the table's type.
_WIDENINGS = {
    ("tinyint", "smallint"), ("tinyint", "int"), ("tinyint", "bigint"),
    ("smallint", "int"), ("smallint", "bigint"), ("int", "bigint"),
    ("float", "double"),
}


class SchemaEvolutionError(SchemaError, ValueError):
    """A new snapshot's column cannot be stored in the existing Glue column without losing values."""


def hive_type(lake_type: LakeType) -> str:
    """The Glue/Hive type string of a lake type, e.g. ``array<struct<a:bigint,b:string>>``."""
    if lake_type.kind in _HIVE_SCALARS:
        return _HIVE_SCALARS[lake_type.kind]
    if lake_type.kind == "decimal":
        return f"decimal({lake_type.precision},{lake_type.scale})"
    if lake_type.kind == "list":
        return f"array<{hive_type(lake_type.item)}>"  # type: ignore[arg-type]
    members = ",".join(f"{f.name}:{hive_type(f.type)}" for f in lake_type.fields)
    return f"struct<{members}>"


def column_comment(lake_field: LakeField) -> str:
    """The column comment: the DynamoDB attribute the column holds, and why it is text when it is."""
    comment = f"DynamoDB attribute {lake_field.attribute!r}"
    if lake_field.type.kind == "decimal_text":
        comment += " (number kept as exact decimal text)"
    elif lake_field.type.kind == "json":
        comment += " (kept as JSON text)"
    if lake_field.note:
        comment += f": {lake_field.note}"
    return comment[:255]


def glue_columns(schema: LakeSchema) -> list[dict[str, str]]:
    return [{"Name": f.name, "Type": hive_type(f.type), "Comment": column_comment(f)} for f in schema.fields]


def storage_descriptor(columns: list[dict[str, str]], location: str) -> dict[str, Any]:
    """A Parquet StorageDescriptor; ``location`` gets a trailing slash (Athena reads the prefix as a folder)."""
    return {
        "Columns": columns,
        "Location": folder_url(location),
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "Compressed": False,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
    }


def table_input(
    name: str,
    columns: list[dict[str, str]],
    location: str,
    *,
    partitioned: bool,
    description: str = "",
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """TableInput for CreateTable/UpdateTable: an external Parquet table, partitioned by ``snapshot`` or not."""
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", **(parameters or {})},
        "StorageDescriptor": storage_descriptor(columns, location),
        "PartitionKeys": [{"Name": SNAPSHOT_PARTITION, "Type": "string"}] if partitioned else [],
    }


def partition_input(snapshot: str, columns: list[dict[str, str]], location: str) -> dict[str, Any]:
    """PartitionInput of one snapshot in the ``<table>_snapshots`` table."""
    return {
        "Values": [snapshot],
        "StorageDescriptor": storage_descriptor(columns, location),
        "Parameters": {SNAPSHOT_PARAMETER: snapshot},
    }


def folder_url(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def same_location(left: str, right: str) -> bool:
    return folder_url(left) == folder_url(right)


# ----------------------------------------------------------------------------------------------- schema evolution
def merge_columns(table: str, existing: list[dict[str, Any]], incoming: list[dict[str, Any]],
                  schema: LakeSchema | None = None) -> list[dict[str, Any]]:
    """Existing columns (types widened where the new snapshot needs it) followed by the new snapshot's new columns.

    Columns the new snapshot lacks are kept (Athena reads them as NULL from files that lack them). ``schema`` is the
    new snapshot's lake schema: a column it types ``json`` or ``decimal_text`` (exact text that holds any value, the
    schema contract's widest types) may replace any type; without it a Hive ``string`` is a plain string.
    :raises SchemaEvolutionError: a column's type would narrow or change kind.
    """
    lake_types = {f.name.lower(): f.type for f in schema.fields} if schema is not None else {}
    incoming_by_name = {c["Name"].lower(): c for c in incoming}
    merged = []
    for column in existing:
        key = column["Name"].lower()
        new = incoming_by_name.pop(key, None)
        if new is None:
            merged.append(column)
            continue
        merged_type = widen_type(table, column["Name"], column["Type"], new["Type"], lake_types.get(key))
        merged.append({**column, "Type": merged_type, "Comment": new.get("Comment", column.get("Comment", ""))})
    merged.extend(c for c in incoming if c["Name"].lower() in incoming_by_name)
    return merged


def exact_columns(existing: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new snapshot's columns exactly as its files hold them, then the existing columns it lacks (read as NULL).

    For the table that reads one snapshot (the current table): Athena documents that a Parquet table that is not
    partitioned cannot use a type other than its files' (docs/schema-contract.md).
    """
    names = {c["Name"].lower() for c in incoming}
    return [*incoming, *(c for c in existing if c["Name"].lower() not in names)]


def widen_type(table: str, column: str, old: str, new: str, lake: LakeType | None = None) -> str:
    """The Hive type that holds values of both ``old`` and ``new``; raises when that would narrow ``old``.

    :param lake: the new column's lake type, when known (``json`` / ``decimal_text`` replace any type).
    """
    return _render(_widen(table, column, parse_hive_type(old), parse_hive_type(new), lake))


@dataclass(frozen=True)
class HiveType:
    """A parsed Hive type string: ``name`` (``struct``, ``array``, ``map``, ``decimal`` or a primitive)."""

    name: str
    args: tuple[Any, ...] = ()


_TOKEN = re.compile(r"[<>(),:]|[^<>(),:\s]+")


def parse_hive_type(text: str) -> HiveType:
    """Parse ``struct<a:array<bigint>,b:decimal(10,2)>`` into a :class:`HiveType` tree."""
    tokens = [token.lower() for token in _TOKEN.findall(text)]
    parsed, position = _parse(tokens, 0, text)
    if position != len(tokens):
        raise SchemaEvolutionError(f"cannot parse Hive type {text!r}: unexpected {tokens[position]!r}")
    return parsed


def _parse(tokens: list[str], i: int, text: str) -> tuple[HiveType, int]:
    name = tokens[i]
    if name in ("array", "map"):
        args, i = _parse_list(tokens, i + 2, text, closing=">", named=False)
        return HiveType(name, tuple(args)), i
    if name == "struct":
        members, i = _parse_list(tokens, i + 2, text, closing=">", named=True)
        return HiveType(name, tuple(members)), i
    if name in ("decimal", "varchar", "char") and i + 1 < len(tokens) and tokens[i + 1] == "(":
        numbers, i = _parse_numbers(tokens, i + 2)
        return HiveType(name, tuple(numbers)), i
    return HiveType(name), i + 1


def _parse_list(tokens: list[str], i: int, text: str, *, closing: str, named: bool) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(tokens) and tokens[i] != closing:
        if named:
            member, i = tokens[i], i + 2  # skip "name" ":"
            member_type, i = _parse(tokens, i, text)
            out.append((member, member_type))
        else:
            item_type, i = _parse(tokens, i, text)
            out.append(item_type)
        if i < len(tokens) and tokens[i] == ",":
            i += 1
    if i >= len(tokens):
        raise SchemaEvolutionError(f"cannot parse Hive type {text!r}: missing {closing!r}")
    return out, i + 1


def _parse_numbers(tokens: list[str], i: int) -> tuple[list[int], int]:
    numbers = []
    while tokens[i] != ")":
        if tokens[i] != ",":
            numbers.append(int(tokens[i]))
        i += 1
    return numbers, i + 1


def _render(hive: HiveType) -> str:
    if hive.name == "struct":
        return "struct<" + ",".join(f"{name}:{_render(t)}" for name, t in hive.args) + ">"
    if hive.name in ("array", "map"):
        return f"{hive.name}<" + ",".join(_render(t) for t in hive.args) + ">"
    if hive.args:
        return f"{hive.name}(" + ",".join(str(n) for n in hive.args) + ")"
    return hive.name


_INTEGER_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
TEXT_KINDS = ("json", "decimal_text")  # exact text: holds every value of every type


def covers(wide: HiveType, narrow: HiveType) -> bool:
    """True when every value of the Hive type ``narrow`` is a value of ``wide`` (integers, floats, decimals)."""
    if wide == narrow or (narrow.name, wide.name) in _WIDENINGS:
        return True
    if wide.name == "decimal" and narrow.name in _INTEGER_DIGITS:
        return wide.args[0] - wide.args[1] >= _INTEGER_DIGITS[narrow.name]
    if wide.name == narrow.name == "decimal":
        (precision, scale), (narrow_precision, narrow_scale) = wide.args, narrow.args
        return precision - scale >= narrow_precision - narrow_scale and scale >= narrow_scale
    return False


def _widen(table: str, column: str, old: HiveType, new: HiveType, lake: LakeType | None = None) -> HiveType:
    if covers(old, new):
        return old
    if covers(new, old) or (lake is not None and lake.kind in TEXT_KINDS):
        return new
    if old.name == new.name == "array":
        item = lake.item if lake is not None and lake.kind == "list" else None
        return HiveType("array", (_widen(table, f"{column}[]", old.args[0], new.args[0], item),))
    if old.name == new.name == "struct":
        return _widen_struct(table, column, old, new, lake)
    if old.name == new.name == "decimal":
        _refuse_decimal(table, column, old, new)
    raise SchemaEvolutionError(
        f"Glue table {table!r}, column {column!r}: the new snapshot has type {_render(new)} where the table has "
        f"{_render(old)}; that is not a widening Athena can read across snapshots. {_FIX}"
    )


_FIX = ("The snapshot was converted without the table's schema contract (or with another `numbers` setting): clear "
        "this run's contract and convert tasks so it converts into the contract (a column pinned in the table's YAML "
        "`columns:` must be pinned to a type at least as wide as the table's), or recreate the table.")


def _refuse_decimal(table: str, column: str, old: HiveType, new: HiveType) -> None:
    (old_p, old_s), (new_p, new_s) = old.args, new.args
    scale = max(old_s, new_s)
    precision = max(old_p - old_s, new_p - new_s) + scale
    if precision > 38:
        raise SchemaEvolutionError(
            f"Glue table {table!r}, column {column!r}: decimal({old_p},{old_s}) and decimal({new_p},{new_s}) need "
            f"decimal({precision},{scale}), over Athena's 38 digits. {_FIX}"
        )
    raise SchemaEvolutionError(
        f"Glue table {table!r}, column {column!r}: the new snapshot's decimal({new_p},{new_s}) and the table's "
        f"decimal({old_p},{old_s}) have a different scale ({new_s} vs {old_s}) and neither holds the other's values. "
        f"{_FIX}"
    )


def _widen_struct(table: str, column: str, old: HiveType, new: HiveType, lake: LakeType | None) -> HiveType:
    new_members = dict(new.args)
    lake_members = {f.name: f.type for f in lake.fields} if lake is not None and lake.kind == "struct" else {}
    members = []
    for name, old_type in old.args:
        if name in new_members:
            members.append((name, _widen(table, f"{column}.{name}", old_type, new_members.pop(name),
                                         lake_members.get(name))))
        else:
            members.append((name, old_type))
    members.extend((name, t) for name, t in new.args if name in new_members)
    return HiveType("struct", tuple(members))


# ----------------------------------------------------------------------------------------------- snapshot locations
def snapshot_location(summary: dict[str, Any], bucket: str | None = None) -> tuple[str, str]:
    """``(stamp, s3://bucket/.../<folder>/)`` of a convert task's summary, both taken from it as they are.

    ``snapshot_prefix`` may be a full ``s3://`` URL or a key (then ``bucket`` is needed); it must be the summary's
    own snapshot's folder: an attempt folder ``.../_attempts/snapshot=<stamp>/attempt=<id>/`` (what the DAG's
    convert writes) or a fixed ``.../snapshot=<stamp>/`` (what the CLI writes into a ``DEST`` named so).
    """
    missing = [key for key in ("snapshot", "snapshot_prefix") if not summary.get(key)]
    if missing:
        raise LakeConfigError(f"the convert summary lacks {', '.join(missing)}; got keys {sorted(summary)}")
    prefix = summary["snapshot_prefix"]
    if not prefix.startswith("s3://"):
        if not bucket:
            raise LakeConfigError(f"snapshot_prefix {prefix!r} is a key; pass the lake bucket to build its s3:// URL")
        prefix = f"s3://{bucket}/{prefix.strip('/')}"
    location = folder_url(prefix)
    folder = f"/{SNAPSHOT_PARTITION}={summary['snapshot']}/"
    attempt_parent = location[: location.rstrip("/").rfind("/") + 1]
    in_attempt = attempt_of_location(location) is not None and attempt_parent.endswith(folder)
    if not (location.endswith(folder) or in_attempt):
        raise LakeConfigError(f"snapshot_prefix {location} does not end in {folder.lstrip('/')}")
    return summary["snapshot"], location


def attempt_of_location(location: str) -> str | None:
    """The attempt id of a ``.../_attempts/snapshot=<stamp>/attempt=<id>/`` folder (None for other folders)."""
    return attempt_of_folder(location)


def stamp_of_location(location: str) -> str | None:
    """The stamp of a listed ``.../snapshot=20261122T000000Z/`` folder (None for other folders)."""
    last = location.rstrip("/").rsplit("/", 1)[-1]
    key, _, value = last.partition("=")
    return value if key == SNAPSHOT_PARTITION and value else None


def parent_location(location: str) -> str:
    """The ``<table>_snapshots`` location: the folder holding the ``snapshot=<stamp>/`` folder at ``location``.

    For an attempt folder (``<root>/_attempts/snapshot=<stamp>/attempt=<id>/``) that is ``<root>/`` too: the table
    location stays where the snapshots are, and its partitions point into ``_attempts``.
    """
    if attempt_of_location(location) is not None:
        return folder_url(location).rstrip("/").rsplit("/", 3)[0] + "/"
    parent, marker, _ = folder_url(location).rpartition(f"/{SNAPSHOT_PARTITION}=")
    if not marker:
        raise LakeConfigError(f"{location} is not a {SNAPSHOT_PARTITION}=<stamp>/ folder")
    return parent + "/"


def injected_projection_parameters(snapshots_location: str) -> dict[str, str]:
    """Table parameters for Athena partition projection on ``snapshot`` (type injected): no partitions to add.

    Queries must then filter ``snapshot = '<stamp>'``; Athena computes the location from the template.
    """
    return {
        "projection.enabled": "true",
        f"projection.{SNAPSHOT_PARTITION}.type": "injected",
        "storage.location.template": f"{folder_url(snapshots_location)}{SNAPSHOT_PARTITION}=${{{SNAPSHOT_PARTITION}}}/",
    }
