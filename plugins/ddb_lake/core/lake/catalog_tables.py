"""The lake's two Glue tables per DynamoDB table: their names, descriptions and TableInputs, and catalog comparisons.

``<table>_snapshots`` holds one partition per snapshot; the current table (``<table>``) reads the published one.
Pure: builds and compares the dictionaries Glue takes and returns.
"""

from __future__ import annotations

from typing import Any

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.lake.glue_table import (
    CONTRACT_PARAMETER,
    PUBLISHED_AT_PARAMETER,
    SNAPSHOT_PARAMETER,
    exact_columns,
    glue_columns,
    injected_projection_parameters,
    merge_columns,
    table_input,
)
from ddb_lake.core.schema.lake_schema import LakeSchema

LAKE_DATABASE_DESCRIPTION = "ddb-lake: DynamoDB tables mirrored as Parquet"


def snapshots_table_name(table_name: str, snapshots_table: str | None = None) -> str:
    """The Glue table with one partition per snapshot: ``snapshots_table``, default ``<table_name>_snapshots``."""
    return (snapshots_table or f"{table_name}_snapshots").lower()


def current_table_name(table_name: str, current_table: str | None = None) -> str:
    """The Glue table that reads the published snapshot: ``current_table``, default the table's own name."""
    return (current_table or table_name).lower()


def snapshots_table_input(
    name: str, table_name: str, schema: LakeSchema, location: str, *, projection: bool = False
) -> dict[str, Any]:
    """TableInput of ``<table>_snapshots`` at ``location`` (the folder holding the ``snapshot=`` folders)."""
    return table_input(
        name, glue_columns(schema), location, partitioned=True,
        description=f"Every published snapshot of DynamoDB table {table_name}, one partition per snapshot",
        parameters=injected_projection_parameters(location) if projection else {},
    )


def current_table_input(
    name: str, table_name: str, schema: LakeSchema, location: str, *, snapshot: str, published_at: str,
    contract: str | None = None,
) -> dict[str, Any]:
    """TableInput of the current table reading the snapshot at ``location``, stamped with its snapshot and time.

    :param contract: URL of the schema contract published with the snapshot (``core.lake.contract_store``).
    """
    contract_parameter = {CONTRACT_PARAMETER: contract} if contract else {}
    return table_input(
        name, glue_columns(schema), location, partitioned=False,
        description=f"Current snapshot of DynamoDB table {table_name} (switched by ddb-lake on publish)",
        parameters={SNAPSHOT_PARAMETER: snapshot, PUBLISHED_AT_PARAMETER: published_at, **contract_parameter},
    )


def partition_action(outcome: dict[str, list]) -> str:
    """``created``, ``existing``, ``moved`` or ``retyped`` (an ``add_partitions`` outcome); ``projected``: none."""
    return next((action for action, values in outcome.items() if values), "projected")


def evolved_table_input(database: str, existing: dict[str, Any], wanted: dict[str, Any],
                        schema: LakeSchema | None = None) -> dict[str, Any]:
    """``wanted`` with the existing table's columns evolved to hold the new ones, and its other parameters kept.

    A partitioned table (``<table>_snapshots``) keeps the widest type of each column (``merge_columns``; ``schema``
    is the new snapshot's lake schema); each partition keeps its own files' types. A table that is not partitioned
    (the current table) takes the new snapshot's types exactly (``exact_columns``): it reads only those files.
    :raises SchemaError: the partition keys differ; :class:`SchemaEvolutionError`: a column would narrow.
    """
    table = f"{database}.{wanted['Name']}"
    if [k["Name"] for k in existing.get("PartitionKeys", [])] != [k["Name"] for k in wanted["PartitionKeys"]]:
        raise SchemaError(
            f"Glue table {table} has partition keys {existing.get('PartitionKeys')} but ddb-lake needs "
            f"{wanted['PartitionKeys']}; drop the table (its data stays in S3) and rerun to recreate it."
        )
    old_columns = existing["StorageDescriptor"].get("Columns", [])
    new_columns = wanted["StorageDescriptor"]["Columns"]
    columns = (merge_columns(table, old_columns, new_columns, schema) if wanted["PartitionKeys"]
               else exact_columns(old_columns, new_columns))
    return {
        **wanted,
        "Parameters": {**existing.get("Parameters", {}), **wanted.get("Parameters", {})},
        "StorageDescriptor": {**wanted["StorageDescriptor"], "Columns": columns},
    }


def catalog_holds(actual: Any, wanted: Any) -> bool:
    """True when every key ddb-lake sets in ``wanted`` has that value in ``actual`` (Glue adds keys of its own)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        return all(catalog_holds(actual.get(key, _MISSING_BY_DEFAULT.get(key)), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(map(catalog_holds, actual, wanted))
    return actual == wanted


# What Glue leaves out of GetTable when ddb-lake set the empty value.
_MISSING_BY_DEFAULT: dict[str, Any] = {"Description": "", "PartitionKeys": [], "Compressed": False, "Comment": ""}
