"""Which snapshot folders retention may delete: only superseded or abandoned ones, never inside the grace period.

A folder may go when it is not the current one, not among the newest ``keep_last``, none of its data files was
written within the grace period, and either

- it was never published (no ``_published.json`` or ``_superseded.json`` marker: no switch to it was ever tried), an
  abandoned attempt or a backfill that kept the newer snapshot current; or
- it was published and has not been current for the grace period: since its ``_superseded.json`` (written after the
  switch away from it), or, when that marker is missing or older than its ``_published.json``, since the current
  snapshot was published (``ddb_lake.published_at``), the latest moment it can have stopped being current.

A ``_published.json`` younger than the grace period keeps the folder too: a publish may be between its decision and
its switch. So the grace period must exceed both the longest query and the longest publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.glue_table import same_location, stamp_of_location
from ddb_lake.core.lake.layout import parse_stamp
from ddb_lake.core.lake.publish import PUBLISHED_MARKER, SUPERSEDED_MARKER


@dataclass(frozen=True)
class FolderTimes:
    """S3 LastModified times in one snapshot folder (None: no such object)."""

    newest_data: datetime | None = None  # the newest object other than the two markers
    published: datetime | None = None  # _published.json
    superseded: datetime | None = None  # _superseded.json

    @classmethod
    def of_objects(cls, objects: Iterable[tuple[str, datetime]]) -> FolderTimes:
        """From ``(key, LastModified)`` of every object under the folder."""
        data: list[datetime] = []
        markers: dict[str, datetime] = {}
        for key, modified in objects:
            name = key.rsplit("/", 1)[-1]
            if name in (PUBLISHED_MARKER, SUPERSEDED_MARKER):
                markers[name] = modified
            else:
                data.append(modified)
        return cls(max(data, default=None), markers.get(PUBLISHED_MARKER), markers.get(SUPERSEDED_MARKER))

    def was_published(self) -> bool:
        return self.published is not None or self.superseded is not None

    def not_current_since(self, current_published_at: datetime | None) -> datetime | None:
        """The latest moment this (not current) folder can have been current; None when that is unknown."""
        if self.superseded is not None and (self.published is None or self.superseded >= self.published):
            return self.superseded
        if current_published_at is None:
            return None
        return max(current_published_at, self.published or current_published_at)


@dataclass(frozen=True)
class RetentionPlan:
    """Snapshot stamps to keep and to delete, each with the reason."""

    keep: dict[str, str] = field(default_factory=dict)
    delete: dict[str, str] = field(default_factory=dict)


def check_grace(grace: timedelta) -> timedelta:
    """``grace`` when it is more than zero; else a terminal error naming the fix."""
    if grace <= timedelta(0):
        raise LakeConfigError(
            f"retention grace period must be more than 0, got {grace}: a query planned before a publish reads the "
            f"superseded snapshot's files until it ends; set retention.grace_hours to at least the longest query"
        )
    return grace


def plan_retention(
    folders: Mapping[str, FolderTimes],
    *,
    current: str | None,
    published_at: datetime | None,
    now: datetime,
    grace: timedelta,
    keep_last: int,
) -> RetentionPlan:
    """Sort ``folders`` (``{stamp like 20261122T000000Z: its times}``) into keep and delete.

    :param current: the stamp the current table points at (None: nothing published, or it reads another folder;
        then nothing is deleted)
    :param published_at: when ``current`` was published (None: unknown)
    :param keep_last: the newest this many snapshots are kept whatever their age
    """
    check_grace(grace)
    if keep_last < 1:
        raise LakeConfigError(f"keep_last must be at least 1, got {keep_last}")
    for stamp in folders:
        parse_stamp(stamp)
    plan = RetentionPlan()
    for rank, stamp in enumerate(sorted(folders, reverse=True)):
        kept = _kept_because(stamp, rank, folders[stamp], current, published_at, now, grace, keep_last)
        if kept is not None:
            plan.keep[stamp] = kept
        elif folders[stamp].was_published():
            since = folders[stamp].not_current_since(published_at)
            plan.delete[stamp] = f"published, not current since {since.isoformat()}, grace {grace} passed"
        else:
            newest = folders[stamp].newest_data
            plan.delete[stamp] = f"never published, last written {newest.isoformat()}, grace {grace} passed"
    return plan


def _kept_because(
    stamp: str,
    rank: int,
    times: FolderTimes,
    current: str | None,
    published_at: datetime | None,
    now: datetime,
    grace: timedelta,
    keep_last: int,
) -> str | None:
    """Why ``stamp`` is kept, or None when it may be deleted."""
    if current is None:
        return "nothing is published yet, or the current table reads another folder"
    if stamp == current:
        return "the current table points at it"
    if rank < keep_last:
        return f"one of the newest {keep_last}"
    if times.newest_data is None:
        return "no data files"
    if now < times.newest_data + grace:
        return f"written at {times.newest_data.isoformat()}, within the grace period: a run may still use it"
    if not times.was_published():
        return None
    since = times.not_current_since(published_at)
    if since is None:
        return "published, and when it stopped being current is unknown"
    if now < since + grace:
        return f"grace period: not current since {since.isoformat()}, readers may hold its files until " \
               f"{(since + grace).isoformat()}"
    return None


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
