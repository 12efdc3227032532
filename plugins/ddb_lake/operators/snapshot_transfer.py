"""Copy one converted snapshot's Parquet files from S3 to GCS (the first half of the BigQuery load)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ddb_lake.compat import AirflowException, BaseOperator, Context
from ddb_lake.hooks.snapshot_transfer import DEFAULT_CHUNK_BYTES, SnapshotTransferHook, summarize


def snapshot_of(context: Context, task_id: str) -> dict[str, Any]:
    """The convert task's summary (files, schema, snapshot) from XCom, or a clear error naming the task."""
    summary = context["ti"].xcom_pull(task_ids=task_id)
    if not isinstance(summary, dict) or not summary.get("files") or not summary.get("snapshot"):
        raise AirflowException(f"task {task_id!r} returned no snapshot summary with files and a snapshot stamp")
    return summary


def staging_prefix(snapshot_prefix: str) -> str:
    """``s3://lake/p/snapshots/orders/snapshot=20261122T000000Z`` -> ``orders/20261122T000000Z``."""
    table, folder = snapshot_prefix.rstrip("/").split("/")[-2:]
    return f"{table}/{folder.split('=', 1)[-1]}"


class SnapshotToGCSOperator(BaseOperator):
    """Stream the snapshot's files to ``gs://<gcs_bucket>/<gcs_prefix>/``; files already there are skipped.

    :param gcs_prefix: defaults to ``<table>/<stamp>`` from the snapshot's S3 prefix. Deliberately no ``key=value``
        folder: the staging copy is read only by the load job, and readers that infer Hive partitions from paths
        (DuckDB, hence the local BigQuery stand-in) would otherwise add a ``snapshot`` column.
    """

    template_fields = ("gcs_bucket", "gcs_prefix", "convert_task_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        gcs_bucket: str,
        gcs_prefix: str | None = None,
        convert_task_id: str = "convert",
        aws_conn_id: str | None = "aws_default",
        gcp_conn_id: str = "google_cloud_default",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gcs_bucket = gcs_bucket
        self.gcs_prefix = gcs_prefix
        self.convert_task_id = convert_task_id
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.chunk_bytes = chunk_bytes

    @cached_property
    def hook(self) -> SnapshotTransferHook:
        return SnapshotTransferHook(self.aws_conn_id, self.gcp_conn_id, self.chunk_bytes)

    def execute(self, context: Context) -> dict[str, Any]:
        summary = snapshot_of(context, self.convert_task_id)
        source_prefix = summary["snapshot_prefix"]
        prefix = self.gcs_prefix or staging_prefix(source_prefix)
        results = self.hook.copy_files([f["path"] for f in summary["files"]], self.gcs_bucket, prefix, source_prefix)
        out = summarize(results)
        self.log.info(
            "Snapshot %s: %s file(s) copied (%s bytes), %s already in gs://%s/%s",
            summary["snapshot"],
            out["copied"],
            out["bytes_copied"],
            out["skipped"],
            self.gcs_bucket,
            prefix,
        )
        return {**out, "gcs_bucket": self.gcs_bucket, "gcs_prefix": prefix, "snapshot": summary["snapshot"]}
