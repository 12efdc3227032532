"""Where things live in S3: deterministic export prefixes and snapshot prefixes per table and interval.

The same interval always maps to the same keys, which is what makes reruns and backfills idempotent and lets a
retried export find the export an earlier try started (moto and AWS both report ``S3Prefix`` in DescribeExport).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

SNAPSHOT_PARTITION = "snapshot"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def utc_stamp(moment: datetime) -> str:
    """``2026-11-22T00:00:00+00:00`` -> ``20261122T000000Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(STAMP_FORMAT)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=timezone.utc)


def join_key(*parts: str) -> str:
    """Join S3 key parts with single slashes, dropping empty parts (no leading or trailing slash)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass(frozen=True)
class TableLayout:
    """The S3 keys of one table: its exports and its published snapshots."""

    bucket: str
    prefix: str
    table: str

    def export_prefix(self, export_type: str, export_time: datetime, window_start: datetime | None = None) -> str:
        """Prefix handed to ExportTableToPointInTime as ``S3Prefix``; one per (table, type, interval)."""
        kind = "incremental" if export_type.upper().startswith("INCREMENTAL") else "full"
        stamp = utc_stamp(export_time)
        if window_start is not None:
            stamp = f"{utc_stamp(window_start)}-{stamp}"
        return join_key(self.prefix, "exports", self.table, kind, stamp)

    def exports_root_prefix(self) -> str:
        """``<prefix>/exports/<table>``: every raw export of the table (full and incremental) lies under it."""
        return join_key(self.prefix, "exports", self.table)

    def snapshots_prefix(self) -> str:
        return join_key(self.prefix, "snapshots", self.table)

    def snapshot_prefix(self, export_time: datetime) -> str:
        """``<prefix>/snapshots/<table>/snapshot=<stamp>`` (no trailing slash)."""
        return join_key(self.snapshots_prefix(), f"{SNAPSHOT_PARTITION}={utc_stamp(export_time)}")

    def changes_root_prefix(self) -> str:
        return join_key(self.prefix, "changes", self.table)

    def changes_prefix(self, window_start: datetime, window_end: datetime) -> str:
        """Incremental exports convert to ``<prefix>/changes/<table>/snapshot=<start>-<end>``.

        The ``<table>_changes`` Glue table is partitioned like ``<table>_snapshots``: one ``snapshot`` partition per
        window, whose value is the window's two stamps.
        """
        stamp = f"{utc_stamp(window_start)}-{utc_stamp(window_end)}"
        return join_key(self.changes_root_prefix(), f"{SNAPSHOT_PARTITION}={stamp}")

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
