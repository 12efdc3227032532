"""Change lines reduced to the last change per key, by sequence number, as incremental-export lines.

Lines delivered twice (a retried Lambda batch, a replayed object) have the same ``dedupId`` and count once. Per
key (the canonical ``Keys`` text) the change with the highest ``SequenceNumber`` wins — compared as integers,
exactly (DynamoDB's sequence numbers have 21+ digits). The winners are written as incremental-export lines
(``Keys``, ``NewImage`` unless REMOVE, ``Metadata.WriteTimestampMicros``), which the project's converter turns
into typed rows with the usual rules and the Iceberg merge applies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ddb_lake.core.errors import ExportFormatError

REQUIRED = ("Keys", "SequenceNumber", "dedupId", "eventName", "Metadata")


@dataclass
class Reduced:
    """The winning export line per key, and what the reduction saw."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    changes: int = 0  # lines read
    duplicates: int = 0  # lines whose dedupId was seen before
    first_micros: int | None = None  # approximate creation time of the oldest change read
    last_micros: int | None = None  # ... of the newest


def canonical_keys(keys: dict[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_line(text: str | bytes, where: str) -> dict[str, Any]:
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{where}: not a JSON change line ({exc}); the file was not written by the CDC "
                                "handler (include/cdc) or is damaged: move it out of the cdc/ folder") from exc
    missing = [name for name in REQUIRED if name not in line]
    if missing:
        raise ExportFormatError(f"{where}: change line without {', '.join(missing)}; the CDC handler writes them "
                                "all: move the file out of the cdc/ folder")
    return line


def reduce_lines(lines: Iterable[dict[str, Any]]) -> Reduced:
    """The last change per key (highest sequence number) among ``lines``, duplicates dropped."""
    result = Reduced()
    seen: set[str] = set()
    winners: dict[str, tuple[int, dict[str, Any]]] = {}
    for line in lines:
        result.changes += 1
        if line["dedupId"] in seen:
            result.duplicates += 1
            continue
        seen.add(line["dedupId"])
        micros = int(line["Metadata"]["WriteTimestampMicros"]["N"])
        result.first_micros = micros if result.first_micros is None else min(result.first_micros, micros)
        result.last_micros = micros if result.last_micros is None else max(result.last_micros, micros)
        key, sequence = canonical_keys(line["Keys"]), int(line["SequenceNumber"])
        held = winners.get(key)
        if held is None or sequence >= held[0]:
            winners[key] = (sequence, line)
    result.lines = [export_line(line) for _, line in winners.values()]
    return result


def export_line(line: dict[str, Any]) -> dict[str, Any]:
    """A change line as an incremental export line (what the converter reads): a REMOVE has no NewImage."""
    out = {"Metadata": line["Metadata"], "Keys": line["Keys"]}
    if line["eventName"] != "REMOVE":
        out["NewImage"] = line["NewImage"]
    return out
