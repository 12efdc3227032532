"""How a retry finds the export of its interval in a bounded number of calls, whatever the table's export history.

1. The export record: right before starting an export the operator writes ``<export_prefix>/_ddb_lake_export.json``
   (the attempt and its ClientToken), and right after it the ExportArn. A retry reads it: one S3 read and one
   DescribeExport.
2. A record without an ARN means a try died between the two writes: a bounded listing (:data:`LISTED_EXPORTS`
   newest summaries, at most :data:`DESCRIBED_EXPORTS` described, first match wins), then a start with the same
   ClientToken, for which DynamoDB returns the export it already started (within 8 hours; moto ignores the token).
3. No record: nothing was started at this prefix (or by a version without records): start with attempt 0's token.

Pure: the hook reads and writes the record and makes the DynamoDB calls.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.folders import export_id_of
from ddb_lake.core.lake.layout import join_key

EXPORT_RECORD_NAME = "_ddb_lake_export.json"
# ListExports page size of the fallback (DynamoDB's maximum MaxResults is 25) and how many summaries it describes.
LISTED_EXPORTS = 25
DESCRIBED_EXPORTS = 5


@dataclass(frozen=True)
class ExportRecord:
    """What the operator remembers at an export prefix: the attempt, its ClientToken and (once started) its ARN."""

    table_name: str
    export_type: str
    s3_bucket: str
    s3_prefix: str
    attempt: int
    client_token: str
    export_arn: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def started(self, export_arn: str) -> ExportRecord:
        return ExportRecord(**{**asdict(self), "export_arn": export_arn})


def record_key(s3_prefix: str) -> str:
    """``<export_prefix>/_ddb_lake_export.json``: beside the ``AWSDynamoDB/`` folder DynamoDB writes."""
    return join_key(s3_prefix, EXPORT_RECORD_NAME)


def read_record(body: str | bytes, *, s3_bucket: str, s3_prefix: str, export_type: str) -> ExportRecord | None:
    """The record in ``body``; None when it is for another bucket, prefix or export type (a copied folder).

    A record that is not one (bad JSON, missing fields) raises: it names the object and the fix.
    """
    where = f"s3://{s3_bucket}/{record_key(s3_prefix)}"
    try:
        raw = json.loads(body)
        record = ExportRecord(
            table_name=str(raw["table_name"]), export_type=str(raw["export_type"]), s3_bucket=str(raw["s3_bucket"]),
            s3_prefix=str(raw["s3_prefix"]), attempt=int(raw["attempt"]), client_token=str(raw["client_token"]),
            export_arn=raw.get("export_arn") or None,
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(
            f"Export record {where} is not a ddb-lake export record ({error!r}). Delete it and clear the export "
            "task: the retry then looks the export up by its ClientToken."
        ) from error
    same_place = (record.s3_bucket, record.s3_prefix.strip("/"), record.export_type) == (
        s3_bucket, s3_prefix.strip("/"), export_type,
    )
    return record if same_place else None


def newest_first(summaries: list[dict[str, Any]], export_type: str) -> list[dict[str, Any]]:
    """The listed summaries of ``export_type`` that are worth describing, newest first, at most DESCRIBED_EXPORTS.

    Export ids start with the start time in milliseconds (``01700000000000-abcdef12``), so they sort by age.
    """
    kept = [s for s in summaries if (s.get("ExportType") or export_type) == export_type and s.get("ExportArn")]
    kept.sort(key=lambda s: export_id_of(s["ExportArn"]), reverse=True)
    return kept[:DESCRIBED_EXPORTS]

