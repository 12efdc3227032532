"""Every call of a scan export: Scan pages (with backoff on throttling) and one segment read into data files.

The rules (budget, pause, checkpoint, layout) are in ``core.export.scan_*``; this module makes the calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ddb_lake.core.errors import TransientError
from ddb_lake.core.export.failures import error_code
from ddb_lake.core.export.scan_checkpoint import ScanFile, SegmentCheckpoint, read_checkpoint
from ddb_lake.core.export.scan_layout import checkpoint_key, data_file_body, data_file_key, md5_base64, restored_key
from ddb_lake.core.export.scan_rate import (
    MAX_THROTTLED_TRIES,
    THROTTLE_CODES,
    page_read_units,
    pause_seconds,
    throttle_delay,
)
from ddb_lake.core.export.scan_settings import ScanSettings
from ddb_lake.hooks.dynamodb_export import DynamoDBExportHook

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 10.0  # a segment logs its progress at most this often (and after every data file)


class DynamoDBScanHook(DynamoDBExportHook):
    """The export hook's client (DescribeTable, key schema) plus Scan; backs off on throttling before failing."""

    def scan_page(self, request: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """One Scan call; a throttled answer is retried after 0.5, 1, 2 ... 20 s, MAX_THROTTLED_TRIES times."""
        tries = 0
        while True:
            try:
                return self.conn.scan(**request)
            except ClientError as error:
                if error_code(error) not in THROTTLE_CODES:
                    raise
                tries += 1
                if tries > MAX_THROTTLED_TRIES:
                    raise TransientError(
                        f"Scan of table {request['TableName']} segment {request.get('Segment')}: throttled "
                        f"{tries} times in a row ({error_code(error)}). The retry resumes from the segment's "
                        "checkpoint; lower export.scan.read_capacity_share / target_read_units_per_second."
                    ) from error
                delay = throttle_delay(tries)
                log.warning("Scan of %s segment %s throttled (%s, %d in a row); waiting %.1f s",
                            request["TableName"], request.get("Segment"), error_code(error), tries, delay)
                sleep(delay)


@dataclass
class SegmentScan:
    """Read one segment into data files, checkpointing after each file, at most ``rate`` read units per second."""

    scan_hook: DynamoDBScanHook
    s3: Any  # the lake's S3 client (LakeStorageHook.conn)
    bucket: str
    s3_prefix: str
    export_id: str
    table_name: str
    segment: int
    scan: ScanSettings
    rate: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _last_log: float = field(default=0.0, init=False)

    def run(self) -> SegmentCheckpoint:
        checkpoint = self.load()
        if checkpoint.done:
            log.info("Segment %d/%d of %s already done (%d items in %d files)", self.segment, self.scan.segments,
                     self.table_name, checkpoint.items, len(checkpoint.files))
            return checkpoint
        if checkpoint.files:
            log.info("Segment %d/%d of %s resumes after %d files (%d items)", self.segment, self.scan.segments,
                     self.table_name, len(checkpoint.files), checkpoint.items)
        start_key = restored_key(checkpoint.last_key)
        checkpoint = checkpoint.begun(_now())
        started, spent = self.clock(), 0.0
        while True:
            items, pages, scanned, units, start_key = self.read_file_worth(start_key, started, spent)
            spent += units
            checkpoint = self.finish_file(checkpoint, items, start_key, pages, scanned, units)
            if checkpoint.done:
                self.delete_leftovers(checkpoint.next_part())
                return checkpoint

    def read_file_worth(self, start_key: dict[str, Any] | None, started: float,
                        spent: float) -> tuple[list[dict[str, Any]], int, int, float, dict[str, Any] | None]:
        """Pages until a file's worth of items or the segment's end: (items, pages, scanned, units, next key)."""
        items: list[dict[str, Any]] = []
        pages = scanned = 0
        units = 0.0
        while True:
            page = self.scan_hook.scan_page(self.request(start_key), sleep=self.sleep)
            items.extend(page.get("Items", []))
            pages, scanned = pages + 1, scanned + int(page.get("ScannedCount", 0))
            units += page_read_units(page, _approximate_bytes(page), self.scan.consistent_read)
            start_key = page.get("LastEvaluatedKey") or None
            # after every page, the last one too: the segment's average since it started never exceeds its share
            self.sleep(pause_seconds(spent + units, self.clock() - started, self.rate))
            self.progress(pages, len(items), spent + units, started)
            if start_key is None or len(items) >= self.scan.file_items:
                return items, pages, scanned, units, start_key

    def request(self, start_key: dict[str, Any] | None) -> dict[str, Any]:
        scan = self.scan
        request: dict[str, Any] = {"TableName": self.table_name, "Segment": self.segment,
                                   "TotalSegments": scan.segments, "ConsistentRead": scan.consistent_read,
                                   "ReturnConsumedCapacity": "TOTAL"}
        optional = {"Limit": scan.page_items, "ExclusiveStartKey": start_key,
                    "ProjectionExpression": scan.projection_expression, "FilterExpression": scan.filter_expression,
                    "ExpressionAttributeNames": scan.expression_attribute_names,
                    "ExpressionAttributeValues": scan.expression_attribute_values}
        request.update({name: value for name, value in optional.items() if value})
        return request

    def finish_file(self, checkpoint: SegmentCheckpoint, items: list[dict[str, Any]], next_key: dict[str, Any] | None,
                    pages: int, scanned: int, units: float) -> SegmentCheckpoint:
        """Write the data file (none for an empty segment end), then the checkpoint that counts it."""
        file = None
        if items:
            key = data_file_key(self.s3_prefix, self.export_id, self.segment, checkpoint.next_part())
            body, count, raw_bytes = data_file_body(items)
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
            file = ScanFile(key=key, items=count, md5=md5_base64(body), bytes=len(body), raw_bytes=raw_bytes)
        checkpoint = checkpoint.with_file(file, last_key=next_key, pages=pages, scanned=scanned, read_units=units,
                                          now=_now())
        self.s3.put_object(Bucket=self.bucket, Key=self.checkpoint_key, Body=checkpoint.to_json().encode(),
                           ContentType="application/json")
        log.info("Segment %d/%d of %s: file %d written (%d items); %d items, %d pages, %.1f read units so far%s",
                 self.segment, self.scan.segments, self.table_name, len(checkpoint.files), len(items),
                 checkpoint.items, checkpoint.pages, checkpoint.read_units, "; done" if checkpoint.done else "")
        return checkpoint

    def delete_leftovers(self, parts: int) -> None:
        """Data files of this segment numbered ``parts`` or more: written by a killed try, counted by no checkpoint."""
        first_unused = data_file_key(self.s3_prefix, self.export_id, self.segment, parts)
        prefix = first_unused.rsplit("-part-", 1)[0] + "-part-"
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        for entry in listed:
            if entry["Key"] >= first_unused:
                log.info("Deleting %s: left by an earlier try, not part of the export", entry["Key"])
                self.s3.delete_object(Bucket=self.bucket, Key=entry["Key"])

    @property
    def checkpoint_key(self) -> str:
        return checkpoint_key(self.s3_prefix, self.export_id, self.segment)

    def load(self) -> SegmentCheckpoint:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.checkpoint_key)["Body"].read().decode()
        except ClientError as error:
            if error_code(error) not in ("NoSuchKey", "404"):
                raise
            body = None
        return read_checkpoint(body, export_id=self.export_id, segment=self.segment,
                               total_segments=self.scan.segments, where=f"s3://{self.bucket}/{self.checkpoint_key}")

    def progress(self, pages: int, items: int, spent: float, started: float) -> None:
        now = self.clock()
        if now - self._last_log < PROGRESS_SECONDS:
            return
        self._last_log = now
        elapsed = max(now - started, 1e-9)
        log.info("Segment %d/%d of %s: %d pages, %d items in the current file, %.1f read units/s (limit %.1f)",
                 self.segment, self.scan.segments, self.table_name, pages, items, spent / elapsed, self.rate)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _approximate_bytes(page: dict[str, Any]) -> int:
    """A page's size for the read-unit estimate when DynamoDB sends no ConsumedCapacity (names and values)."""
    return len(repr(page.get("Items", [])).encode())
