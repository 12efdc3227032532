"""Athena (engine v3) ``MERGE INTO`` of one window into the Iceberg table: the SQL of the large-table engine
(``iceberg.merge_engine``), run by the merge task instead of the in-worker merge. Same rules: per key the change with
the latest write timestamp wins, REMOVE deletes, any other winner replaces the item. Also: which engine a merge
uses, and the query that finds which of a window's keys the table held before it (docs/iceberg.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ddb_lake.core.config.table_config import MERGE_ENGINES
from ddb_lake.core.iceberg.change_set import REMOVE
from ddb_lake.core.schema.inference import OPERATION_COLUMN, WRITE_TS_COLUMN

RANK_COLUMN = "_ddb_rank"
ROW_COLUMN = "_ddb_row"  # the window table's row number, how the worker names a key Athena found
WORKER, ATHENA, AUTO = "worker", "athena", "auto"
DEFAULT_ATHENA_MIN_ROWS = 50_000_000


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


def existing_keys_sql(database: str, table: str, window_table: str, key_columns: Sequence[str],
                      snapshot_id: int) -> str:
    """The ``_ddb_row`` of each window row whose key the table held at ``snapshot_id`` (the snapshot before the
    merge, by time travel: the same answer when a retry finds the MERGE already run)."""
    on = " AND ".join(f"t.{quoted(k)} = s.{quoted(k)}" for k in key_columns)
    return (f"SELECT s.{quoted(ROW_COLUMN)} FROM {quoted(database)}.{quoted(window_table)} AS s\n"
            f"JOIN {quoted(database)}.{quoted(table)} FOR VERSION AS OF {int(snapshot_id)} AS t ON {on}")


def window_table_name(table: str) -> str:
    """The Glue table over the window a MERGE reads (one per Iceberg table, pointed at each run's window)."""
    return f"{table}_merge_window"


def choose_engine(setting: str, table_rows: int | None, athena_min_rows: int) -> str:
    """``worker`` or ``athena`` for a window merge: the setting, or with ``auto`` Athena from ``athena_min_rows``
    rows on (the table's row count as its last ddb-lake commit recorded it; unknown counts as empty)."""
    if setting not in MERGE_ENGINES:
        raise ValueError(f"merge engine {setting!r}: use one of {', '.join(MERGE_ENGINES)}")
    if setting != AUTO:
        return setting
    return ATHENA if (table_rows or 0) >= athena_min_rows else WORKER
