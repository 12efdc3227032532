"""A scan segment's checkpoint: the data files it finished and the key to resume after, so a retry never reads twice.

After each data file is written, the segment's checkpoint is rewritten with that file and the ``LastEvaluatedKey`` of
the file's last page. A retry reads the checkpoint and resumes the Scan there: pages read after the last checkpoint
are read again and their file is written again under the same name (an object left by the killed try is replaced,
or deleted when the new try ends its segment sooner), so no item is counted twice and none is missed.
Pure: the hook reads and writes the objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.export.scan_layout import exportable


@dataclass(frozen=True)
class ScanFile:
    """One finished data file: its key, item count, base64 MD5 and sizes (gzip and uncompressed)."""

    key: str
    items: int
    md5: str
    bytes: int
    raw_bytes: int


@dataclass(frozen=True)
class SegmentCheckpoint:
    """Where one segment stands: its files, the key to resume after, and what it has read and spent so far."""

    export_id: str
    segment: int
    total_segments: int
    files: tuple[ScanFile, ...] = ()
    last_key: dict[str, Any] | None = None  # DynamoDB JSON (binary as base64); None: from the start or done
    done: bool = False
    pages: int = 0
    scanned: int = 0  # items read (ScannedCount), before any filter
    read_units: float = 0.0
    started_at: str = ""
    finished_at: str = ""

    @property
    def items(self) -> int:
        return sum(f.items for f in self.files)

    def next_part(self) -> int:
        return len(self.files)

    def begun(self, now: str) -> SegmentCheckpoint:
        """The segment as its reading starts: the first try's start time is kept (a later try only resumes)."""
        return self if self.started_at else replace(self, started_at=now)

    def with_file(self, file: ScanFile | None, *, last_key: dict[str, Any] | None, pages: int, scanned: int,
                  read_units: float, now: str) -> SegmentCheckpoint:
        """After a file (or, with ``file`` None, an empty end): the segment is done when there is no next key."""
        return replace(
            self, files=self.files + ((file,) if file is not None else ()),
            last_key=exportable(last_key) if last_key else None, done=not last_key, pages=self.pages + pages,
            scanned=self.scanned + scanned, read_units=round(self.read_units + read_units, 6),
            started_at=self.started_at or now, finished_at=now if not last_key else "",
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def read_checkpoint(body: str | None, *, export_id: str, segment: int, total_segments: int,
                    where: str) -> SegmentCheckpoint:
    """The checkpoint in ``body``, or a fresh one (no body). One of another scan or segment count is refused."""
    fresh = SegmentCheckpoint(export_id=export_id, segment=segment, total_segments=total_segments)
    if body is None:
        return fresh
    try:
        raw = json.loads(body)
        checkpoint = SegmentCheckpoint(**{**raw, "files": tuple(ScanFile(**f) for f in raw["files"])})
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"Scan checkpoint {where} is not a ddb-lake scan checkpoint ({error!r}). Delete it and "
                          "clear the export task: the segment is then read again from its start.") from error
    if (checkpoint.export_id, checkpoint.segment, checkpoint.total_segments) != (export_id, segment, total_segments):
        raise ConfigError(f"Scan checkpoint {where} is for export {checkpoint.export_id} segment "
                          f"{checkpoint.segment}/{checkpoint.total_segments}, not {export_id} segment "
                          f"{segment}/{total_segments}. Delete it and clear the export task.")
    return checkpoint


def scan_totals(checkpoints: list[SegmentCheckpoint]) -> dict[str, Any]:
    """What all segments did together: items, files, pages, items read, read units, first start and last end."""
    started = [c.started_at for c in checkpoints if c.started_at]
    finished = [c.finished_at for c in checkpoints if c.finished_at]
    return {
        "items": sum(c.items for c in checkpoints),
        "files": sum(len(c.files) for c in checkpoints),
        "pages": sum(c.pages for c in checkpoints),
        "scanned": sum(c.scanned for c in checkpoints),
        "read_units": round(sum(c.read_units for c in checkpoints), 6),
        "raw_bytes": sum(f.raw_bytes for c in checkpoints for f in c.files),
        "started_at": min(started) if started else "",
        "finished_at": max(finished) if finished else "",
    }
