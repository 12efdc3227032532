"""Every DynamoDB call of a table export: table and PITR lookups, start, a bounded find, describe and wait."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError, WaiterError

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.export.failures import error_code, is_transient
from ddb_lake.core.export.folders import is_export_at
from ddb_lake.core.export.lookup import LISTED_EXPORTS, newest_first
from ddb_lake.core.export.pitr import RecoveryWindow, recovery_window_of
from ddb_lake.core.export.rules import INCREMENTAL_EXPORT
from ddb_lake.core.export.waiting import AGAIN, MAX_SERVER_ERRORS, SERVER_ERRORS, ExportWait

__all__ = ["DynamoDBExportHook", "error_code", "is_transient", "key_schema_of"]  # the trigger takes the error rules

KEY_TYPES = ("S", "N", "B")


def key_schema_of(table: dict[str, Any]) -> list[dict[str, str]]:
    """The table's key attributes and their types from a DescribeTable ``Table``: partition key first.

    ``[{"attribute": "pk", "type": "S"}, {"attribute": "sk", "type": "N"}]``; types are DynamoDB's ``S``/``N``/``B``.
    """
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", [])}
    keys = sorted(table.get("KeySchema", []), key=lambda k: k["KeyType"] != "HASH")
    out = [{"attribute": k["AttributeName"], "type": types.get(k["AttributeName"], "")} for k in keys]
    bad = [k for k in out if k["type"] not in KEY_TYPES]
    if bad:
        raise SchemaError(f"DynamoDB table {table.get('TableName')}: key attribute(s) {bad} have no S/N/B type in "
                          "DescribeTable's AttributeDefinitions")
    return out


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
        backups = self.conn.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
        return recovery_window_of(backups)

    def describe_export(self, export_arn: str) -> dict[str, Any]:
        return self.conn.describe_export(ExportArn=export_arn)["ExportDescription"]

    def describe_export_if_known(self, export_arn: str) -> dict[str, Any] | None:
        """The export's description; None when DynamoDB no longer knows it (ExportNotFoundException)."""
        try:
            return self.describe_export(export_arn)
        except ClientError as error:
            if error_code(error) == "ExportNotFoundException":
                return None
            raise

    def find_export_at(self, table_arn: str, s3_bucket: str, s3_prefix: str, export_type: str) -> dict[str, Any] | None:
        """The newest export of this type written to exactly ``s3://bucket/prefix``, or None: a bounded search.

        One ListExports page of up to ``LISTED_EXPORTS`` summaries, at most ``DESCRIBED_EXPORTS`` described,
        newest first, stopping at the first match: the cost does not grow with the table's export history.
        """
        page = self.conn.list_exports(TableArn=table_arn, MaxResults=LISTED_EXPORTS)
        for summary in newest_first(page.get("ExportSummaries", []), export_type):
            description = self.describe_export(summary["ExportArn"])
            if is_export_at(description, s3_bucket, s3_prefix, export_type):
                return description
        return None

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

    def wait_for_export(
        self, export_arn: str, *, delay: int, max_attempts: int, max_server_errors: int = MAX_SERVER_ERRORS
    ) -> None:
        """Block until the export leaves IN_PROGRESS, polling with the provider's ``export_table`` waiter.

        Raises botocore ``WaiterError`` on FAILED, after ``max_attempts`` polls or on a non-server error, and
        ``ExportRetryableError`` after ``max_server_errors`` server errors in a row (``core.export.waiting``).
        """
        waiter = self.get_waiter("export_table")
        progress = ExportWait(export_arn, max_polls=max_attempts, max_server_errors=max_server_errors)
        while True:
            try:
                waiter.wait(ExportArn=export_arn, WaiterConfig={"Delay": delay, "MaxAttempts": 1})
                return
            except WaiterError as error:
                if "terminal failure" in str(error):
                    raise
                step = progress.after(error.last_response)
                if step == SERVER_ERRORS:
                    raise progress.server_errors_error() from error
                if step != AGAIN:
                    raise
            time.sleep(delay)
