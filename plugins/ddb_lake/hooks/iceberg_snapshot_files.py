"""One Iceberg snapshot's rows as Parquet files in the converter's types: what the BigQuery mirror stages and loads.

The snapshot is scanned with pyiceberg (position deletes applied), each batch cast to the table's LakeSchema in Arrow
(``LakeSchema.to_arrow``: the types and field metadata the converter writes, so the BigQuery schema is
``destinations.bigquery.schema.bigquery_fields`` of the same LakeSchema) and written with the table's FileIO.
Imports no Airflow.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.schema.lake_schema import LakeSchema

ROWS_PER_FILE = 1_000_000
ROW_GROUP_ROWS = 100_000
COMPRESSION = "zstd"


def conformed_rows(batch: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    """``batch`` with exactly ``schema``'s columns and types (a column the snapshot predates is all nulls)."""
    columns = [batch.column(batch.schema.get_field_index(f.name)).cast(f.type)
               if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def write_snapshot_parquet(table: Any, snapshot_id: int, schema: LakeSchema, folder_url: str,
                           rows_per_file: int = ROWS_PER_FILE) -> list[dict[str, Any]]:
    """Write snapshot ``snapshot_id`` of ``table`` under ``folder_url`` as ``part-NNNNN.parquet``; the files written
    (``path``, ``bytes``, ``rows``), at least one (an empty table gives one empty file, as the converter does)."""
    arrow = schema.to_arrow()
    files: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    stream: Any = None

    def close() -> None:
        nonlocal writer, stream
        if writer is not None:
            writer.close()
            stream.close()
            files[-1]["bytes"] = len(table.io.new_input(files[-1]["path"]))
        writer = stream = None

    def open_next() -> None:
        nonlocal writer, stream
        path = f"{folder_url.rstrip('/')}/part-{len(files):05d}.parquet"
        stream = table.io.new_output(path).create(overwrite=True)
        writer = pq.ParquetWriter(stream, arrow, compression=COMPRESSION)
        files.append({"path": path, "rows": 0})

    for batch in table.scan(snapshot_id=snapshot_id).to_arrow_batch_reader():
        rows = conformed_rows(batch, arrow)
        while rows.num_rows:
            if writer is None or files[-1]["rows"] >= rows_per_file:
                close()
                open_next()
            take = rows.slice(0, rows_per_file - files[-1]["rows"])
            writer.write_table(take, row_group_size=ROW_GROUP_ROWS)
            files[-1]["rows"] += take.num_rows
            rows = rows.slice(take.num_rows)
    if writer is None:
        open_next()
        writer.write_table(arrow.empty_table())
    close()
    return files
