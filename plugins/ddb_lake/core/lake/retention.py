"""Which converted folders retention may delete: only superseded or abandoned ones, never inside the grace period.

A table's converted folders are its attempt folders (``<root>/_attempts/snapshot=<stamp>/attempt=<id>/``, one per
convert try) and, from before attempts, fixed ``<root>/snapshot=<stamp>/`` folders. Two pointers read them: the
current Glue table (one folder) and the history table's ``snapshot=<stamp>`` partitions (one folder per stamp).

A folder may go when the current table does not read it, it is not the folder a partition of one of the newest
``keep_last`` snapshots reads, none of its data files was written within the grace period, and either

- it was never published (no ``_published.json`` or ``_superseded.json`` marker: no switch to it was ever tried),
  an abandoned attempt, or a backfill that kept the newer snapshot current; or
- it was published and has not been current for the grace period: since its ``_superseded.json`` (written after the
  switch away from it, or when the catalog moved its partition to a newer attempt), or, when that marker is missing
  or older than its ``_published.json``, since the current snapshot was published (``ddb_lake.published_at``), the
  latest moment it can have stopped being current.

A folder a partition reads goes only together with that partition (dropped first). A ``_published.json`` younger
than the grace period keeps the folder too: a publish may be between its decision and its switch. So the grace
period must exceed both the longest query and the longest publish. Publish's own files (the markers and
``_contract.json``, written at publish) never count as data when a folder is dated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ddb_lake.core.lake.errors import LakeConfigError
from ddb_lake.core.lake.glue_table import attempt_of_location, folder_url, same_location, stamp_of_location
from ddb_lake.core.lake.layout import (
    ATTEMPT_PARTITION,
    ATTEMPTS_FOLDER,
    PUBLISH_SIDECARS,
    PUBLISHED_MARKER,
    SUPERSEDED_MARKER,
    parse_stamp,
)


@dataclass(frozen=True)
class FolderTimes:
    """S3 LastModified times in one snapshot folder (None: no such object)."""

    newest_data: datetime | None = None  # the newest object other than publish's files (markers, _contract.json)
    published: datetime | None = None  # _published.json
    superseded: datetime | None = None  # _superseded.json

    @classmethod
    def of_objects(cls, objects: Iterable[tuple[str, datetime]]) -> FolderTimes:
        """From ``(key, LastModified)`` of every object under the folder."""
        data: list[datetime] = []
        markers: dict[str, datetime] = {}
        for key, modified in objects:
            name = key.rsplit("/", 1)[-1]
            if name in PUBLISH_SIDECARS:
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
class SnapshotFolder:
    """One converted folder: its ``s3://`` URL (ending in ``/``), its snapshot stamp and its times."""

    url: str
    stamp: str
    times: FolderTimes


@dataclass(frozen=True)
class FolderPlan:
    """Folders (by URL) to keep and to delete, each with the reason; the partitions (stamps) to drop first."""

    keep: dict[str, str] = field(default_factory=dict)
    delete: dict[str, str] = field(default_factory=dict)
    drop_partitions: tuple[str, ...] = ()


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
    """Sort fixed ``snapshot=<stamp>/`` folders (``{stamp: its times}``, one folder per stamp, each read by its
    partition) into keep and delete: :func:`plan_folder_retention` for the layout before attempt folders.

    :param current: the stamp the current table points at (None: nothing published, or it reads another folder;
        then nothing is deleted)
    :param published_at: when ``current`` was published (None: unknown)
    :param keep_last: the newest this many snapshots are kept whatever their age
    """
    for stamp in folders:
        parse_stamp(stamp)
    listed = [SnapshotFolder(f"s3://_/snapshot={stamp}/", stamp, times) for stamp, times in folders.items()]
    plan = plan_folder_retention(
        listed, current_location=f"s3://_/snapshot={current}/" if current else None,
        partitions={stamp: f"s3://_/snapshot={stamp}/" for stamp in folders}, published_at=published_at, now=now,
        grace=grace, keep_last=keep_last,
    )
    by_url = {folder.url: folder.stamp for folder in listed}
    return RetentionPlan({by_url[u]: r for u, r in plan.keep.items()}, {by_url[u]: r for u, r in plan.delete.items()})


