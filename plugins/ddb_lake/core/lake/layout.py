"""Where things live in S3: deterministic export prefixes, snapshot prefixes and attempt folders per table.

The same interval always maps to the same export keys, which is what makes reruns and backfills idempotent and lets
a retried export find the export an earlier try started (moto and AWS both report ``S3Prefix`` in DescribeExport).

A conversion never writes into a folder a reader may use: each task try writes an *attempt folder* of its own,
``<root>/_attempts/snapshot=<stamp>/attempt=<id>/`` (``<root>`` is ``<prefix>/snapshots/<table>`` or
``<prefix>/changes/<table>``), and becomes visible only when a pointer moves to it (the ``snapshot=<stamp>``
partition of the history table, the current table). ``_attempts`` starts with ``_``: Athena (and Hive's MSCK) skip
it when they list the table's location, so no reader of ``<root>`` sees an attempt that no pointer names.
The names of the files ddb-lake keeps beside the data in a snapshot folder live here too, so every step (the
converter's ownership rules, publish, retention, the contract store) agrees on them without importing each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

SNAPSHOT_PARTITION = "snapshot"
ATTEMPT_PARTITION = "attempt"
ATTEMPTS_FOLDER = "_attempts"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"

MANIFEST_NAME = "_manifest.json"  # the converter's summary, written last: the attempt is complete
WRITING_NAME = "_writing.json"  # the converter's ownership record while it writes (deleted last)
PUBLISHED_MARKER = "_published.json"  # written by publish right before switching the current table to the folder
SUPERSEDED_MARKER = "_superseded.json"  # written once the folder stopped being current (or lost the race)
CONTRACT_NAME = "_contract.json"  # the schema contract published with the folder
PUBLISH_SIDECARS = frozenset((PUBLISHED_MARKER, SUPERSEDED_MARKER, CONTRACT_NAME))
"""Files publish adds to a converted folder: not data (retention does not date a folder by them)."""
_RUN_SLUG = re.compile(r"[^a-z0-9]+")
_RUN_SLUG_CHARS = 40


def utc_stamp(moment: datetime) -> str:
    """``2026-11-22T00:00:00+00:00`` -> ``20261122T000000Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)


def attempt_id(run_id: str, try_number: int) -> str:
    """The attempt folder name of one task try: ``<run id slug>-<8 hex of the run id>-try<N>``.

    ``scheduled__2026-11-22T00:00:00+00:00`` try 2 -> ``scheduled-2026-11-22t00-00-00-00-00-<hash>-try2``. A retry
    keeps the run part and changes ``try<N>``; a rerun (a new run, or a cleared task: Airflow counts its tries on)
    changes one or the other. The hash keeps run ids that slug alike apart.
    """
    if not run_id or int(try_number) < 1:
        raise ValueError(f"an attempt needs a run id and a try number >= 1, got {run_id!r} and {try_number!r}")
    slug = _RUN_SLUG.sub("-", run_id.lower()).strip("-")[:_RUN_SLUG_CHARS].strip("-") or "run"
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}-try{int(try_number)}"


def attempts_key(snapshot_key: str) -> str:
    """``<root>/snapshot=<stamp>`` -> ``<root>/_attempts/snapshot=<stamp>``: the folder holding its attempts."""
    root, _, leaf = snapshot_key.strip("/").rpartition("/")
    return join_key(root, ATTEMPTS_FOLDER, leaf)


def attempt_url(attempts_url: str, attempt: str) -> str:
    """``<attempts_url>/attempt=<attempt>`` (no trailing slash)."""
    return f"{attempts_url.rstrip('/')}/{ATTEMPT_PARTITION}={attempt}"


def attempt_of_folder(url: str) -> str | None:
    """The attempt id of a ``.../_attempts/snapshot=<stamp>/attempt=<id>/`` folder (None for any other folder)."""
    parts = url.rstrip("/").split("/")
    if len(parts) < 4 or parts[-3] != ATTEMPTS_FOLDER:
        return None
    stamp_key, _, stamp = parts[-2].partition("=")
    key, _, value = parts[-1].partition("=")
    return value if stamp_key == SNAPSHOT_PARTITION and stamp and key == ATTEMPT_PARTITION and value else None


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

    def attempts_prefix(self, export_time: datetime) -> str:
        """``<prefix>/snapshots/<table>/_attempts/snapshot=<stamp>``: each convert try writes ``attempt=<id>/`` here."""
        return attempts_key(self.snapshot_prefix(export_time))

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
