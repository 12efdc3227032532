"""Snapshot expiry of an Iceberg table with a grace period (rules in ``ddb_lake.core.iceberg.expiry``), pyiceberg.

Expires the snapshots the rules allow (one metadata commit), then deletes the data files only they referenced.
Metadata files (manifests, manifest lists, old table metadata) are left; a failure between the two steps leaves
unreferenced data files, never a referenced one missing. Imports no Airflow.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from ddb_lake.core.iceberg.expiry import expirable, snapshot_lives, unreachable_files

log = logging.getLogger(__name__)


def _data_files(table: Any, snapshot: Any) -> set[str]:
    return {entry.data_file.file_path for manifest in snapshot.manifests(table.io)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)}


def expire_snapshots(table: Any, *, now: datetime, grace: timedelta, keep_last: int) -> dict[str, Any]:
    """Expire what :func:`expirable` allows and delete the data files only those snapshots referenced."""
    metadata = table.metadata
    current = table.current_snapshot()
    lives = snapshot_lives([(s.snapshot_id, s.timestamp_ms) for s in metadata.snapshots],
                           [(e.snapshot_id, e.timestamp_ms) for e in metadata.snapshot_log],
                           current.snapshot_id if current else None)
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    ids = expirable(lives, now=now, grace=grace, keep_last=keep_last, protected=protected)
    if not ids:
        return {"expired": [], "deleted_files": 0, "kept_snapshots": len(lives)}
    by_id = {s.snapshot_id: s for s in metadata.snapshots}
    expired = {i: _data_files(table, by_id[i]) for i in ids}
    kept = {s.snapshot_id: _data_files(table, s) for s in metadata.snapshots if s.snapshot_id not in expired}
    doomed = unreachable_files(expired, kept)
    table.maintenance.expire_snapshots().by_ids(ids).commit()
    for path in sorted(doomed):
        table.io.delete(path)
    log.info("table %s: expired %d snapshot(s) superseded more than %s ago, deleted %d data file(s)",
             ".".join(table.name()), len(ids), grace, len(doomed))
    return {"expired": ids, "deleted_files": len(doomed), "kept_snapshots": len(lives) - len(ids)}
