"""The BigQuery mirror of an Iceberg current-state table: the validated snapshot as Parquet (``snapshot``), and the
check of the staged copy against that snapshot (``validate``). Transfer, staged load and publish are the BigQuery
destination's own operators; the rules are in ``core.iceberg.bigquery_mirror`` (docs/iceberg.md, "BigQuery mirror").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import BaseOperator, Context
from ddb_lake.core.errors import NotFoundError, ValidationFailedError
from ddb_lake.core.export.rules import to_datetime
from ddb_lake.core.iceberg.arithmetic import KeyTotals
from ddb_lake.core.iceberg.bigquery_mirror import check_mirror, mirror_folders
from ddb_lake.core.iceberg.schema_rules import KEY_COLUMNS_PROPERTY
from ddb_lake.core.iceberg.watermark import WATERMARK
from ddb_lake.core.lake.layout import utc_stamp
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.destinations.bigquery.destination import BigQuery
from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook
from ddb_lake.hooks.iceberg_snapshot_files import write_snapshot_parquet
from ddb_lake.operators.base import ClassifiedErrors


class IcebergSnapshotParquetOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    """Write the snapshot ``validate`` accepted as Parquet in the table's LakeSchema types; return a snapshot summary
    the BigQuery transfer and load tasks take (``snapshot`` is the snapshot's watermark stamp), plus ``gcs_prefix``,
    ``interval_end`` (the watermark), ``iceberg_snapshot_id``, and the validated ``rows``/``key_checksum``."""

    template_fields: Sequence[str] = ("validation", "changes_url")
    ui_color = "#e8f0fe"
    aws_hook_class = IcebergCatalogHook

    def __init__(self, *, database: str, table_name: str, lake_table: str, validation: Any, changes_url: Any,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name, self.lake_table = database, table_name, lake_table
        self.validation, self.changes_url = validation, changes_url

    def execute(self, context: Context) -> dict[str, Any]:
        name = f"{self.database}.{self.table_name}"
        table = self.hook.load_table(self.database, self.table_name)
        snapshot_id = int(self.validation["snapshot_id"])
        snapshot = table.snapshot_by_id(snapshot_id) if table is not None else None
        if snapshot is None:
            raise NotFoundError(f"Iceberg table {name} has no snapshot {snapshot_id} (validated by this run): "
                                "rerun the run from its merge task")
        watermark = to_datetime(snapshot.summary.additional_properties.get(WATERMARK)
                                or engine.committed_state(table).watermark)
        stamp = utc_stamp(watermark)
        schema = engine.stored_schema(table)
        assert schema is not None  # every table ddb-lake creates carries its LakeSchema
        folder, gcs_prefix = mirror_folders(self.changes_url, self.lake_table, stamp, snapshot_id)
        files = write_snapshot_parquet(table, snapshot_id, schema, folder)
        self.log.info("Iceberg table %s snapshot %s: %s rows in %s Parquet file(s) under %s", name, snapshot_id,
                      sum(f["rows"] for f in files), len(files), folder)
        return {"snapshot": stamp, "snapshot_prefix": f"{folder}/", "files": files, "schema": schema.to_json(),
                "table_name": self.lake_table, "gcs_prefix": gcs_prefix, "interval_end": watermark.isoformat(),
                "iceberg_table": name, "iceberg_snapshot_id": snapshot_id, "rows": int(self.validation["rows"]),
                "key_checksum": str(self.validation["key_checksum"]),
                "key_columns": table.metadata.properties[KEY_COLUMNS_PROPERTY].split(",")}


class BigQueryMirrorValidationOperator(ClassifiedErrors, BaseOperator):
    """Compare the staging table's row count and key checksum with the Iceberg snapshot's (as ``validate`` measured
    them). A mismatch drops the staging table and fails terminally: publish does not run, BigQuery keeps its rows."""

    template_fields: Sequence[str] = ("snapshot", "load")
    ui_color = "#c3e6cb"

    def __init__(self, *, snapshot: Any, load: Any, gcp_conn_id: str = "google_cloud_default",
                 location: str | None = None, api_deadline: float = DEFAULT_API_DEADLINE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snapshot, self.load = snapshot, load
        self.gcp_conn_id, self.location, self.api_deadline = gcp_conn_id, location, api_deadline

    @cached_property
    def destination(self) -> BigQuery:
        return BigQuery({"gcp_conn_id": self.gcp_conn_id, "location": self.location,
                         "api_deadline": self.api_deadline})

    def execute(self, context: Context) -> dict[str, Any]:
        snap, load = self.snapshot, self.load
        schema = LakeSchema.from_json(snap["schema"])
        rows, checksum = self.destination.key_checksum(load, snap["key_columns"], schema)
        expected = KeyTotals(int(snap["rows"]), int(snap["key_checksum"]))
        staging = f"{load['dataset']}.{load['staging_table']}"
        try:
            verdict = check_mirror(snap["iceberg_table"], snap["iceberg_snapshot_id"], staging, expected,
                                   KeyTotals(rows, checksum))
        except ValidationFailedError:
            self.destination.hook.delete_table(load["project_id"], load["dataset"], load["staging_table"])
            raise
        self.log.info("%s", verdict)
        return {"ok": True, "rows": rows, "key_checksum": str(checksum), "report_text": verdict,
                "day": date.fromisoformat(load["day"]).isoformat()}
