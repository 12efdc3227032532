"""Which snapshots of an Iceberg table may be expired, so that no running query loses a file.

A query reads the snapshot that was current when it was planned. A snapshot therefore stays needed for as long as a
query may still run on it after it stopped being current: ``grace`` (``retention.grace_hours``, at least the longest
query). A snapshot may be expired when it stopped being current more than ``grace`` ago, is not among the
``keep_last`` most recent snapshots, and no branch or tag names it. The files only expired snapshots reference are
then unreachable by any query that can still be running.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SnapshotLife:
    """A snapshot's id, when it was committed, and when it stopped being current (None: it still is)."""

    snapshot_id: int
    committed_ms: int
    superseded_ms: int | None


def snapshot_lives(snapshots: Iterable[tuple[int, int]], log: Sequence[tuple[int, int]],
                   current_id: int | None) -> list[SnapshotLife]:
    """Lives from the table's snapshots ``(id, timestamp_ms)`` and snapshot log ``(id, timestamp_ms)`` (in order).

    A snapshot stops being current at the next log entry after one naming it; one never in the log (never current)
    at its own commit time. Rolled-back snapshots count from the rollback.
    """
    superseded: dict[int, int | None] = {}
    for (snapshot_id, _), following in zip(log, [*log[1:], None], strict=True):
        superseded[snapshot_id] = following[1] if following else None
    lives = []
    for snapshot_id, committed_ms in snapshots:
        end = superseded.get(snapshot_id, committed_ms)
        lives.append(SnapshotLife(snapshot_id, committed_ms, None if snapshot_id == current_id else end))
    return lives


def expirable(lives: Sequence[SnapshotLife], *, now: datetime, grace: timedelta, keep_last: int,
              protected: Iterable[int] = ()) -> list[int]:
    """Ids of the snapshots to expire (oldest first)."""
    cutoff_ms = int((now - grace).timestamp() * 1000)
    newest = {life.snapshot_id for life in sorted(lives, key=lambda life: life.committed_ms)[-keep_last:]}
    keep = newest | set(protected)
    return [life.snapshot_id for life in sorted(lives, key=lambda life: life.committed_ms)
            if life.snapshot_id not in keep and life.superseded_ms is not None and life.superseded_ms < cutoff_ms]


def unreachable_files(expired: dict[int, set[str]], kept: dict[int, set[str]]) -> set[str]:
    """Data files referenced by expired snapshots and by no kept one."""
    still_used = set().union(*kept.values()) if kept else set()
    return set().union(*expired.values()) - still_used if expired else set()
