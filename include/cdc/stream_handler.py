"""Lambda entry points: ``lambda_handler`` on a DynamoDB stream, ``firehose_handler`` as a Firehose transformation.

``lambda_handler`` turns a batch of stream records into change lines and writes them as one gzip JSON-lines object
``s3://<CDC_BUCKET>/<CDC_PREFIX>/<table>/dt=<day>/<write time>-<batch id>.json.gz`` (split above
``CDC_MAX_OBJECT_MB``); the batch's size is the event source mapping's (``BatchSize``,
``MaximumBatchingWindowInSeconds``), so objects are as large as the mapping lets them be, not one per record.
With ``ReportBatchItemFailures`` it returns ``batchItemFailures``: the first record it cannot write (and so the
records after it are not written either — the mapping retries from there, in order).

Object names sort by write time, which the merge relies on: it takes objects named before ``now - settle`` only.
A write that took longer than ``CDC_MAX_WRITE_SECONDS`` (keep it below the merge's ``cdc.settle_seconds``) is
written again under a fresh name, so no object appears below a name the merge has passed.

Settings (environment): ``CDC_BUCKET`` (required), ``CDC_PREFIX`` (default ``ddb-lake/cdc``), ``CDC_TABLE`` (default:
the table name in the record's ``eventSourceARN``), ``CDC_OLD_IMAGE`` (``true`` keeps ``OldImage``),
``CDC_MAX_OBJECT_MB`` (64), ``CDC_MAX_WRITE_SECONDS`` (30).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .change_lines import UnwritableRecord, b64, change_line, encode_line, kinesis_record

log = logging.getLogger(__name__)


@dataclass
class ChangeWriter:
    """Writes change lines to S3 as gzip JSON-lines objects (``put`` is ``s3.put_object``)."""

    s3: Any
    bucket: str
    prefix: str = "ddb-lake/cdc"
    old_image: bool = False
    max_object_bytes: int = 64 << 20
    max_write_seconds: float = 30.0
    table: str = ""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    written: list[str] = field(default_factory=list)

    def object_key(self, table: str, moment: datetime, batch_id: str) -> str:
        stamp = moment.strftime("%Y%m%dT%H%M%S%fZ")
        return f"{self.prefix.strip('/')}/{table}/dt={moment:%Y-%m-%d}/{stamp}-{batch_id}.json.gz"

    def write(self, table: str, lines: list[bytes], batch_id: str) -> list[str]:
        """Write ``lines`` as one or more objects (each at most ``max_object_bytes`` uncompressed); their keys."""
        keys, chunk, size = [], [], 0
        for line in lines:
            if chunk and size + len(line) > self.max_object_bytes:
                keys.append(self._put(table, chunk, f"{batch_id}-{len(keys)}"))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            keys.append(self._put(table, chunk, f"{batch_id}-{len(keys)}" if keys else batch_id))
        self.written += keys
        return keys

    def _put(self, table: str, lines: list[bytes], batch_id: str) -> str:
        body = gzip.compress(b"".join(lines), compresslevel=6)
        while True:
            named = self.clock()
            key = self.object_key(table, named, batch_id)
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson",
                               ContentEncoding="gzip")
            took = (self.clock() - named).total_seconds()
            if took <= self.max_write_seconds:
                return key
            log.warning("writing s3://%s/%s took %.1f s (> %.0f s): written again under a newer name, so the merge "
                        "cannot have passed it (the older object is a duplicate the merge drops)", self.bucket, key,
                        took, self.max_write_seconds)


def table_of(record: dict[str, Any], default: str = "") -> str:
    """``CDC_TABLE`` when set, else the table name in ``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/…``."""
    if default:
        return default
    arn = record.get("eventSourceARN") or ""
    parts = arn.split(":table/", 1)
    if len(parts) != 2 or not parts[1]:
        raise UnwritableRecord(f"event {record.get('eventID', '?')}: no table name in eventSourceARN {arn!r}; "
                               "set CDC_TABLE")
    return parts[1].split("/", 1)[0]


def handle_stream_event(event: dict[str, Any], writer: ChangeWriter) -> dict[str, Any]:
    """Write the event's records up to the first one that cannot be written; report that one back."""
    records = event.get("Records") or []
    lines: list[bytes] = []
    failed: dict[str, Any] | None = None
    table = ""
    for record in records:
        try:
            table = table_of(record, writer.table)
            lines.append(encode_line(change_line(table, record, old_image=writer.old_image)))
        except UnwritableRecord as exc:
            log.error("%s: reported back; the mapping retries from it", exc)
            failed = record
            break
    if lines:
        batch_id = hashlib.sha256(lines[0] + lines[-1]).hexdigest()[:12]
        try:
            writer.write(table, lines, batch_id)
        except Exception:  # any write failure: nothing is acknowledged, the whole batch is retried
            log.exception("table %s: writing %d change lines failed; the batch is reported back whole", table,
                          len(lines))
            failed = records[0]
    if failed is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": (failed.get("dynamodb") or {}).get("SequenceNumber", "")}]}


def firehose_records(event: dict[str, Any], table: str = "", old_image: bool = False) -> dict[str, Any]:
    """Firehose transformation: each Kinesis Data Streams for DynamoDB record becomes one change line (base64), or
    ``ProcessingFailed`` (Firehose writes those to its error prefix). The dedup id uses Kinesis's sequence number."""
    out = []
    for item in event.get("records") or []:
        try:
            record = kinesis_record(base64.b64decode(item["data"]))
            sequence = (item.get("kinesisRecordMetadata") or {}).get("sequenceNumber", "")
            record["dynamodb"]["SequenceNumber"] = sequence
            name = table or record.get("tableName") or ""
            line = change_line(name, record, old_image=old_image)
            out.append({"recordId": item["recordId"], "result": "Ok", "data": b64(encode_line(line))})
        except (UnwritableRecord, ValueError, KeyError) as exc:
            log.error("record %s: %s", item.get("recordId"), exc)
            out.append({"recordId": item.get("recordId"), "result": "ProcessingFailed", "data": item.get("data", "")})
    return {"records": out}


_writer: ChangeWriter | None = None


def _env_writer() -> ChangeWriter:
    global _writer
    if _writer is None:
        import boto3

        _writer = ChangeWriter(
            s3=boto3.client("s3"), bucket=os.environ["CDC_BUCKET"],
            prefix=os.environ.get("CDC_PREFIX", "ddb-lake/cdc"),
            old_image=os.environ.get("CDC_OLD_IMAGE", "false").lower() == "true",
            max_object_bytes=int(float(os.environ.get("CDC_MAX_OBJECT_MB", "64")) * (1 << 20)),
            max_write_seconds=float(os.environ.get("CDC_MAX_WRITE_SECONDS", "30")),
            table=os.environ.get("CDC_TABLE", ""))
    return _writer


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point on the DynamoDB stream (event source mapping with ``ReportBatchItemFailures``)."""
    started = time.monotonic()
    result = handle_stream_event(event, _env_writer())
    log.info("%d records, %d reported back, %.3f s", len(event.get("Records") or []),
             len(result["batchItemFailures"]), time.monotonic() - started)
    return result


def firehose_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point as Firehose's transformation (source: the table's Kinesis data stream)."""
    return firehose_records(event, os.environ.get("CDC_TABLE", ""),
                            os.environ.get("CDC_OLD_IMAGE", "false").lower() == "true")
