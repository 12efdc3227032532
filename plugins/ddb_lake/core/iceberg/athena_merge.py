"""Athena (engine v3) ``MERGE INTO`` of one converted window into the Iceberg table: the SQL a large-table engine
runs instead of the in-worker merge. Same rules: per key the change with the latest write timestamp wins, REMOVE
deletes, any other winner replaces the item. Not wired into a DAG yet (docs/iceberg.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ddb_lake.core.iceberg.change_set import REMOVE
from ddb_lake.core.schema.inference import OPERATION_COLUMN, WRITE_TS_COLUMN

RANK_COLUMN = "_ddb_rank"


def quoted(name: str) -> str:
    """An identifier in double quotes (embedded quotes doubled), as Athena/Trino SQL writes it."""
    return '"' + name.replace('"', '""') + '"'


def merge_into_sql(database: str, table: str, changes_table: str, columns: Sequence[str],
                   key_columns: Sequence[str]) -> str:
    """``MERGE INTO database.table`` from the change-set table ``database.changes_table`` (a Glue table over the
    converted window: ``_ddb_operation``, ``_ddb_write_ts`` and ``columns``)."""
    missing = [k for k in key_columns if k not in columns]
    if missing:
        raise ValueError(f"key column(s) {missing} are not among the columns {list(columns)}")
    keys = ", ".join(quoted(k) for k in key_columns)
    on = " AND ".join(f"t.{quoted(k)} = s.{quoted(k)}" for k in key_columns)
    updates = ", ".join(f"{quoted(c)} = s.{quoted(c)}" for c in columns if c not in key_columns)
    names = ", ".join(quoted(c) for c in columns)
    values = ", ".join(f"s.{quoted(c)}" for c in columns)
    op, ts, rank = quoted(OPERATION_COLUMN), quoted(WRITE_TS_COLUMN), quoted(RANK_COLUMN)
    update = f"WHEN MATCHED THEN UPDATE SET {updates}\n" if updates else ""
    return (
        f"MERGE INTO {quoted(database)}.{quoted(table)} AS t\n"
        f"USING (\n"
        f"  SELECT * FROM (\n"
        f"    SELECT c.*, row_number() OVER (PARTITION BY {keys} ORDER BY {ts} DESC) AS {rank}\n"
        f"    FROM {quoted(database)}.{quoted(changes_table)} AS c\n"
        f"  ) WHERE {rank} = 1\n"
        f") AS s\n"
        f"ON {on}\n"
        f"WHEN MATCHED AND s.{op} = '{REMOVE}' THEN DELETE\n"
        f"{update}"
        f"WHEN NOT MATCHED AND s.{op} <> '{REMOVE}' THEN INSERT ({names}) VALUES ({values})"
    )
