"""BigQuery's SQL for proving a loaded snapshot: its exact ``COUNT(*)`` and the key checksum over its key columns.

The key checksum is the lake's contract (``ddb_lake.core.validation.row_counts.key_hash``) written in BigQuery SQL:
each key's text as ``key_text`` writes it, the first 8 hex digits of its MD5 as an INT64, summed. Pure: no Airflow.
"""

from __future__ import annotations

from collections.abc import Sequence

from ddb_lake.core.validation.row_counts import KEY_HASH_HEX_DIGITS, KEY_SEPARATOR

_DECIMAL_TEXT_SQL = (
    "IF(STRPOS(CAST({col} AS STRING), '.') > 0, RTRIM(RTRIM(CAST({col} AS STRING), '0'), '.'), "
    "CAST({col} AS STRING))"
)
"""A NUMERIC/BIGNUMERIC key as ``row_counts.decimal_text`` writes it: BigQuery already drops trailing fractional
zeros; stripping them again keeps the text the same on engines that keep the column's scale (bqemulator's DuckDB)."""
_KEY_TEXT_SQL = {
    "STRING": "{col}",
    "INT64": "CAST({col} AS STRING)",
    "INTEGER": "CAST({col} AS STRING)",
    "NUMERIC": _DECIMAL_TEXT_SQL,
    "BIGNUMERIC": _DECIMAL_TEXT_SQL,
    "BYTES": "TO_HEX({col})",
    "BOOL": "CAST({col} AS STRING)",
    "BOOLEAN": "CAST({col} AS STRING)",
}


def count_sql(qualified_table: str, where: str = "") -> str:
    """``SELECT COUNT(*)`` of one snapshot: exact, and answered from metadata (no bytes billed) on BigQuery."""
    return f"SELECT COUNT(*) AS row_count FROM {qualified_table}" + (f" WHERE {where}" if where else "")


def key_checksum_sql(qualified_table: str, key_columns: Sequence[tuple[str, str]], where: str = "") -> str:
    """Rows and the sum of key hashes, the same numbers ``key_checksum_of_batches`` computes from Parquet.

    ``key_columns`` are (column, BigQuery type). DynamoDB keys are S, N or B, so a key column is STRING (S, and N as
    exact decimal text), INT64, NUMERIC or BIGNUMERIC (N) or BYTES (B); each becomes ``key_part_text``'s text.
    """
    parts = []
    for column, bq_type in key_columns:
        template = _KEY_TEXT_SQL.get(bq_type.upper())
        if template is None:
            raise ValueError(
                f"key column {column!r} is {bq_type}; key checksums take STRING, INT64, NUMERIC, BIGNUMERIC, BYTES, "
                "BOOL (a FLOAT64 key comes from numbers='float', whose values are not exact: convert with "
                "numbers='exact' to check keys)")
        parts.append(f"COALESCE({template.format(col=f'`{column}`')}, '')")
    text = parts[0] if len(parts) == 1 else "CONCAT(" + f", '{KEY_SEPARATOR}', ".join(parts) + ")"
    hashed = f"CAST(CONCAT('0x', SUBSTR(TO_HEX(MD5({text})), 1, {KEY_HASH_HEX_DIGITS})) AS INT64)"
    sql = f"SELECT COUNT(*) AS row_count, COALESCE(SUM({hashed}), 0) AS key_sum FROM {qualified_table}"
    return sql + (f" WHERE {where}" if where else "")
