"""Every DynamoDB call of a table export: table and PITR lookups, start, find, describe and wait."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from ddb_lake.core.errors import SchemaError
from ddb_lake.core.export.failures import error_code, is_transient
from ddb_lake.core.export.folders import is_export_at
from ddb_lake.core.export.pitr import RecoveryWindow, recovery_window_of
from ddb_lake.core.export.rules import INCREMENTAL_EXPORT

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
        summaries = [s for s in self.list_exports(table_arn) if s.get("ExportType", export_type) == export_type]
        descriptions = [self.describe_export(summary["ExportArn"]) for summary in summaries]
        return [d for d in descriptions if is_export_at(d, s3_bucket, s3_prefix, export_type)]

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
