"""BigQuery SQL of the CDC apply (docs/cdc.md, "BigQuery"): one transaction that applies a staged micro-batch with
MERGE and records BigQuery's position in the same commit. Pure: imports no Airflow.

The staging table holds the table's columns plus ``_ddb_lake_deleted`` (TRUE: the key's last change was a REMOVE,
only its key columns are set). One row per key (the reduction's winner), so the MERGE never matches a target row
twice. A reload first deletes every row, then the same MERGE inserts the whole current table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DELETED_COLUMN = "_ddb_lake_deleted"
STATE_SUFFIX = "__ddb_lake_cdc"
STAGE_SUFFIX = "__cdc_stage"
STATE_FIELDS: list[dict[str, Any]] = [
    {"name": "iceberg_snapshot_id", "type": "INT64", "mode": "REQUIRED",
     "description": "the Iceberg snapshot BigQuery holds (its rows equal that snapshot's)"},
    {"name": "position", "type": "STRING", "mode": "NULLABLE", "description": "the last change file applied"},
    {"name": "watermark", "type": "TIMESTAMP", "mode": "NULLABLE", "description": "the Iceberg table's watermark"},
    {"name": "action", "type": "STRING", "mode": "NULLABLE", "description": "changes or reload"},
    {"name": "keys", "type": "INT64", "mode": "NULLABLE", "description": "keys the apply upserted or deleted"},
    {"name": "applied_at", "type": "TIMESTAMP", "mode": "NULLABLE", "description": "when the transaction ran"},
]
"""The one-row table ``<table>__ddb_lake_cdc`` beside the destination: BigQuery's own CDC position."""


def quoted(name: str) -> str:
    return f"`{name}`"


def string_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def apply_sql(target: str, staging: str, state: str, columns: Sequence[str], keys: Sequence[str], *,
              snapshot_id: int, position: str, watermark: str, action: str, key_count: int,
              replace: bool = False) -> str:
    """The transaction: (``replace``: delete every row,) MERGE the staged rows on ``keys``, rewrite the state row.

    ``target``, ``staging`` and ``state`` are fully qualified ``project.dataset.table`` names.
    """
    on = " AND ".join(f"T.{quoted(k)} = S.{quoted(k)}" for k in keys)
    values = [c for c in columns if c not in keys]
    update = ", ".join(f"{quoted(c)} = S.{quoted(c)}" for c in values)
    matched = f"WHEN MATCHED THEN UPDATE SET {update}\n" if update else ""
    names = ", ".join(quoted(c) for c in columns)
    inserted = ", ".join(f"S.{quoted(c)}" for c in columns)
    clear = f"DELETE FROM `{target}` WHERE TRUE;\n" if replace else ""
    return (
        "BEGIN TRANSACTION;\n"
        f"{clear}"
        f"MERGE `{target}` T USING `{staging}` S ON {on}\n"
        f"WHEN MATCHED AND S.{DELETED_COLUMN} THEN DELETE\n"
        f"{matched}"
        f"WHEN NOT MATCHED AND NOT S.{DELETED_COLUMN} THEN INSERT ({names}) VALUES ({inserted});\n"
        f"DELETE FROM `{state}` WHERE TRUE;\n"
        f"INSERT INTO `{state}` (iceberg_snapshot_id, position, watermark, action, keys, applied_at) VALUES "
        f"({int(snapshot_id)}, {string_literal(position)}, TIMESTAMP {string_literal(watermark)}, "
        f"{string_literal(action)}, {int(key_count)}, CURRENT_TIMESTAMP());\n"
        "COMMIT TRANSACTION;"
    )


def state_sql(state: str) -> str:
    return f"SELECT iceberg_snapshot_id, position FROM `{state}` LIMIT 1"
