"""Change lines: one JSON object per DynamoDB stream record, lossless, in the shape of an incremental export line.

A line carries ``Keys``, ``NewImage`` (absent for a REMOVE), ``OldImage`` (only when asked for) exactly as DynamoDB
JSON (numbers stay their exact text, ``{"N": "1.50"}``; binary stays base64 text, ``{"B": "AAE="}`` — the
converter's own input rules), ``Metadata.WriteTimestampMicros`` (the record's approximate creation time, so the
line is also a valid incremental-export line), and the stream fields: ``eventName``, ``eventID``,
``SequenceNumber``, ``ApproximateCreationDateTime`` (ISO-8601 UTC) and ``dedupId`` — a hash of (table, keys,
sequence number), never of the image, so two real writes of the same value stay two changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

OPERATIONS = ("INSERT", "MODIFY", "REMOVE")


class UnwritableRecord(ValueError):
    """A stream record the handler cannot turn into a change line (reported back to the event source mapping)."""


def canonical_keys(keys: dict[str, Any]) -> str:
    """The key's DynamoDB JSON with sorted names and no spaces: equal keys give equal text."""
    return json.dumps(keys, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dedup_id(table: str, keys: dict[str, Any], sequence_number: str) -> str:
    """sha256 of (table, canonical keys, sequence number), 32 hex digits: the same change delivered twice has the
    same id; two changes of one key (even to the same value) differ by their sequence numbers."""
    text = "\x1f".join((table, canonical_keys(keys), sequence_number))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def creation_micros(value: Any) -> int:
    """ApproximateCreationDateTime as integer microseconds: Lambda events give epoch seconds, the Kinesis route
    epoch milliseconds (``unit='ms'`` callers pass ints already scaled), boto3 a datetime."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1_000_000 + moment.microsecond
    return round(float(value) * 1_000_000)


def iso_micros(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=fraction).isoformat()


def change_line(table: str, record: dict[str, Any], *, old_image: bool = False) -> dict[str, Any]:
    """The change line of one stream record (Lambda's event shape: ``eventName``, ``eventID``, ``dynamodb{...}``).

    Raises :class:`UnwritableRecord` naming the record when it lacks what a lossless line needs.
    """
    stream = record.get("dynamodb") or {}
    operation, event_id = record.get("eventName"), record.get("eventID", "?")
    sequence, keys = stream.get("SequenceNumber"), stream.get("Keys")
    where = f"table {table}, event {event_id}, sequence number {sequence}"
    if operation not in OPERATIONS:
        raise UnwritableRecord(f"{where}: eventName {operation!r} is not one of {', '.join(OPERATIONS)}")
    if not sequence or not str(sequence).isdigit() or not keys:
        raise UnwritableRecord(f"{where}: the record has no SequenceNumber or no Keys")
    if operation != "REMOVE" and "NewImage" not in stream:
        raise UnwritableRecord(
            f"{where}: a {operation} without NewImage; the stream's view type must be NEW_IMAGE or "
            "NEW_AND_OLD_IMAGES (aws dynamodb update-table --stream-specification "
            "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES)")
    if stream.get("ApproximateCreationDateTime") is None:
        raise UnwritableRecord(f"{where}: the record has no ApproximateCreationDateTime")
    micros = creation_micros(stream["ApproximateCreationDateTime"])
    line: dict[str, Any] = {
        "Metadata": {"WriteTimestampMicros": {"N": str(micros)}},
        "Keys": keys,
        "eventName": operation,
        "eventID": event_id,
        "SequenceNumber": str(sequence),
        "ApproximateCreationDateTime": iso_micros(micros),
        "dedupId": dedup_id(table, keys, str(sequence)),
        "table": table,
    }
    if operation != "REMOVE":
        line["NewImage"] = stream["NewImage"]
    if old_image and "OldImage" in stream:
        line["OldImage"] = stream["OldImage"]
    return line


def encode_line(line: dict[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def kinesis_record(data: bytes) -> dict[str, Any]:
    """A Kinesis Data Streams for DynamoDB record (Firehose's base64 ``data``, decoded) in Lambda's stream shape.

    Its ``dynamodb.ApproximateCreationDateTime`` is epoch milliseconds (microseconds with the stream's
    MICROSECOND precision setting); the Kinesis route has no DynamoDB sequence number, so the Firehose handler
    passes Kinesis's own.
    """
    payload = json.loads(data)
    stream = dict(payload.get("dynamodb") or {})
    if stream.get("ApproximateCreationDateTime") is not None:
        stream["ApproximateCreationDateTime"] = float(stream["ApproximateCreationDateTime"]) / (
            1_000_000 if stream.get("ApproximateCreationDateTimePrecision") == "MICROSECOND" else 1000)
    return {"eventName": payload.get("eventName"), "eventID": payload.get("eventID", "?"), "dynamodb": stream,
            "tableName": payload.get("tableName")}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
