"""Copy one converted snapshot's Parquet files from S3 to GCS (the first half of the BigQuery load)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ddb_lake.compat import BaseOperator, Context
from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.errors import ConfigError
from ddb_lake.core.validation.snapshot_summary import snapshot_summary
from ddb_lake.destinations.bigquery.destination import NAME
from ddb_lake.destinations.bigquery.storage_transfer_hook import DEFAULT_POLL_SECONDS, StorageTransferHook
from ddb_lake.destinations.bigquery.transfer_hook import (
    DEFAULT_CHUNK_BYTES,
    SnapshotTransferHook,
    destination_name,
    summarize,
)
from ddb_lake.destinations.bigquery.transfer_job import (
    operation_counters,
    transfer_job,
    transfer_job_name,
    transfer_method_for,
    transfer_spec,
)
from ddb_lake.operators.base import ClassifiedErrors

DEFAULT_STORAGE_TRANSFER_THRESHOLD_BYTES = 5 * 1024**3
DEFAULT_STORAGE_TRANSFER_TIMEOUT_SECONDS = 6 * 3600.0


class SnapshotToGCSOperator(ClassifiedErrors, BaseOperator):
    """Copy the snapshot's files to ``gs://<gcs_bucket>/<gcs_prefix>/``; files already there are skipped.

    The result (counts, bytes, each file's ``gs://`` URI and crc32c) names its destination (``"bigquery"``) for the
    run report.

    :param snapshot: the convert task's summary (``files``, ``snapshot``, ``snapshot_prefix``), e.g. ``convert.output``.
    :param gcs_prefix: the run plan's ``gcs_staging_prefix`` (``<table>/<stamp>``). Deliberately no ``key=value``
        folder: the staging copy is read only by the load job, and readers that infer Hive partitions from paths
        (DuckDB, hence the local BigQuery stand-in) would otherwise add a ``snapshot`` column.
    :param transfer_method: ``stream`` (through this worker, bounded memory), ``storage_transfer`` (a Storage
        Transfer Service job copies S3 -> GCS; the worker only waits), or ``auto`` (Storage Transfer Service when the
        snapshot's files add up to more than ``storage_transfer_threshold_bytes``).
    :param storage_transfer_role_arn: AWS role the service agent assumes (federated); without it, the AWS
        connection's long-lived access key is put in the job.
    :param project_id: project owning the transfer job; defaults to the Google connection's.
    :param storage_transfer_endpoint: another API endpoint (Private Service Connect, or a local stand-in).
    """

    template_fields = (
        "snapshot",
        "gcs_bucket",
        "gcs_prefix",
        "transfer_method",
        "storage_transfer_role_arn",
        "project_id",
    )
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        snapshot: dict[str, Any],
        gcs_bucket: str,
        gcs_prefix: str,
        transfer_method: str = "stream",
        storage_transfer_threshold_bytes: int = DEFAULT_STORAGE_TRANSFER_THRESHOLD_BYTES,
        storage_transfer_role_arn: str | None = None,
        storage_transfer_timeout: float = DEFAULT_STORAGE_TRANSFER_TIMEOUT_SECONDS,
        storage_transfer_poll_seconds: float = DEFAULT_POLL_SECONDS,
        storage_transfer_endpoint: str | None = None,
        project_id: str | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        aws_conn_id: str | None = "aws_default",
        gcp_conn_id: str = "google_cloud_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.gcs_bucket = gcs_bucket
        self.gcs_prefix = gcs_prefix
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.chunk_bytes = chunk_bytes
        self.transfer_method = transfer_method
        self.storage_transfer_threshold_bytes = storage_transfer_threshold_bytes
        self.storage_transfer_role_arn = storage_transfer_role_arn
        self.storage_transfer_timeout = storage_transfer_timeout
        self.storage_transfer_poll_seconds = storage_transfer_poll_seconds
        self.storage_transfer_endpoint = storage_transfer_endpoint
        self.project_id = project_id

    @cached_property
    def hook(self) -> SnapshotTransferHook:
        return SnapshotTransferHook(self.aws_conn_id, self.gcp_conn_id, self.chunk_bytes)

    @cached_property
    def storage_transfer_hook(self) -> StorageTransferHook:
        return StorageTransferHook(
            self.gcp_conn_id, self.aws_conn_id, self.storage_transfer_endpoint, self.storage_transfer_poll_seconds
        )

    def execute(self, context: Context) -> dict[str, Any]:
        summary, prefix = snapshot_summary(self.snapshot, "files", "snapshot", "snapshot_prefix"), self.gcs_prefix
        total_bytes = sum(int(f["bytes"]) for f in summary["files"])
        try:
            method = transfer_method_for(self.transfer_method, total_bytes, self.storage_transfer_threshold_bytes)
        except ValueError as exc:
            raise ConfigError(f"task {self.task_id!r}: {exc}") from exc
        self.log.info(
            "Snapshot %s: %s bytes in %s file(s) -> %s", summary["snapshot"], total_bytes, len(summary["files"]), method
        )
        if method == "storage_transfer":
            out = self.run_storage_transfer(context, summary, prefix)
        else:
            out = summarize(
                self.hook.copy_files(
                    [f["path"] for f in summary["files"]], self.gcs_bucket, prefix, summary["snapshot_prefix"]
                )
            )
        self.log.info(
            "Snapshot %s: %s file(s) copied (%s bytes), %s already in gs://%s/%s",
            summary["snapshot"],
            out["copied"],
            out["bytes_copied"],
            out["skipped"],
            self.gcs_bucket,
            prefix,
        )
        return {
            **out,
            "destination": NAME,
            "transfer_method": method,
            "gcs_bucket": self.gcs_bucket,
            "gcs_prefix": prefix,
            "snapshot": summary["snapshot"],
        }

    def run_storage_transfer(self, context: Context, summary: dict[str, Any], prefix: str) -> dict[str, Any]:
        """One Storage Transfer Service job for the snapshot, then every file checked in GCS (size, crc32c)."""
        job_for = self.transfer_job_factory(context["ti"].dag_id, summary, prefix)
        run = self.storage_transfer_hook.run_snapshot_job(job_for, self.storage_transfer_timeout)
        files = self.hook.verify_copies(
            summary["files"], self.gcs_bucket, prefix, summary["snapshot_prefix"], "storage_transfer"
        )
        counters = operation_counters(run.operation)
        return {
            **summarize(files),
            "copied": counters.get("objectsCopiedToSink", 0),
            "skipped": counters.get("objectsFromSourceSkippedBySync", 0),
            "bytes_copied": counters.get("bytesCopiedToSink", 0),
            "storage_transfer": {
                "job_name": run.job_name,
                "operation_name": run.operation["name"],
                "how": run.how,
                "counters": counters,
            },
        }

    def transfer_job_factory(self, dag_id: str, summary: dict[str, Any], prefix: str) -> Any:
        """``generation -> transferJobs.create body`` for this snapshot (the spec is built once, credentials too)."""
        source_prefix = summary["snapshot_prefix"]
        s3_bucket, s3_path = split_url(source_prefix.rstrip("/") + "/", "s3")
        relative_names = [destination_name(f["path"], source_prefix, "") for f in summary["files"]]
        project_id = self.project_id or self.storage_transfer_hook.project_id
        if not project_id:
            raise ConfigError(
                f"task {self.task_id!r}: no project for the transfer job; set project_id or the project of "
                f"connection {self.gcp_conn_id!r}"
            )
        role_arn = self.storage_transfer_role_arn or None
        spec = transfer_spec(
            s3_bucket=s3_bucket,
            s3_path=s3_path,
            gcs_bucket=self.gcs_bucket,
            gcs_path=prefix,
            relative_names=relative_names,
            role_arn=role_arn,
            aws_access_key=None if role_arn else self.storage_transfer_hook.aws_access_key(),
        )
        table, snapshot = snapshot_summary(summary, "table_name")["table_name"], summary["snapshot"]
        identity = f"s3://{s3_bucket}/{s3_path} -> gs://{self.gcs_bucket}/{prefix.strip('/')}/"
        description = f"ddb-lake {dag_id}: {table} snapshot {snapshot}, {identity}"

        def job_for(generation: int) -> dict[str, Any]:
            name = transfer_job_name(dag_id, table, snapshot, identity, generation)
            return transfer_job(project_id=project_id, job_name=name, description=description, spec=spec)

        return job_for
