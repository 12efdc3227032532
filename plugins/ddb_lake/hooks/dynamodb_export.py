"""Every DynamoDB call of a table export: table and PITR lookups, start, find, describe and wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
EXPORT_VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")

# Errors that say "try again later": throttling, a full concurrent-export quota, server faults.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


def is_transient(error: ClientError) -> bool:
    """True for throttling, quota and 5xx errors, which a later retry can get past."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in TRANSIENT_ERROR_CODES or status >= 500 or str(code).startswith("5")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class RecoveryWindow:
    """A table's point-in-time-recovery state: enabled or not, and the restorable time range."""

    enabled: bool
    earliest: datetime | None
    latest: datetime | None


class DynamoDBExportHook(AwsBaseHook):
    """Client-type DynamoDB hook for ExportTableToPointInTime; waits with the amazon provider's ``export_table`` waiter.

    ``client_type="dynamodb"`` makes ``waiter_path`` resolve to the provider's ``waiters/dynamodb.json``, so
    ``get_waiter("export_table")`` works without a waiter file of our own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "dynamodb"
        super().__init__(*args, **kwargs)

    def describe_table(self, table_name: str) -> dict[str, Any] | None:
        """Return the table description, or None when the table does not exist."""
        try:
            return self.conn.describe_table(TableName=table_name)["Table"]
        except ClientError as error:
            if error_code(error) in ("ResourceNotFoundException", "TableNotFoundException"):
                return None
            raise

    def recovery_window(self, table_name: str) -> RecoveryWindow:
        pitr = self.conn.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}
        )
        earliest = pitr.get("EarliestRestorableDateTime")
        latest = pitr.get("LatestRestorableDateTime")
        return RecoveryWindow(
            enabled=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            earliest=as_utc(earliest) if earliest else None,
            latest=as_utc(latest) if latest else None,
        )

    def list_exports(self, table_arn: str) -> list[dict[str, Any]]:
        """Summaries (ExportArn, ExportStatus, ExportType) of every export DynamoDB lists for the table."""
        summaries: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableArn": table_arn}
        while True:
            page = self.conn.list_exports(**kwargs)
            summaries.extend(page.get("ExportSummaries", []))
            token = page.get("NextToken")
            if not token:
                return summaries
            kwargs["NextToken"] = token

    def describe_export(self, export_arn: str) -> dict[str, Any]:
        return self.conn.describe_export(ExportArn=export_arn)["ExportDescription"]

    def exports_at(self, table_arn: str, s3_bucket: str, s3_prefix: str, export_type: str) -> list[dict[str, Any]]:
        """Descriptions of the table's exports of this type written to exactly ``s3://bucket/prefix``.

        The S3 prefix is deterministic per (table, type, interval), so this is how a retry finds the export an
        earlier try started; it works on AWS and on moto (which ignores ``ClientToken``).
        """
        found = []
        for summary in self.list_exports(table_arn):
            if summary.get("ExportType", export_type) != export_type:
                continue
            description = self.describe_export(summary["ExportArn"])
            if (
                description.get("S3Bucket") == s3_bucket
                and (description.get("S3Prefix") or "").strip("/") == s3_prefix.strip("/")
                and (description.get("ExportType") or FULL_EXPORT) == export_type
            ):
                found.append(description)
        return found

    def start_export(
        self,
        *,
        table_arn: str,
        s3_bucket: str,
        s3_prefix: str,
        client_token: str,
        export_type: str,
        export_time: datetime,
        window_start: datetime | None = None,
        export_view_type: str = "NEW_AND_OLD_IMAGES",
        export_format: str = "DYNAMODB_JSON",
        s3_bucket_owner: str | None = None,
        s3_sse_algorithm: str | None = None,
        s3_sse_kms_key_id: str | None = None,
    ) -> dict[str, Any]:
        """Call ExportTableToPointInTime; return the new export's description."""
        request: dict[str, Any] = {
            "TableArn": table_arn,
            "S3Bucket": s3_bucket,
            "S3Prefix": s3_prefix,
            "ClientToken": client_token,
            "ExportFormat": export_format,
            "ExportType": export_type,
        }
        if export_type == INCREMENTAL_EXPORT:
            request["IncrementalExportSpecification"] = {
                "ExportFromTime": window_start,
                "ExportToTime": export_time,
                "ExportViewType": export_view_type,
            }
        else:
            request["ExportTime"] = export_time
        optional = {
            "S3BucketOwner": s3_bucket_owner,
            "S3SseAlgorithm": s3_sse_algorithm,
            "S3SseKmsKeyId": s3_sse_kms_key_id,
        }
        request.update({key: value for key, value in optional.items() if value})
        return self.conn.export_table_to_point_in_time(**request)["ExportDescription"]

    def wait_for_export(self, export_arn: str, *, delay: int, max_attempts: int) -> None:
        """Block until the export leaves IN_PROGRESS; raises botocore ``WaiterError`` on FAILED or time-out."""
        self.get_waiter("export_table").wait(
            ExportArn=export_arn, WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}
        )


def export_id_of(export_arn: str) -> str:
    """``arn:...:table/T/export/01700000000000-abcdef12`` -> ``01700000000000-abcdef12``."""
    return export_arn.rstrip("/").rsplit("/", 1)[-1]
