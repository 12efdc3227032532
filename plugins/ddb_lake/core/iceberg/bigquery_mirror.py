"""Rules of the BigQuery mirror of an Iceberg current-state table (docs/iceberg.md, "BigQuery mirror").

After ``validate`` accepted a committed snapshot, its rows are written as Parquet, staged to GCS, loaded into a
BigQuery staging table, checked against the snapshot's row count and key checksum, and copied over the whole
``latest`` table. Pure: imports no Airflow, no pyiceberg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ddb_lake.core.errors import ValidationFailedError

if TYPE_CHECKING:  # the YAML check imports this module: no pyarrow at DAG parse time
    from ddb_lake.core.iceberg.arithmetic import KeyTotals

MIRROR_LAYOUT = "latest"
"""The only BigQuery layout a mirror writes: one table holding the current state, replaced whole at each publish."""


def mirror_layout_problem(lake_format: str, layout: str) -> str | None:
    """``bigquery.layout`` of a ``lake.format: iceberg`` table must be ``latest`` (the mirror replaces one table)."""
    if lake_format != "iceberg" or layout == MIRROR_LAYOUT:
        return None
    return (f"{layout!r} is refused with lake.format: iceberg: BigQuery mirrors the Iceberg current-state table into "
            "one table replaced whole at each run, not dated partitions or shards. Set bigquery.layout: latest")


def mirror_folders(changes_url: str, lake_table: str, stamp: str, snapshot_id: int) -> tuple[str, str]:
    """(S3 folder of the snapshot's Parquet files, GCS staging prefix) for one Iceberg snapshot.

    The S3 folder lies under the window's change set (``<changes_url>/bigquery/snapshot_id=<id>``), so the lake's
    ``retention.changes_days`` lifecycle rule removes it; the GCS prefix lies under ``<lake table>/`` (the staging
    lifecycle rule's root) and names the snapshot id, so a window merged again (a new snapshot, the same watermark)
    never finds an older snapshot's files there and skips them as already copied.
    """
    return (f"{changes_url.rstrip('/')}/bigquery/snapshot_id={snapshot_id}",
            f"{lake_table.strip('/')}/{stamp}-{snapshot_id}")


def check_mirror(iceberg_table: str, snapshot_id: int, bigquery_table: str, expected: KeyTotals,
                 actual: KeyTotals) -> str:
    """The verdict line; :class:`ValidationFailedError` when the staged copy differs from the Iceberg snapshot."""
    line = (f"BigQuery staging table {bigquery_table}: {actual.rows} rows, key checksum {actual.checksum}; Iceberg "
            f"table {iceberg_table} snapshot {snapshot_id}: {expected.rows} rows, key checksum {expected.checksum}")
    if actual != expected:
        raise ValidationFailedError(
            f"{line}: MISMATCH ({actual.rows - expected.rows:+d} rows). Nothing was published: BigQuery keeps its "
            "previous rows and the staging table is dropped. Rerun the bigquery tasks of the run after checking the "
            "staged Parquet files and the load job")
    return f"{line}: match"
