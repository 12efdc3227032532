"""Real DynamoDB incremental exports in AWS's documented layout, for the converter and merge tests.

The moto stand-in writes full ``{"Item": ...}`` lines for an incremental export request (it keeps no change log),
so these tests build the exports themselves: ``manifest-summary.json`` (exportType INCREMENTAL_EXPORT, outputView,
exportFromTime/exportToTime), ``manifest-files.json`` and ``data/*.json.gz`` whose lines are
``{"Metadata": {"WriteTimestampMicros": {"N": ...}}, "Keys": {...}, "NewImage": {...}, "OldImage": {...}}``:
an insert has no OldImage, a delete no NewImage, NEW_IMAGE exports never carry OldImage.

:class:`ItemModel` applies puts and deletes to a dict of items (and to the real moto table, when given), keeps each
change as an export line, and writes a window's lines as an export (several changes to one key stay several lines,
spread over two data files in shuffled order, so the merge has to order them by WriteTimestampMicros).
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ddb_lake.core.convert.export_writer import write_export


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@dataclass
class ItemModel:
    """The items of a table keyed by ``key_attributes``; every change is also a pending export line."""

    key_attributes: tuple[str, ...]
    items: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    lines: list[dict[str, Any]] = field(default_factory=list)
    dynamodb: Any = None  # a boto3 DynamoDB client: changes are applied to the real table too
    table_name: str = ""

    def key_of(self, item: dict[str, Any]) -> tuple:
        return tuple(json.dumps(item[a], sort_keys=True) for a in self.key_attributes)

    def keys_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {a: item[a] for a in self.key_attributes}

    def put(self, item: dict[str, Any], at: datetime) -> None:
        key = self.key_of(item)
        old = self.items.get(key)
        line: dict[str, Any] = {"Metadata": {"WriteTimestampMicros": {"N": str(micros(at))}},
                                "Keys": self.keys_of(item), "NewImage": item}
        if old is not None:
            line["OldImage"] = old
        self.items[key] = item
        self.lines.append(line)
        if self.dynamodb is not None:
            self.dynamodb.put_item(TableName=self.table_name, Item={k: client_value(v) for k, v in item.items()})

    def delete(self, keys: dict[str, Any], at: datetime) -> None:
        key = self.key_of(keys)
        old = self.items.pop(key)
        self.lines.append({"Metadata": {"WriteTimestampMicros": {"N": str(micros(at))}}, "Keys": keys,
                           "OldImage": old})
        if self.dynamodb is not None:
            self.dynamodb.delete_item(TableName=self.table_name, Key=keys)

    def take_lines(self) -> list[dict[str, Any]]:
        lines, self.lines = self.lines, []
        return lines


def client_value(value: dict[str, Any]) -> dict[str, Any]:
    """An export-JSON value (``B`` base64 text) as boto3's client takes it (``B`` raw bytes)."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64decode(inner)}
    if tag == "L":
        return {"L": [client_value(v) for v in inner]}
    if tag == "M":
        return {"M": {k: client_value(v) for k, v in inner.items()}}
    return value


def write_incremental_export(folder: Path, lines: list[dict[str, Any]], start: datetime, end: datetime, *,
                             view: str = "NEW_AND_OLD_IMAGES", seed: int = 0) -> Path:
    """Write ``lines`` as an incremental export at ``folder`` (``.../AWSDynamoDB/<ExportId>``), two shuffled files."""
    if view == "NEW_IMAGE":
        lines = [{k: v for k, v in line.items() if k != "OldImage"} for line in lines]
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    encoded = [json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in shuffled]
    half = len(encoded) // 2
    write_export(folder, [encoded[:half], encoded[half:]], export_type="INCREMENTAL_EXPORT", output_view=view)
    summary_path = folder / "manifest-summary.json"
    summary = json.loads(summary_path.read_text())
    summary["exportFromTime"] = start.astimezone(UTC).isoformat()
    summary["exportToTime"] = end.astimezone(UTC).isoformat()
    summary_path.write_text(json.dumps(summary))
    return folder


def upload_folder(s3: Any, folder: Path, bucket: str, prefix: str) -> str:
    """Upload every file under ``folder`` to ``s3://bucket/prefix/<relative path>``; return that folder's URL."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return f"s3://{bucket}/{prefix}"
