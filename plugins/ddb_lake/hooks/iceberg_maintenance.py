"""Maintenance of an Iceberg table, pyiceberg: snapshot expiry with a grace period (rules in
``ddb_lake.core.iceberg.expiry``), orphan-file cleanup and compaction (rules in
``ddb_lake.core.iceberg.maintenance_rules``).

Expiry expires the snapshots the rules allow (one metadata commit), then deletes the data files only they
referenced. Metadata files (manifests, manifest lists, old table metadata) are left; a failure between the two steps
leaves unreferenced data files (the orphan cleanup removes them after the grace), never a referenced one missing.
Imports no Airflow.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from ddb_lake.core.iceberg.expiry import expirable, snapshot_lives, unreachable_files
from ddb_lake.core.iceberg.maintenance_rules import DataFileInfo, files_to_compact, orphan_files
from ddb_lake.core.iceberg.watermark import EXPORT_ID as EXPORT_ID_KEY

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


COMPACTION = "ddb-lake.compaction"  # summary property of a compaction commit: "<files in> -> <files out>"


def referenced_files(table: Any) -> set[str]:
    """Every data and delete file a snapshot still in the table's metadata references."""
    seen: set[str] = set()
    files: set[str] = set()
    for snapshot in table.metadata.snapshots:
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            files.update(entry.data_file.file_path
                         for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True))
    return files


def remove_orphan_files(table: Any, listed: list[tuple[str, datetime]], *, now: datetime, grace: timedelta,
                        delete: Any) -> dict[str, Any]:
    """Delete (``delete(url)``) the listed files the rules call orphans; ``listed``: the data folder's files."""
    doomed = orphan_files(listed, referenced_files(table), now=now, grace=grace)
    for url in doomed:
        delete(url)
    log.info("table %s: %d file(s) under data/, %d orphan(s) older than %s removed", ".".join(table.name()),
             len(listed), len(doomed), grace)
    return {"listed": len(listed), "removed": doomed}


def merges_since_compaction(table: Any) -> int:
    """ddb-lake window merges committed since the last compaction (or since the bootstrap)."""
    from pyiceberg.table.snapshots import ancestors_of

    from ddb_lake.core.iceberg.watermark import EXPORT_TYPE, WINDOW_START

    count, last_id = 0, None
    current = table.current_snapshot()
    for snapshot in ancestors_of(current, table.metadata) if current else ():
        props = snapshot.summary.additional_properties
        if COMPACTION in props or props.get(EXPORT_TYPE) == "FULL_EXPORT":
            break
        if props.get(WINDOW_START) and props.get(EXPORT_ID_KEY) != last_id:
            count, last_id = count + 1, props.get(EXPORT_ID_KEY)
    return count


def compact(table: Any, *, small_bytes: int) -> dict[str, Any]:
    """Rewrite the current snapshot's small files (and files carrying deletes) into large ones, in one commit whose
    summary repeats the chain's ddb-lake properties (the watermark stays on the current snapshot)."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files

    from ddb_lake.hooks.iceberg_merge import state_snapshot

    tasks = list(table.scan().plan_files())
    infos = [DataFileInfo(t.file.file_path, t.file.file_size_in_bytes, len(t.delete_files)) for t in tasks]
    chosen = set(files_to_compact(infos, small_bytes))
    if not chosen:
        return {"files_in": 0, "files_out": 0, "snapshot_id": None}
    picked = [t for t in tasks if t.file.file_path in chosen]
    state = state_snapshot(table)
    props = {k: v for k, v in (state.summary.additional_properties if state else {}).items()
             if k.startswith("ddb-lake.")}
    metadata = table.metadata
    rows = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue()).to_table(picked)
    written = list(_dataframe_to_data_files(metadata, rows, table.io, uuid.uuid4(), itertools.count(0))) \
        if rows.num_rows else []
    props[COMPACTION] = f"{len(picked)} -> {len(written)}"
    with table.transaction() as tx, tx.update_snapshot(snapshot_properties=props).overwrite() as producer:
        for task in picked:
            producer.delete_data_file(task.file)
        for data_file in written:
            producer.append_data_file(data_file)
    table.refresh()
    log.info("table %s: compacted %d file(s) (%d rows) into %d", ".".join(table.name()), len(picked), rows.num_rows,
             len(written))
    return {"files_in": len(picked), "files_out": len(written), "rows": rows.num_rows,
            "snapshot_id": table.current_snapshot().snapshot_id}
