"""Start (or reattach to) a DynamoDB point-in-time export of one data interval, wait for it, report where it landed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from botocore.exceptions import ClientError, WaiterError

from ddb_lake.compat import AirflowException, AirflowFailException, Context, data_interval_of
from ddb_lake.core.lake.layout import TableLayout, join_key
from ddb_lake.hooks.dynamodb_export import (
    EXPORT_VIEW_TYPES,
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    DynamoDBExportHook,
    RecoveryWindow,
    as_utc,
    error_code,
    export_id_of,
    is_transient,
)
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.triggers.dynamodb_export import COMPLETED, FAILED, DynamoDBExportTrigger

MIN_INCREMENTAL_WINDOW = timedelta(minutes=15)
MAX_INCREMENTAL_WINDOW = timedelta(hours=24)
LIVE_STATUSES = ("IN_PROGRESS", COMPLETED)
# FailureCodes for which a fresh export would fail the same way: fail the task instead of retrying it.
TERMINAL_FAILURE_CODES = frozenset({"S3NoSuchBucket", "S3AccessDenied", "AccessDenied", "KMSAccessDenied"})
TERMINAL_START_ERRORS = {
    "PointInTimeRecoveryUnavailableException": "point-in-time recovery is not enabled on the table",
    "InvalidExportTimeException": "the export time is outside the table's point-in-time recovery window",
    "ExportConflictException": "an export with the same ClientToken but different parameters already exists",
    "TableNotFoundException": "the table does not exist",
    "ResourceNotFoundException": "the table does not exist",
    "ValidationException": "DynamoDB rejected the request",
}


def normalize_export_type(export_type: str) -> str:
    """``full``/``FULL_EXPORT`` -> FULL_EXPORT, ``incremental``/``INCREMENTAL_EXPORT`` -> INCREMENTAL_EXPORT."""
    kind = export_type.strip().upper()
    if kind in ("FULL", FULL_EXPORT):
        return FULL_EXPORT
    if kind in ("INCREMENTAL", INCREMENTAL_EXPORT):
        return INCREMENTAL_EXPORT
    raise ValueError(f"export_type {export_type!r}: use FULL_EXPORT or INCREMENTAL_EXPORT")


def to_datetime(value: datetime | str) -> datetime:
    """Plain aware UTC datetime from a (pendulum) datetime or an ISO-8601 string (what a rendered template gives)."""
    moment = as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip()))
    return datetime.fromisoformat(moment.isoformat())  # pendulum -> stdlib, so differences are plain timedeltas


def client_token(*parts: Any) -> str:
    """Deterministic ExportTableToPointInTime ClientToken from the parts that identify one export."""
    return "ddb-lake-" + hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def export_failure(
    export_arn: str, table_name: str | None, code: str | None, message: str | None, *, restartable: bool = True
) -> AirflowException:
    """The exception for a FAILED export, naming its FailureCode and FailureMessage.

    ``restartable``: the failing task starts exports itself, so for codes outside TERMINAL_FAILURE_CODES a retry
    (which starts a fresh export) may help; a sensor that only watches one export always fails.
    """
    text = f"DynamoDB export {export_arn} of table {table_name or '?'} FAILED: {code or 'no FailureCode'}"
    text += f": {message or 'no FailureMessage'}"
    if code in TERMINAL_FAILURE_CODES:
        return AirflowFailException(f"{text}. Fix the bucket or its permissions, then clear the export task.")
    if not restartable:
        return AirflowFailException(f"{text}. Clear the task that started the export to start a new one.")
    return AirflowException(f"{text}. A retry starts a new export to the same S3 prefix.")


def raise_for_export_event(
    event: dict[str, Any] | None, table_name: str | None = None, *, restartable: bool = True
) -> str:
    """Raise unless the trigger event reports success; return the export ARN."""
    event = event or {}
    export_arn = event.get("export_arn", "?")
    status = event.get("status")
    if status == "success":
        return export_arn
    if status == "failed":
        raise export_failure(
            export_arn, table_name, event.get("failure_code"), event.get("failure_message"), restartable=restartable
        )
    raise AirflowException(
        f"Waiting for DynamoDB export {export_arn} of table {table_name or '?'} ended with {status}: "
        f"{event.get('message', event)}. A retry reattaches to the export if it is still running."
    )


class DynamoDBExportOperator(AwsBaseOperator[DynamoDBExportHook]):
    """Export one DynamoDB table to S3 for the run's data interval; retries reattach, never start a second export.

    Full export: a snapshot at ``export_time`` (default: the data interval end). Incremental export: the changes in
    [``window_start``, ``export_time``) (default: the data interval), 15 minutes to 24 hours long. The S3 prefix is
    ``TableLayout(s3_bucket, s3_prefix, table_name).export_prefix(...)``, one per (table, type, interval).

    :param lake_table: the table's name in the lake's S3 keys and catalog (default: ``table_name``); the export
        prefix and the converter's snapshot prefix use it, so a DynamoDB table can be renamed for the lake.
    :param check_recovery_window: compare the requested times with the table's PITR window before exporting (default).
        DynamoDB rejects out-of-window times itself; switching this off only moves that rejection to the export call.
        Meant for stand-ins such as moto, whose reported window never moves.
    :param wait_for_completion: wait for the export (in the worker, or on the triggerer when ``deferrable``).
    """

    template_fields: Sequence[str] = (
        "table_name", "s3_bucket", "s3_prefix", "export_type", "export_time", "window_start", "lake_table",
    )
    ui_color = "#4d9de0"
    aws_hook_class = DynamoDBExportHook

    def __init__(
        self,
        *,
        table_name: str,
        s3_bucket: str,
        s3_prefix: str = "",
        export_type: str = FULL_EXPORT,
        export_time: datetime | str | None = None,
        window_start: datetime | str | None = None,
        export_view_type: str = "NEW_AND_OLD_IMAGES",
        export_format: str = "DYNAMODB_JSON",
        lake_table: str | None = None,
        check_recovery_window: bool = True,
        wait_for_completion: bool = True,
        deferrable: bool = False,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 480,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if export_view_type not in EXPORT_VIEW_TYPES:
            raise ValueError(f"export_view_type {export_view_type!r}: use one of {', '.join(EXPORT_VIEW_TYPES)}")
        self.table_name = table_name
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.export_type = export_type
        self.export_time = export_time
        self.window_start = window_start
        self.export_view_type = export_view_type
        self.export_format = export_format
        self.lake_table = lake_table
        self.check_recovery_window = check_recovery_window
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    @cached_property
    def storage_hook(self) -> LakeStorageHook:
        return LakeStorageHook(**self._hook_parameters)

    def execute(self, context: Context) -> dict[str, Any]:
        request = self.request_for(context)
        table = self.hook.describe_table(self.table_name)
        if table is None:
            raise AirflowFailException(
                f"DynamoDB table {self.table_name} does not exist (connection {self.aws_conn_id}, region "
                f"{self.hook.conn_region_name}). Check table_name and the connection's region."
            )
        description = self.reattach_or_start(table["TableArn"], request, context)
        request["export_arn"] = description["ExportArn"]
        if description.get("ExportStatus") == FAILED:
            raise export_failure(
                description["ExportArn"], self.table_name,
                description.get("FailureCode"), description.get("FailureMessage"),
            )
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
        layout = TableLayout(self.s3_bucket, self.s3_prefix, self.lake_table or self.table_name)
        return {
            "export_arn": None,
            "table_name": self.table_name,
            "lake_table": self.lake_table or self.table_name,
            "export_type": export_type,
            "export_time": export_time.isoformat(),
            "window_start": window_start.isoformat() if window_start else None,
            "s3_bucket": self.s3_bucket,
            "s3_prefix": layout.export_prefix(export_type, export_time, window_start),
            "lake_prefix": self.s3_prefix,
        }

    def requested_interval(self, context: Context, export_type: str) -> tuple[datetime | None, datetime]:
        """(window start or None for a full export, export time), from the overrides or the data interval."""
        explicit_end = self.export_time not in (None, "")
        explicit_start = self.window_start not in (None, "") or export_type == FULL_EXPORT
        interval_start, interval_end = (None, None) if explicit_end and explicit_start else data_interval_of(context)
        raw_end = self.export_time if explicit_end else interval_end
        if raw_end is None:
            raise AirflowFailException(f"Export of table {self.table_name}: no export_time and no data interval end")
        export_time = to_datetime(raw_end)
        if export_type == FULL_EXPORT:
            return None, export_time
        raw_start = self.window_start if self.window_start not in (None, "") else interval_start
        if raw_start is None:
            raise AirflowFailException(
                f"Incremental export of table {self.table_name}: no window_start and no data interval start"
            )
        window_start = to_datetime(raw_start)
        length = export_time - window_start
        if not MIN_INCREMENTAL_WINDOW <= length <= MAX_INCREMENTAL_WINDOW:
            raise AirflowFailException(
                f"Incremental export of table {self.table_name}: window [{window_start.isoformat()}, "
                f"{export_time.isoformat()}) is {length}, but DynamoDB accepts 15 minutes to 24 hours. "
                "Schedule the DAG at an interval in that range or use export_type=FULL_EXPORT."
            )
        return window_start, export_time

    def reattach_or_start(self, table_arn: str, request: dict[str, Any], context: Context) -> dict[str, Any]:
        """Reattach to a running or completed export at the same S3 prefix; otherwise check PITR and start one."""
        export_type = request["export_type"]
        earlier = self.hook.exports_at(table_arn, self.s3_bucket, request["s3_prefix"], export_type)
        live = [d for d in earlier if d.get("ExportStatus") in LIVE_STATUSES]
        if live:
            self.log.info(
                "Reattaching to export %s (%s) of table %s at s3://%s/%s; not starting another",
                live[0]["ExportArn"], live[0].get("ExportStatus"), self.table_name,
                self.s3_bucket, request["s3_prefix"],
            )
            return live[0]
        window_start = to_datetime(request["window_start"]) if request["window_start"] else None
        export_time = to_datetime(request["export_time"])
        recovery = self.hook.recovery_window(self.table_name)
        self.check_pitr(recovery, window_start or export_time, export_time)
        dag_id = getattr(context.get("dag"), "dag_id", self.dag_id)
        token = client_token(dag_id, self.task_id, self.table_name, export_type, request["window_start"],
                             request["export_time"], len(earlier))
        try:
            description = self.hook.start_export(
                table_arn=table_arn, s3_bucket=self.s3_bucket, s3_prefix=request["s3_prefix"], client_token=token,
                export_type=export_type, export_time=export_time, window_start=window_start,
                export_view_type=self.export_view_type, export_format=self.export_format,
            )
        except ClientError as error:
            raise self.start_error(error, request, recovery) from error
        self.log.info(
            "Started %s %s of table %s to s3://%s/%s (ClientToken %s, %d earlier failed)",
            export_type, description["ExportArn"], self.table_name, self.s3_bucket, request["s3_prefix"], token,
            len(earlier),
        )
        return description

    def check_pitr(self, recovery: RecoveryWindow, first: datetime, last: datetime) -> None:
        """Fail clearly when PITR is off or the requested time range is outside the recovery window."""
        if not recovery.enabled:
            raise AirflowFailException(
                f"DynamoDB table {self.table_name} has point-in-time recovery disabled, so it cannot be exported. "
                f"Enable it (aws dynamodb update-continuous-backups --table-name {self.table_name} "
                "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true); only times after that "
                "can be exported."
            )
        if not self.check_recovery_window:
            return
        if recovery.earliest and first < recovery.earliest:
            raise AirflowFailException(
                f"Export of table {self.table_name} at {first.isoformat()} is before its EarliestRestorableDateTime "
                f"{recovery.earliest.isoformat()}: this interval is older than the point-in-time recovery window, so "
                "it can no longer be exported (a backfill can only reach back as far as the recovery period)."
            )
        if recovery.latest and last > recovery.latest:
            raise AirflowException(
                f"Export of table {self.table_name} at {last.isoformat()} is after its LatestRestorableDateTime "
                f"{recovery.latest.isoformat()}: the recovery window has not reached that time yet (it trails the "
                "clock by about 5 minutes). A retry a few minutes later will succeed."
            )

    def start_error(self, error: ClientError, request: dict[str, Any], recovery: RecoveryWindow) -> Exception:
        code = error_code(error)
        where = f"table {self.table_name} to s3://{self.s3_bucket}/{request['s3_prefix']}"
        if is_transient(error):
            return AirflowException(f"ExportTableToPointInTime of {where} hit a transient {code}; retry: {error}")
        reason = TERMINAL_START_ERRORS.get(code)
        if reason is None:
            return AirflowException(f"ExportTableToPointInTime of {where} failed: {error}")
        window = f" (recovery window {recovery.earliest} .. {recovery.latest})" if recovery.enabled else ""
        return AirflowFailException(f"ExportTableToPointInTime of {where} failed: {reason}{window}: {error}")

    def wait(self, export_arn: str) -> None:
        """Block in the worker until the export finishes; raise with FailureCode/FailureMessage when it FAILED."""
        try:
            self.hook.wait_for_export(export_arn, delay=self.waiter_delay, max_attempts=self.waiter_max_attempts)
        except WaiterError as error:
            description = self.hook.describe_export(export_arn)
            if description.get("ExportStatus") == FAILED:
                raise export_failure(
                    export_arn, self.table_name, description.get("FailureCode"), description.get("FailureMessage")
                ) from error
            if description.get("ExportStatus") != COMPLETED:
                raise AirflowException(
                    f"DynamoDB export {export_arn} of table {self.table_name} is still "
                    f"{description.get('ExportStatus')} after {self.waiter_max_attempts} polls "
                    f"{self.waiter_delay}s apart. A retry reattaches to it."
                ) from error

    def export_result(self, request: dict[str, Any], description: dict[str, Any]) -> dict[str, Any]:
        """The XCom value: the request plus export ARN, folder, item count and manifest key."""
        finished = description.get("ExportStatus") == COMPLETED
        result = {
            **request,
            "export_arn": description["ExportArn"],
            "export_folder": self.export_folder(description) if finished else None,
            "item_count": description.get("ItemCount") if finished else None,
            "manifest_key": description.get("ExportManifest"),
            "billed_size_bytes": description.get("BilledSizeBytes"),
        }
        self.log.info(
            "Export %s of table %s: %s, %s items, folder %s",
            result["export_arn"], self.table_name, description.get("ExportStatus"), result["item_count"],
            result["export_folder"],
        )
        return result

    def export_folder(self, description: dict[str, Any]) -> str:
        """``s3://bucket/<prefix>/AWSDynamoDB/<id>/`` of a completed export, found in its manifest key or by listing."""
        bucket = description["S3Bucket"]
        manifest_key = description.get("ExportManifest")
        if manifest_key:
            return f"s3://{bucket}/{manifest_key.rsplit('/', 1)[0]}/"
        root = join_key(description.get("S3Prefix") or "", "AWSDynamoDB")
        folders = self.storage_hook.list_folders(bucket, root)
        export_id = export_id_of(description["ExportArn"])
        named = [f for f in folders if f.rstrip("/").rsplit("/", 1)[-1] == export_id]
        chosen = named or folders
        if len(chosen) != 1:
            raise AirflowException(
                f"Export {description['ExportArn']} of table {self.table_name}: expected one export folder under "
                f"s3://{bucket}/{root}/, found {len(folders)}: {folders}. Remove stale folders there and retry."
            )
        return f"s3://{bucket}/{chosen[0]}"
