"""Which snapshot folders retention may delete: never the current one, never a newer one, never inside the grace.

A snapshot older than the current one stopped being current no later than the moment the current one was
published; that moment (``published_at``, written into the current table's parameters by the same UpdateTable call
that switched it) plus the grace period is when queries planned against the older files have surely finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.glue_table import same_location, stamp_of_location
from ddb_lake.core.lake.layout import parse_stamp


@dataclass(frozen=True)
class RetentionPlan:
    """Snapshot stamps to keep and to delete, each with the reason."""

    keep: dict[str, str] = field(default_factory=dict)
    delete: dict[str, str] = field(default_factory=dict)


def plan_retention(
    snapshots: Iterable[str],
    *,
    current: str | None,
    published_at: datetime | None,
    now: datetime,
    grace: timedelta,
    keep_last: int,
) -> RetentionPlan:
    """Sort ``snapshots`` (stamps like ``20261122T000000Z``) into keep and delete.

    :param current: the stamp the current table points at (None: nothing published yet, so nothing is deleted)
    :param published_at: when ``current`` was published (None: unknown, so nothing older is deleted)
    :param keep_last: the newest this many snapshots are kept whatever their age
    """
    if keep_last < 1:
        raise LakeConfigError(f"keep_last must be at least 1, got {keep_last}")
    for stamp in snapshots:
        parse_stamp(stamp)
    ordered = sorted(set(snapshots), reverse=True)
    plan = RetentionPlan()
    safe_after = published_at + grace if published_at is not None else None
    for rank, stamp in enumerate(ordered):
        if current is None:
            plan.keep[stamp] = "nothing is published yet"
        elif stamp == current:
            plan.keep[stamp] = "the current table points at it"
        elif stamp > current:
            plan.keep[stamp] = "newer than the current snapshot (not yet published)"
        elif rank < keep_last:
            plan.keep[stamp] = f"one of the newest {keep_last}"
        elif safe_after is None:
            plan.keep[stamp] = "the current snapshot's publish time is unknown"
        elif now < safe_after:
            plan.keep[stamp] = f"grace period: readers may still hold its files until {safe_after.isoformat()}"
        else:
            plan.delete[stamp] = f"superseded by {current} at {published_at.isoformat()}, grace {grace} passed"
    return plan


def snapshot_folders(listed: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """``({stamp: folder}, [skipped folders])`` of listed folder keys; only ``snapshot=<stamp>/`` folders count."""
    folders: dict[str, str] = {}
    skipped: list[str] = []
    for folder in listed:
        stamp = stamp_of_location(folder)
        if stamp is None:
            skipped.append(folder)
        else:
            folders[stamp] = folder
    return folders, skipped


def current_snapshot(folder_urls: Mapping[str, str], current_location: str | None) -> str | None:
    """The stamp whose folder (``{stamp: s3:// URL}``) the current table reads; None when it reads none of them."""
    if not current_location:
        return None
    return next((stamp for stamp, url in folder_urls.items() if same_location(url, current_location)), None)
