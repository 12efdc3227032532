"""Export a table without point-in-time recovery: a rate-limited parallel Scan written as an export in AWS's layout."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from botocore.exceptions import ClientError

from ddb_lake.compat import Context, data_interval_of
from ddb_lake.core.errors import ConfigError, NotFoundError
from ddb_lake.core.export.failures import error_code
from ddb_lake.core.export.rules import FULL_EXPORT, to_datetime
from ddb_lake.core.export.scan_checkpoint import SegmentCheckpoint, scan_totals
from ddb_lake.core.export.scan_layout import (
    MANIFEST_FILES,
    MANIFEST_SUMMARY,
    export_folder_key,
    manifest_files_text,
    manifest_summary,
    scan_export_arn,
    scan_export_id,
)
from ddb_lake.core.export.scan_rate import ReadBudget, read_budget, segment_rate, segments_of_group
from ddb_lake.core.export.scan_report import scan_summary
from ddb_lake.core.export.scan_settings import ScanSettings
from ddb_lake.core.lake.layout import join_key
from ddb_lake.hooks._aws_connection import same_connection
from ddb_lake.hooks.dynamodb_export import key_schema_of
from ddb_lake.hooks.dynamodb_scan import DynamoDBScanHook, SegmentScan
from ddb_lake.hooks.lake_storage import LakeStorageHook
from ddb_lake.operators.base import ClassifiedErrors


class DynamoDBScanExportOperator(ClassifiedErrors, AwsBaseOperator[DynamoDBScanHook]):
    """Scan the table in ``segments`` parallel segments into ``<s3_prefix>/AWSDynamoDB/<id>/``; return what the
    export operator returns (plus ``scan``), so convert, catalog, BigQuery and validation run unchanged.

    A retry resumes each segment after its last checkpointed data file; a rerun of a finished interval reads nothing
    and writes nothing. Not a point-in-time snapshot: see docs/export-modes.md.

    :param s3_prefix: the run plan's ``export_prefix`` (one per table and interval).
    :param scan: ``export.scan`` of the table's YAML (``ScanSettings`` fields as a dict).
    :param max_parallel_segments: segments read at the same time by this task (threads); the budget is split over them.
    :param segment_group: read only this group's segments (``export.scan.segment_groups`` mapped tasks, one per
        group), return what they read and write no manifest; the unmapped ``export`` task after them finds every
        segment done and writes the manifests. None: read every segment.
    """

    template_fields: Sequence[str] = ("table_name", "s3_bucket", "s3_prefix", "export_time")
    ui_color = "#4d9de0"
    aws_hook_class = DynamoDBScanHook

    def __init__(self, *, table_name: str, s3_bucket: str, s3_prefix: str, export_time: datetime | str | None = None,
                 scan: dict[str, Any] | None = None, max_parallel_segments: int = 16, segment_group: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table_name, self.s3_bucket, self.s3_prefix = table_name, s3_bucket, s3_prefix
        self.export_time = export_time
        self.scan = dict(scan or {})
        self.max_parallel_segments = max_parallel_segments
        self.segment_group = segment_group

    @cached_property
    def storage_hook(self) -> LakeStorageHook:
        return same_connection(LakeStorageHook(**self._hook_parameters), self.hook)

    def execute(self, context: Context) -> dict[str, Any]:
        scan = ScanSettings(**self.scan)
        export_time = to_datetime(self.export_time or data_interval_of(context)[1])
        table = self.describe_table()
        export_id = scan_export_id(self.table_name, self.s3_prefix, export_time, scan)
        budget = read_budget(table, scan)
        checkpoints = self.read_segments(export_id, scan, budget)
        totals = scan_totals(checkpoints)
        if self.segment_group is not None:
            return {"segment_group": self.segment_group, "segments": [c.segment for c in checkpoints], **totals}
        arn = scan_export_arn(table["TableArn"], export_id)
        self.write_manifests(checkpoints, arn, table["TableArn"], export_id, export_time, scan, totals)
        return self.export_result(table, arn, export_id, export_time, scan_summary(totals, budget, scan))

    def read_segments(self, export_id: str, scan: ScanSettings, budget: ReadBudget) -> list[SegmentCheckpoint]:
        """This task's segments (all, or its group's), read in threads at their share of the budget."""
        numbers = segments_of_group(scan.segments, scan.segment_groups, self.segment_group)
        workers = max(1, min(len(numbers), self.max_parallel_segments))
        groups = scan.segment_groups if self.segment_group is not None else 1
        rate = segment_rate(budget, len(numbers), workers, groups)
        self.log.info("Scan export %s of table %s to s3://%s/%s: segments %s of %d, %d at a time, %.3g read units/s "
                      "each (budget %g: %s); not a point-in-time snapshot", export_id, self.table_name,
                      self.s3_bucket, export_folder_key(self.s3_prefix, export_id), _ranges(numbers), scan.segments,
                      workers, rate, budget.units_per_second, budget.basis)
        segments = [self.segment_scan(export_id, number, scan, rate) for number in numbers]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan-segment") as pool:
            return self.refused_as_config(lambda: list(pool.map(SegmentScan.run, segments)))

    def refused_as_config(self, read: Callable[[], list[SegmentCheckpoint]]) -> list[SegmentCheckpoint]:
        """Run the segments; DynamoDB refusing the request (ValidationException) names the settings to fix."""
        try:
            return read()
        except ClientError as error:
            if error_code(error) != "ValidationException":
                raise
            raise ConfigError(
                f"Scan of DynamoDB table {self.table_name} refused: {error.response['Error'].get('Message')}. Fix "
                "export.scan.projection_expression, filter_expression, expression_attribute_names or "
                "expression_attribute_values in the table's YAML (every #name and :value must be defined and used)."
            ) from error

    def describe_table(self) -> dict[str, Any]:
        table = self.hook.describe_table(self.table_name)
        if table is None:
            raise NotFoundError(f"DynamoDB table {self.table_name} does not exist (connection {self.aws_conn_id}, "
                                f"region {self.hook.conn_region_name}). Check dynamodb.table_name and the region.")
        return table

    def segment_scan(self, export_id: str, segment: int, scan: ScanSettings, rate: float) -> SegmentScan:
        return SegmentScan(scan_hook=self.hook, s3=self.storage_hook.conn, bucket=self.s3_bucket,
                           s3_prefix=self.s3_prefix, export_id=export_id, table_name=self.table_name, segment=segment,
                           scan=scan, rate=rate)

    def write_manifests(self, checkpoints: list[SegmentCheckpoint], arn: str, table_arn: str, export_id: str,
                        export_time: datetime, scan: ScanSettings, totals: dict[str, Any]) -> None:
        """manifest-files.json, then manifest-summary.json (its presence means complete); a rerun writes nothing."""
        folder = export_folder_key(self.s3_prefix, export_id)
        summary_key = join_key(folder, MANIFEST_SUMMARY)
        if self.storage_hook.read_text(self.s3_bucket, summary_key) is not None:
            self.log.info("s3://%s/%s exists: the interval's scan export is complete; nothing written", self.s3_bucket,
                          summary_key)
            return
        files = [asdict(f) for c in checkpoints for f in c.files]
        self.storage_hook.write_text(self.s3_bucket, join_key(folder, MANIFEST_FILES), manifest_files_text(files))
        summary = manifest_summary(
            export_arn=arn, table_arn=table_arn, s3_bucket=self.s3_bucket, s3_prefix=self.s3_prefix,
            export_id=export_id, export_time=export_time, item_count=totals["items"],
            billed_bytes=totals["raw_bytes"], started_at=totals["started_at"], finished_at=totals["finished_at"],
            scan=scan,
        )
        self.storage_hook.write_text(self.s3_bucket, summary_key, json.dumps(summary, indent=1))

    def export_result(self, table: dict[str, Any], arn: str, export_id: str, export_time: datetime,
                      scan: dict[str, Any]) -> dict[str, Any]:
        """The export operator's result keys (``billed_size_bytes`` None: a scan is billed by read units) + ``scan``."""
        folder = export_folder_key(self.s3_prefix, export_id)
        self.log.info("Scan export %s of table %s: %d items in %d files, %d pages, %.1f read units in %.1f s "
                      "(%s units/s)", export_id, self.table_name, scan["items"], scan["files"], scan["pages"],
                      scan["read_units"], scan["seconds"], scan["units_per_second"])
        return {
            "export_arn": arn, "table_name": self.table_name, "export_type": FULL_EXPORT,
            "export_time": export_time.isoformat(), "window_start": None, "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix, "export_folder": f"s3://{self.s3_bucket}/{folder}/",
            "item_count": scan["items"], "manifest_key": join_key(folder, MANIFEST_SUMMARY),
            "billed_size_bytes": None, "key_schema": key_schema_of(table), "export_method": "scan", "scan": scan,
        }


def _ranges(numbers: list[int]) -> str:
    """``0-15`` for a run, ``1, 3, 5`` otherwise (the log names the segments a task reads)."""
    if numbers and numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
        return f"{numbers[0]}-{numbers[-1]}"
    return ", ".join(map(str, numbers))
