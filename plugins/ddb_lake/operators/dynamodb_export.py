"""Start (or reattach to) a DynamoDB point-in-time export of one data interval, wait for it, report where it landed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from botocore.exceptions import ClientError, WaiterError

from ddb_lake.compat import Context, data_interval_of
from ddb_lake.core.errors import ConfigError, NotFoundError
from ddb_lake.core.export import lookup
from ddb_lake.core.export.failures import (
    COMPLETED,
    LIVE_STATUSES,
    raise_for_export_event,
    raise_if_failed,
    start_error,
    still_running_error,
)
from ddb_lake.core.export.folders import export_folder, listing_root
from ddb_lake.core.export.pitr import check_recovery_window
from ddb_lake.core.export.rules import (
    EXPORT_VIEW_TYPES,
    FULL_EXPORT,
    client_token,
    export_window,
    normalize_export_type,
    to_datetime,
)
from ddb_lake.core.export.waiting import MAX_SERVER_ERRORS
from ddb_lake.hooks._aws_connection import same_connection
from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook, key_schema_of
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.links import DynamoDBExportLink, S3ExportFolderLink
from ddb_lake.operators.base import ClassifiedErrors, keep_a_retry_for_deferral
from ddb_lake.triggers.dynamodb_export import DynamoDBExportTrigger


def _unset(value: Any) -> bool:
    return value in (None, "")


class DynamoDBExportOperator(ClassifiedErrors, AwsBaseOperator[DynamoDBExportHook]):
    """Export one DynamoDB table to S3 for the run's data interval; retries reattach, never start a second export.

    Full export: a snapshot at ``export_time`` (default: the data interval end). Incremental export: the changes in
    [``window_start``, ``export_time``) (default: the data interval), 15 minutes to 24 hours long.

    :param s3_prefix: the export's ``S3Prefix``, one per (table, type, interval): the run plan's ``export_prefix``.
        The operator writes ``_ddb_lake_export.json`` there (attempt, ClientToken, ARN); a retry reattaches by it.
    :param check_recovery_window: compare the requested times with the table's PITR window before exporting (default).
        DynamoDB rejects out-of-window times itself; switching this off only moves that rejection to the export call.
        Meant for stand-ins such as moto, whose reported window never moves.
    :param wait_for_completion: wait for the export (in the worker, or on the triggerer when ``deferrable``).
    :param max_server_errors: stop waiting after this many DescribeExport server errors in a row (a retryable error;
        the retry reattaches).
    """

    operator_extra_links = (DynamoDBExportLink(), S3ExportFolderLink())
    template_fields: Sequence[str] = (
        "table_name", "s3_bucket", "s3_prefix", "export_type", "export_time", "window_start",
    )
    ui_color = "#4d9de0"
    aws_hook_class = DynamoDBExportHook

    def __init__(
        self,
        *,
        table_name: str,
        s3_bucket: str,
        s3_prefix: str,
        export_type: str = FULL_EXPORT,
        export_time: datetime | str | None = None,
        window_start: datetime | str | None = None,
        export_view_type: str = "NEW_AND_OLD_IMAGES",
        export_format: str = "DYNAMODB_JSON",
        check_recovery_window: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool = False,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 480,
        max_server_errors: int = MAX_SERVER_ERRORS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if export_view_type not in EXPORT_VIEW_TYPES:
            raise ConfigError(f"export_view_type {export_view_type!r}: use one of {', '.join(EXPORT_VIEW_TYPES)}")
        self.table_name = table_name
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.export_type = export_type
        self.export_time = export_time
        self.window_start = window_start
        self.export_view_type = export_view_type
        self.export_format = export_format
        self.check_recovery_window = check_recovery_window
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.max_server_errors = max_server_errors
        keep_a_retry_for_deferral(self)

    @cached_property
    def storage_hook(self) -> LakeStorageHook:
        return same_connection(LakeStorageHook(**self._hook_parameters), self.hook)

    def execute(self, context: Context) -> dict[str, Any]:
        request = self.request_for(context)
        description = self.reattach_or_start(self.table_arn(), request, context)
        request["export_arn"] = description["ExportArn"]
        raise_if_failed(description, self.table_name)
        if description.get("ExportStatus") == COMPLETED or not self.wait_for_completion:
            return self.export_result(request, description)
        if self.deferrable:
            self.defer(
                trigger=DynamoDBExportTrigger(
                    description["ExportArn"],
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                    max_server_errors=self.max_server_errors,
                ),
                method_name="execute_complete",
                kwargs={"request": request},
                timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts + 60),
            )
        self.wait(description["ExportArn"])
        return self.export_result(request, self.hook.describe_export(description["ExportArn"]))

    def execute_complete(
        self, context: Context, event: dict[str, Any], request: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger fired; ``request`` is recomputed (deterministically) when not handed back.

        ``airflow dags test`` resumes with the event only, dropping the defer kwargs.
        """
        export_arn = raise_for_export_event(event, self.table_name)
        return self.export_result(request or self.request_for(context), self.hook.describe_export(export_arn))

    def request_for(self, context: Context) -> dict[str, Any]:
        """What this run exports, and where: the same for every try of the same run (no AWS call)."""
        export_type = normalize_export_type(self.export_type)
        window_start, export_time = self.requested_interval(context, export_type)
        return {
            "export_arn": None,
            "table_name": self.table_name,
            "export_type": export_type,
            "export_time": export_time.isoformat(),
            "window_start": window_start.isoformat() if window_start else None,
            "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix,
        }

    def requested_interval(self, context: Context, export_type: str | None = None) -> tuple[datetime | None, datetime]:
        """(window start or None for a full export, export time): the explicit times, else the data interval."""
        export_type = normalize_export_type(export_type or self.export_type)
        start, end = self.window_start, self.export_time
        if _unset(end) or (_unset(start) and export_type != FULL_EXPORT):
            interval_start, interval_end = data_interval_of(context)
            start = interval_start if _unset(start) else start
            end = interval_end if _unset(end) else end
        return export_window(self.table_name, export_type, start, end)

    def table_arn(self) -> str:
        return self.table_description["TableArn"]

    @cached_property
    def table_description(self) -> dict[str, Any]:
        """DescribeTable's ``Table``, asked once per try (ARN for the export, key schema for the result)."""
        table = self.hook.describe_table(self.table_name)
        if table is None:
            raise NotFoundError(
                f"DynamoDB table {self.table_name} does not exist (connection {self.aws_conn_id}, region "
                f"{self.hook.conn_region_name}). Check table_name and the connection's region."
            )
        return table

    def reattach_or_start(self, table_arn: str, request: dict[str, Any], context: Context) -> dict[str, Any]:
        """Reattach to the running or completed export of this prefix; otherwise check PITR and start one.

        The export record at the prefix names it (one S3 read, one DescribeExport); see ``core.export.lookup``.
        """
        where = {"s3_bucket": self.s3_bucket, "s3_prefix": request["s3_prefix"], "export_type": request["export_type"]}
        body = self.storage_hook.read_text(self.s3_bucket, lookup.record_key(request["s3_prefix"]))
        record = lookup.read_record(body, **where) if body is not None else None
        attempt = 0
        if record is not None:
            earlier = self.earlier_export(table_arn, record)
            if earlier is not None and earlier.get("ExportStatus") in LIVE_STATUSES:
                self.log.info(
                    "Reattaching to export %s (%s) of table %s at s3://%s/%s; not starting another",
                    earlier["ExportArn"], earlier.get("ExportStatus"), self.table_name, self.s3_bucket,
                    request["s3_prefix"],
                )
                if record.export_arn is None:
                    self.remember(record.started(earlier["ExportArn"]))
                return earlier
            # FAILED or forgotten: a new attempt. Started but never described: the same attempt, the same token.
            attempt = record.attempt + 1 if earlier is not None or record.export_arn else record.attempt
        dag_id = getattr(context.get("dag"), "dag_id", self.dag_id)
        token = client_token(dag_id, self.task_id, self.table_name, request["export_type"], request["window_start"],
                             request["export_time"], self.s3_bucket, request["s3_prefix"], attempt)
        record = lookup.ExportRecord(table_name=self.table_name, attempt=attempt, client_token=token, **where)
        self.remember(record)
        description = self.start(table_arn, request, token, failed_before=attempt)
        self.remember(record.started(description["ExportArn"]))
        return description

    def remember(self, record: lookup.ExportRecord) -> None:
        """Write the export record at its prefix (before a start, and with the ARN right after it)."""
        self.storage_hook.write_text(record.s3_bucket, lookup.record_key(record.s3_prefix), record.to_json())

    def earlier_export(self, table_arn: str, record: lookup.ExportRecord) -> dict[str, Any] | None:
        """The export the record names; for a record written just before a start, a bounded search of the listing."""
        if record.export_arn:
            return self.hook.describe_export_if_known(record.export_arn)
        return self.hook.find_export_at(table_arn, record.s3_bucket, record.s3_prefix, record.export_type)

    def start(self, table_arn: str, request: dict[str, Any], token: str, *, failed_before: int) -> dict[str, Any]:
        """Check the PITR window, then call ExportTableToPointInTime with the deterministic ClientToken."""
        window_start = to_datetime(request["window_start"]) if request["window_start"] else None
        export_time = to_datetime(request["export_time"])
        recovery = self.hook.recovery_window(self.table_name)
        check_recovery_window(self.table_name, recovery, window_start or export_time, export_time,
                              check_times=self.check_recovery_window)
        try:
            description = self.hook.start_export(
                table_arn=table_arn, s3_bucket=self.s3_bucket, s3_prefix=request["s3_prefix"], client_token=token,
                export_type=request["export_type"], export_time=export_time, window_start=window_start,
                export_view_type=self.export_view_type, export_format=self.export_format,
            )
        except ClientError as error:
            destination = f"s3://{self.s3_bucket}/{request['s3_prefix']}"
            raise start_error(error, table_name=self.table_name, destination=destination, recovery=recovery) from error
        self.log.info(
            "Started %s %s of table %s to s3://%s/%s (ClientToken %s, attempt %d)",
            request["export_type"], description["ExportArn"], self.table_name, self.s3_bucket, request["s3_prefix"],
            token, failed_before,
        )
        return description

    def wait(self, export_arn: str) -> None:
        """Block in the worker until the export finishes; raise with FailureCode/FailureMessage when it FAILED."""
        try:
            self.hook.wait_for_export(export_arn, delay=self.waiter_delay, max_attempts=self.waiter_max_attempts,
                                      max_server_errors=self.max_server_errors)
        except WaiterError as error:
            description = self.hook.describe_export(export_arn)
            raise_if_failed(description, self.table_name)
            if description.get("ExportStatus") != COMPLETED:
                raise still_running_error(
                    export_arn, self.table_name, description.get("ExportStatus"), self.waiter_max_attempts,
                    self.waiter_delay,
                ) from error

    def export_result(self, request: dict[str, Any], description: dict[str, Any]) -> dict[str, Any]:
        """The XCom value: the request plus export ARN, folder, item count, manifest key and the table's key schema.

        ``key_schema`` (``[{"attribute", "type"}]``, from DescribeTable) lets the converter type the key columns of
        an export that holds no item.
        """
        finished = description.get("ExportStatus") == COMPLETED
        result = {
            **request,
            "export_arn": description["ExportArn"],
            "export_folder": self.export_folder(description) if finished else None,
            "item_count": description.get("ItemCount") if finished else None,
            "manifest_key": description.get("ExportManifest"),
            "billed_size_bytes": description.get("BilledSizeBytes"),
            "key_schema": key_schema_of(self.table_description),
        }
        self.log.info(
            "Export %s of table %s: %s, %s items, folder %s",
            result["export_arn"], self.table_name, description.get("ExportStatus"), result["item_count"],
            result["export_folder"],
        )
        return result

    def export_folder(self, description: dict[str, Any]) -> str:
        """``s3://bucket/<prefix>/AWSDynamoDB/<id>/`` of a completed export: its manifest key, or a listing."""
        root = listing_root(description)
        folders = self.storage_hook.list_folders(description["S3Bucket"], root) if root is not None else []
        return export_folder(description, folders, self.table_name)
