"""Where a scan export writes and what it writes: AWS's export layout, so everything downstream runs unchanged.

    <export_prefix>/AWSDynamoDB/<export id>/manifest-summary.json     written last: its presence means complete
    <export_prefix>/AWSDynamoDB/<export id>/manifest-files.json       itemCount, md5Checksum, etag, dataFileS3Key
    <export_prefix>/AWSDynamoDB/<export id>/data/segment-SSSSS-part-PPPPP.json.gz   {"Item": ...} lines
    <export_prefix>/_ddb_lake_scan/<export id>/segment-SSSSS.json    one checkpoint per segment (``scan_checkpoint``)

The export id is deterministic for (table, prefix, interval end, what is read), so a retry or a rerun of the interval
finds the same folder, and a data file's name and bytes depend only on its items (gzip without a timestamp).
Pure: imports no Airflow.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ddb_lake.core.convert.export_writer import item_line
from ddb_lake.core.export.folders import EXPORT_DATA_FOLDER
from ddb_lake.core.export.rules import FULL_EXPORT
from ddb_lake.core.export.scan_settings import ScanSettings
from ddb_lake.core.lake.layout import join_key

SCAN_STATE_FOLDER = "_ddb_lake_scan"
MANIFEST_SUMMARY = "manifest-summary.json"
MANIFEST_FILES = "manifest-files.json"
NOT_POINT_IN_TIME = ("a scan is not a point-in-time snapshot: items written, changed or deleted while it ran may or "
                     "may not appear in it")
BINARY_TYPES = ("B", "BS")

# What decides the items a scan reads (and so its folder); rate and file-size knobs do not change the result.
_WHAT_IS_READ = ("segments", "consistent_read", "projection_expression", "filter_expression",
                 "expression_attribute_names", "expression_attribute_values")


def scan_export_id(table_name: str, s3_prefix: str, export_time: datetime, scan: ScanSettings) -> str:
    """``<export time in ms, 14 digits>-<8 hex>``, shaped like a DynamoDB export id and the same for every try."""
    settings = asdict(scan)
    what = json.dumps([table_name, s3_prefix.strip("/"), {k: settings[k] for k in _WHAT_IS_READ}], sort_keys=True)
    return f"{int(export_time.timestamp() * 1000):014d}-{hashlib.sha256(what.encode()).hexdigest()[:8]}"


def scan_export_arn(table_arn: str, export_id: str) -> str:
    """``<table ARN>/scan/<id>``: names the scan like an export ARN does; DescribeExport does not know it."""
    return f"{table_arn}/scan/{export_id}"


def export_folder_key(s3_prefix: str, export_id: str) -> str:
    return join_key(s3_prefix, EXPORT_DATA_FOLDER, export_id)


def data_file_key(s3_prefix: str, export_id: str, segment: int, part: int) -> str:
    return join_key(export_folder_key(s3_prefix, export_id), "data", f"segment-{segment:05d}-part-{part:05d}.json.gz")


def checkpoint_key(s3_prefix: str, export_id: str, segment: int) -> str:
    return join_key(s3_prefix, SCAN_STATE_FOLDER, export_id, f"segment-{segment:05d}.json")


def exportable(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level (boto3 client) item as DynamoDB JSON: binary as base64 text, everything else as it came.

    Numbers stay the strings DynamoDB sent (``{"N": "1E+3"}``): nothing passes through float.
    """
    return {name: _typed(value) for name, value in item.items()}


def _typed(value: Mapping[str, Any]) -> dict[str, Any]:
    """One typed value (``{"B": b"..."}``, ``{"L": [...]}``, ...) as DynamoDB JSON."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {kind: _base64(inner)}
    if kind == "BS":
        return {kind: [_base64(v) for v in inner]}
    if kind == "L":
        return {kind: [_typed(v) for v in inner]}
    if kind == "M":
        return {kind: exportable(inner)}
    return {kind: inner}


def _base64(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii") if isinstance(value, (bytes, bytearray)) else value


def restored_key(key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's LastEvaluatedKey back as the boto3 client wants it: ``{"B": base64}`` -> ``{"B": bytes}``."""
    if key is None:
        return None
    return {name: {kind: base64.b64decode(v) if kind == "B" else v for kind, v in value.items()}
            for name, value in key.items()}


def data_file_body(items: Iterable[Mapping[str, Any]]) -> tuple[bytes, int, int]:
    """(gzip bytes, item count, uncompressed bytes) of ``{"Item": ...}`` lines; the same items give the same bytes."""
    raw = io.BytesIO()
    count = 0
    for item in items:
        raw.write(item_line(exportable(item)))
        count += 1
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue(), count, len(raw.getvalue())


def md5_base64(body: bytes) -> str:
    """manifest-files.json's ``md5Checksum``: the base64 MD5 of the object."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def manifest_files_text(files: Iterable[Mapping[str, Any]]) -> str:
    """manifest-files.json: one JSON line per data file, in AWS's field names."""
    lines = []
    for f in files:
        etag = base64.b64decode(f["md5"]).hex()
        lines.append(json.dumps({"itemCount": f["items"], "md5Checksum": f["md5"], "etag": etag,
                                 "dataFileS3Key": f["key"]}) + "\n")
    return "".join(lines)


def manifest_summary(
    *, export_arn: str, table_arn: str, s3_bucket: str, s3_prefix: str, export_id: str, export_time: datetime,
    item_count: int, billed_bytes: int, started_at: str, finished_at: str, scan: ScanSettings,
) -> dict[str, Any]:
    """manifest-summary.json in AWS's fields, plus ``ddbLakeScan`` (how it was read; that it is not point-in-time)."""
    return {
        "version": "2020-06-30",
        "exportArn": export_arn,
        "startTime": started_at,
        "endTime": finished_at,
        "tableArn": table_arn,
        "exportTime": export_time.isoformat(),
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix,
        "s3SseAlgorithm": None,
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": join_key(export_folder_key(s3_prefix, export_id), MANIFEST_FILES),
        "billedSizeBytes": billed_bytes,
        "itemCount": item_count,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": FULL_EXPORT,
        "ddbLakeScan": {
            "pointInTime": False,
            "note": NOT_POINT_IN_TIME,
            "segments": scan.segments,
            "consistentRead": scan.consistent_read,
            "projectionExpression": scan.projection_expression or None,
            "filterExpression": scan.filter_expression or None,
        },
    }
