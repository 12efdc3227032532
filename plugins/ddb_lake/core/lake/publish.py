"""Publish rules: what the current Glue table points at, and whether a snapshot should become current.

The current table's parameters carry the snapshot it reads (``ddb_lake.snapshot``) and when it was switched
(``ddb_lake.published_at``); the same UpdateTable call that moves its location writes both, so they agree with it.

Publish is a compare-and-swap: read the table (with its Glue VersionId), decide with :func:`publish_action`, then
UpdateTable under that VersionId; when another writer changed the table in between, read and decide again, at most
:data:`PUBLISH_ATTEMPTS` times. Two markers in the snapshot folder record publishes for retention (hidden names, so
query engines skip them; their S3 LastModified is the time that counts):

- ``_published.json``: written right before the switch to this snapshot is attempted. A folder without it was never
  current (no switch to it was ever tried).
- ``_superseded.json``: written after the switch away from it returned (by the publish that replaced it), or by a
  publish whose switch lost the race to a newer snapshot. This folder has not been current since that moment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddb_lake.core.convert.storage import split_url
from ddb_lake.core.lake.glue_table import PUBLISHED_AT_PARAMETER, SNAPSHOT_PARAMETER, folder_url, same_location
from ddb_lake.core.lake.layout import PUBLISHED_MARKER as PUBLISHED_MARKER  # re-exported: names live in layout
from ddb_lake.core.lake.layout import SUPERSEDED_MARKER as SUPERSEDED_MARKER

UNCHANGED, KEPT_NEWER, PUBLISHED = "unchanged", "kept_newer", "published"
PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class CurrentSnapshot:
    """What the current table reads: its location, the snapshot stamp and publish time ddb-lake wrote (or None)."""

    location: str | None = None
    snapshot: str | None = None
    published_at: str | None = None

    @classmethod
    def of_table(cls, table: dict[str, Any] | None) -> CurrentSnapshot:
        """From a GetTable ``Table`` (None: the current table does not exist yet)."""
        if table is None:
            return cls()
        parameters = table.get("Parameters", {})
        return cls(table["StorageDescriptor"]["Location"], parameters.get(SNAPSHOT_PARAMETER),
                   parameters.get(PUBLISHED_AT_PARAMETER))

    def published_time(self) -> datetime | None:
        return datetime.fromisoformat(self.published_at) if self.published_at else None


def is_rollback(snapshot: str, previous_snapshot: str | None, allow_rollback: bool) -> bool:
    """True when publishing would move the current table back to an older snapshot without ``allow_rollback``."""
    return bool(previous_snapshot) and snapshot < str(previous_snapshot) and not allow_rollback


def publish_action(snapshot: str, location: str, current: CurrentSnapshot, allow_rollback: bool) -> str:
    """``unchanged`` (it reads ``location`` already), ``kept_newer`` (an older interval's backfill) or ``published``."""
    if current.location and same_location(current.location, location):
        return UNCHANGED
    if is_rollback(snapshot, current.snapshot, allow_rollback):
        return KEPT_NEWER
    return PUBLISHED


def marker_key(location: str, marker: str) -> tuple[str, str]:
    """(bucket, key) of ``marker`` (:data:`PUBLISHED_MARKER` or :data:`SUPERSEDED_MARKER`) in the snapshot folder."""
    bucket, prefix = split_url(folder_url(location), "s3")
    return bucket, prefix + marker


def marker_body(snapshot: str | None, table: str, at: str, *, by: str | None = None) -> str:
    """The JSON of a marker, for people reading the folder: retention goes by the object's LastModified."""
    body: dict[str, Any] = {"snapshot": snapshot, "table": table, "at": at}
    if by is not None:
        body["by"] = by
    return json.dumps(body, sort_keys=True)
