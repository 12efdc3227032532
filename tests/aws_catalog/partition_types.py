"""Glue partitions against their files: the Hive type of each Parquet column, read from the files themselves.

Written apart from ``ddb_lake.core.lake.glue_table.hive_type`` (which maps the lake schema), so a test comparing the
two catches a partition registered with any type other than its files'.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def arrow_hive_type(kind: pa.DataType) -> str:
    """The Hive type a Parquet reader sees for an Arrow type, members in the file's order."""
    if pa.types.is_struct(kind):
        return "struct<" + ",".join(f"{f.name}:{arrow_hive_type(f.type)}" for f in kind) + ">"
    if pa.types.is_list(kind):
        return f"array<{arrow_hive_type(kind.value_type)}>"
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    names = {pa.int64(): "bigint", pa.string(): "string", pa.large_string(): "string", pa.bool_(): "boolean",
             pa.float64(): "double", pa.binary(): "binary"}
    return names[kind]


def file_columns(s3: Any, location: str) -> list[list[tuple[str, str]]]:
    """``[(column, hive type), ...]`` of every Parquet file under ``location`` (``s3://bucket/prefix/``)."""
    bucket, _, prefix = location[len("s3://"):].partition("/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            if o["Key"].endswith(".parquet")]
    out = []
    for key in sorted(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        schema = pq.read_schema(io.BytesIO(body))
        out.append([(f.name, arrow_hive_type(f.type)) for f in schema])
    return out


def partition_mismatches(glue: Any, s3: Any, database: str, table: str) -> dict[str, Any]:
    """``{snapshot: (Glue partition columns, a file's columns)}`` for every partition whose types differ from a file."""
    partitions = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    assert partitions, f"{database}.{table} has no partitions"
    out = {}
    for partition in partitions:
        descriptor = partition["StorageDescriptor"]
        declared = [(c["Name"], c["Type"]) for c in descriptor["Columns"]]
        files = file_columns(s3, descriptor["Location"])
        assert files, f"no Parquet file under {descriptor['Location']}"
        for found in files:
            if found != declared:
                out[partition["Values"][0]] = (declared, found)
    return out
