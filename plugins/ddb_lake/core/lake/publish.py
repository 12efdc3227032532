"""Publish rules: what the current Glue table points at, and whether a snapshot should become current.

The current table's parameters carry the snapshot it reads (``ddb_lake.snapshot``) and when it was switched
(``ddb_lake.published_at``); the same UpdateTable call that moves its location writes both, so they agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ddb_lake.core.lake.glue_table import PUBLISHED_AT_PARAMETER, SNAPSHOT_PARAMETER, same_location

UNCHANGED, KEPT_NEWER, PUBLISHED = "unchanged", "kept_newer", "published"


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