def plan_folder_retention(
    folders: Sequence[SnapshotFolder],
    *,
    current_location: str | None,
    partitions: Mapping[str, str],
    published_at: datetime | None,
    now: datetime,
    grace: timedelta,
    keep_last: int,
) -> FolderPlan:
    """Sort a table's converted folders into keep and delete (see the module's rules).

    :param current_location: the folder the current table reads (None: nothing published; then, or when it reads
        none of ``folders``, nothing is deleted)
    :param partitions: ``{stamp: location}`` of the history table's partitions
    :param published_at: when the current folder was published (None: unknown)
    :param keep_last: the partitions of the newest this many snapshots keep their folders whatever their age
    """
    check_grace(grace)
    if keep_last < 1:
        raise LakeConfigError(f"keep_last must be at least 1, got {keep_last}")
    current = next((f for f in folders if current_location and same_location(f.url, current_location)), None)
    read = {f.url for f in folders if f.stamp in partitions and same_location(f.url, partitions[f.stamp])}
    pointed = {f.stamp for f in folders if f.url in read or f is current}
    newest = set(sorted(pointed, reverse=True)[:keep_last])
    keep: dict[str, str] = {}
    delete: dict[str, str] = {}
    for folder in sorted(folders, key=lambda f: (f.stamp, f.url), reverse=True):
        if current is None:
            reason = "nothing is published yet, or the current table reads another folder"
        elif folder is current:
            reason = "the current table points at it"
        elif folder.url in read and folder.stamp in newest:
            reason = f"one of the newest {keep_last}"
        else:
            reason = _kept_because(folder.times, published_at, now, grace)
        if reason is not None:
            keep[folder.url] = reason
        else:
            delete[folder.url] = _deleted_because(folder.times, published_at, grace)
    dropped = tuple(sorted(f.stamp for f in folders if f.url in delete and f.url in read))
    return FolderPlan(keep, delete, dropped)


def _kept_because(times: FolderTimes, published_at: datetime | None, now: datetime, grace: timedelta) -> str | None:
    """Why a folder no pointer protects is kept by its times, or None when it may be deleted."""
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


def _deleted_because(times: FolderTimes, published_at: datetime | None, grace: timedelta) -> str:
    if times.was_published():
        since = times.not_current_since(published_at)
        return f"published, not current since {since.isoformat() if since else None}, grace {grace} passed"
    newest = times.newest_data
    return f"never published, last written {newest.isoformat() if newest else None}, grace {grace} passed"


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


def converted_folders(root: str, objects: Iterable[tuple[str, datetime]]) -> tuple[dict[str, list], list[str]]:
    """Group the objects listed under a table's root key into its converted folders.

    :param root: the key of ``<prefix>/snapshots/<table>`` (or ``changes``), without a trailing slash
    :param objects: ``(key, LastModified)`` of every object under ``root/``
    :return: ``({folder key ending in /: [(key, LastModified), ...]}, [keys in no converted folder])``: a folder is
        ``root/snapshot=<stamp>/`` or ``root/_attempts/snapshot=<stamp>/attempt=<id>/``
    """
    base = root.strip("/") + "/"
    grouped: dict[str, list] = {}
    skipped: list[str] = []
    for key, modified in objects:
        parts = key[len(base):].split("/") if key.startswith(base) else []
        depth = 3 if parts[:1] == [ATTEMPTS_FOLDER] else 1
        folder = base + "/".join(parts[:depth]) + "/"
        if len(parts) > depth and _is_converted_folder(folder, depth):
            grouped.setdefault(folder, []).append((key, modified))
        else:
            skipped.append(key)
    return grouped, skipped


def _is_converted_folder(folder: str, depth: int) -> bool:
    if depth == 1:
        return stamp_of_location(folder) is not None
    return attempt_of_location(folder) is not None


def folder_stamp(folder: str) -> str:
    """The stamp of a converted folder key or URL (see :func:`converted_folders`)."""
    if attempt_of_location(folder) is not None:
        return str(stamp_of_location(folder_url(folder).rstrip("/").rsplit("/", 1)[0]))
    return str(stamp_of_location(folder))


def folder_name(folder: str) -> str:
    """How a report names a converted folder key: ``<stamp>``, or ``<stamp>/attempt=<id>`` for an attempt folder."""
    stamp = folder_stamp(folder)
    attempt = attempt_of_location(folder)
    return stamp if attempt is None else f"{stamp}/{ATTEMPT_PARTITION}={attempt}"


def current_snapshot(folder_urls: Mapping[str, str], current_location: str | None) -> str | None:
    """The stamp whose folder (``{stamp: s3:// URL}``) the current table reads; None when it reads none of them."""
    if not current_location:
        return None
    return next((stamp for stamp, url in folder_urls.items() if same_location(url, current_location)), None)
