"""The in-worker merge engine: bootstrap and window merges of a converted export into an Iceberg table (pyiceberg).

Copy-on-write by data file, one commit per merge: the key columns of every data file are scanned and semi-joined
with the window's changed keys; each file holding a changed key is rewritten without those rows, the window's
upserts are written as new files, and all of it — schema additions, removed and added files, and the snapshot
summary carrying the export id and the watermark — goes into the table in one catalog commit (a pyiceberg
transaction). A commit either lands whole or not at all; a replayed export is found by its id and changes nothing.

Imports no Airflow: operators and ``bench/merge.py`` call it with a pyiceberg table (any catalog).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.core.errors import ConfigError
from ddb_lake.core.iceberg.arithmetic import KeyTotals, expected_after, key_totals
from ddb_lake.core.iceberg.change_set import (
    ReducedChanges,
    data_schema,
    reduce_changes,
    require_change_set,
    rows_with_keys,
    with_metadata_names,
)
from ddb_lake.core.iceberg.schema_rules import KEY_COLUMNS_PROPERTY, SCHEMA_PROPERTY, check_evolution
from ddb_lake.core.iceberg.watermark import EXPORT_ID, WATERMARK, CommittedState, commit_properties
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks.iceberg_deletes import deleted_positions, overwrite_with_deletes, raw_keys, write_delete_file

log = logging.getLogger(__name__)

SCAN_THREADS = 4
COPY_ON_WRITE = "copy-on-write"
MERGE_ON_READ = "merge-on-read"
DELETE_MODE_PROPERTY = "write.delete.mode"  # Iceberg's own table property
COMPACT_FRACTION = 0.2  # merge-on-read: a file with more of its rows deleted than this is rewritten instead


@dataclass
class MergeResult:
    """What one merge did (``action``: bootstrapped / merged / already_applied) and the snapshot it committed."""

    action: str
    export_id: str
    snapshot_id: int | None
    parent_snapshot_id: int | None
    properties: dict[str, str]
    files_rewritten: int = 0
    files_added: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "worker"

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)


def stored_schema(table: Any) -> LakeSchema | None:
    """The LakeSchema the table was last written with (table property), or None."""
    text = table.metadata.properties.get(SCHEMA_PROPERTY) if table is not None else None
    return LakeSchema.from_json(json.loads(text)) if text else None


def state_snapshot(table: Any) -> Any | None:
    """The newest snapshot (current or an ancestor) a ddb-lake commit wrote: the one carrying the watermark.

    Commits of other writers (an Athena ``MERGE`` before its ddb-lake commit, a compaction by another engine) carry
    no ddb-lake summary; the chain stands where the last ddb-lake commit left it.
    """
    from pyiceberg.table.snapshots import ancestors_of

    current = table.current_snapshot() if table is not None else None
    for snapshot in ancestors_of(current, table.metadata) if current else ():
        if WATERMARK in snapshot.summary.additional_properties:
            return snapshot
    return None


def committed_state(table: Any) -> CommittedState:
    snapshot = state_snapshot(table)
    return CommittedState.from_summary(snapshot.summary.additional_properties if snapshot else None)


def applied_snapshot(table: Any, export_id: str) -> Any | None:
    """The snapshot (current or an ancestor) that merged ``export_id``, or None."""
    from pyiceberg.table.snapshots import ancestors_of

    current = table.current_snapshot()
    for snapshot in ancestors_of(current, table.metadata) if current else ():
        if snapshot.summary.additional_properties.get(EXPORT_ID) == export_id:
            return snapshot
    return None


def read_parquet_files(io: Any, urls: Iterable[str], schema: pa.Schema) -> pa.Table:
    """The converted Parquet files at ``urls`` (any scheme the table's FileIO reads) as one table of ``schema``."""
    tables = []
    for url in urls:
        with io.new_input(url).open() as stream:
            tables.append(pq.read_table(stream).select(schema.names).cast(schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def create_table(catalog: Any, identifier: tuple[str, str], schema: LakeSchema, location: str,
                 key_columns: Sequence[str], delete_mode: str = MERGE_ON_READ) -> Any:
    """A new, empty Iceberg table of ``schema`` at ``location``: its LakeSchema and key columns in its properties,
    merges in ``delete_mode`` (``write.delete.mode``; merge-on-read unless told otherwise)."""
    return catalog.create_table(identifier, schema=_plain_arrow(schema), location=location, properties={
        SCHEMA_PROPERTY: schema.dumps(), KEY_COLUMNS_PROPERTY: ",".join(key_columns),
        DELETE_MODE_PROPERTY: delete_mode})


def table_key_totals(table: Any, key_columns: Sequence[str], snapshot_id: int | None = None) -> KeyTotals:
    """(rows, key checksum) of the table (at ``snapshot_id``, default: current) from a scan of its key columns."""
    scan = table.scan(selected_fields=tuple(key_columns), snapshot_id=snapshot_id)
    return key_totals(scan.to_arrow_batch_reader(), key_columns)


def bootstrap(table: Any, items: pa.Table, schema: LakeSchema, *, export_id: str, export_time: datetime | str,
              key_columns: Sequence[str]) -> MergeResult:
    """Replace the table's contents with a full export's items in one commit (a first bootstrap or a re-bootstrap)."""
    done = _already_applied(table, export_id)
    if done is not None:
        return done
    started = time.monotonic()
    totals = key_totals(items.select(list(key_columns)).to_batches(), key_columns)
    state = committed_state(table)
    props = commit_properties(export_id=export_id, export_type="FULL_EXPORT", watermark=export_time,
                              window_start=None, rows=totals.rows, key_checksum=totals.checksum,
                              rows_before=state.rows or 0, inserts=totals.rows, updates=0, deletes=0,
                              changes=items.num_rows)
    parent = table.current_snapshot()
    current_files = [task.file for task in table.scan().plan_files()] if parent else []
    with table.transaction() as tx:
        _evolve_schema(tx, table, schema)
        counter = itertools.count(0)
        with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
            for data_file in current_files:
                overwrite.delete_data_file(data_file)
            added = _write(tx, table.io, items, overwrite, counter)
    table.refresh()
    return MergeResult("bootstrapped", export_id, table.current_snapshot().snapshot_id,
                       parent.snapshot_id if parent else None, props, len(current_files), added,
                       round(time.monotonic() - started, 3))


def merge_window(table: Any, changes: pa.Table, schema: LakeSchema, *, export_id: str,
                 window_start: datetime | str, window_end: datetime | str, key_columns: Sequence[str],
                 table_name: str = "", mode: str | None = None,
                 extra_properties: dict[str, str] | None = None) -> MergeResult:
    """Apply one window's change set (converted incremental export, ``schema`` its converter schema) in one commit.

    :param mode: ``copy-on-write`` (files holding changed keys are rewritten) or ``merge-on-read`` (a position
        delete file per such file; files with more than ``COMPACT_FRACTION`` of their rows deleted are rewritten).
        Default: the table's ``write.delete.mode`` property, else copy-on-write.
    :param extra_properties: more snapshot summary properties committed with the data (the CDC merge's position)
    """
    done = _already_applied(table, export_id)
    if done is not None:
        return done
    mode = mode or table.metadata.properties.get(DELETE_MODE_PROPERTY, COPY_ON_WRITE)
    if mode not in (COPY_ON_WRITE, MERGE_ON_READ):
        raise ConfigError(f"delete mode {mode!r}: use {COPY_ON_WRITE} or {MERGE_ON_READ}")
    changes = with_metadata_names(changes, schema)
    require_change_set(changes.column_names, export_id)
    schema = data_schema(schema)
    name = table_name or ".".join(table.name())
    state = committed_state(table)
    _require_chained(name, state, window_start, export_id)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    reduced = reduce_changes(changes, key_columns)
    timings["reduce"] = _lap(clock)
    changed = reduced.changed_keys(key_columns)
    affected, existing = _files_with_keys(table, changed, key_columns)
    timings["scan_keys"] = _lap(clock) - timings["reduce"]
    counts, before = _classify(reduced, existing, key_columns), _before(state, table, key_columns)
    after = expected_after(before, counts["inserted"], counts["deleted"])
    props = commit_properties(
        export_id=export_id, export_type="INCREMENTAL_EXPORT", watermark=window_end, window_start=window_start,
        rows=after.rows, key_checksum=after.checksum, rows_before=before.rows, inserts=counts["inserted"].rows,
        updates=counts["updates"], deletes=counts["deleted"].rows, changes=reduced.changes,
        windows=state.windows + 1) | (extra_properties or {})
    parent = table.current_snapshot()
    rewrite = [hit for hit in affected if mode == COPY_ON_WRITE or hit.dead + len(hit.rows) > COMPACT_FRACTION *
               hit.total]
    marked = [hit for hit in affected if hit not in rewrite]
    with table.transaction() as tx:
        _evolve_schema(tx, table, schema)
        counter = itertools.count(0)
        producer = _producer(tx, props, marked)
        with producer:
            added = _rewrite_files(tx, table.io, rewrite, changed, key_columns, producer, counter)
            added += _write(tx, table.io, reduced.upserts, producer, counter)
    timings["write_commit"] = _lap(clock) - timings["reduce"] - timings["scan_keys"]
    table.refresh()
    return MergeResult("merged", export_id, table.current_snapshot().snapshot_id,
                       parent.snapshot_id if parent else None, props, len(rewrite), added, _lap(clock),
                       {**timings, "files_with_deletes": len(marked)})


def _producer(tx: Any, props: dict[str, str], marked: list) -> Any:
    """The commit's snapshot producer: a plain overwrite, or one adding a position delete file per marked file."""
    if not marked:
        return tx.update_snapshot(snapshot_properties=props).overwrite()
    producer = overwrite_with_deletes(tx, props)
    producer.delete_files = [write_delete_file(tx, tx._table.io, hit.task.file.file_path, hit.rows) for hit in marked]
    return producer


def rollback(table: Any, merged_snapshot_id: int | None, parent_snapshot_id: int | None) -> bool:
    """Make ``parent_snapshot_id`` current again when the merge's snapshot is still current; True if rolled back.

    The parent carries the previous watermark, so the chain continues from there. A merge into a new table (no
    parent) or a table some later commit already moved on is left as it is.
    """
    current = table.current_snapshot()
    if parent_snapshot_id is None or current is None or current.snapshot_id != merged_snapshot_id:
        log.warning("table %s: not rolled back (current snapshot %s, merged %s, parent %s)", ".".join(table.name()),
                    current.snapshot_id if current else None, merged_snapshot_id, parent_snapshot_id)
        return False
    table.manage_snapshots().set_current_snapshot(snapshot_id=parent_snapshot_id).commit()
    return True


def _lap(start: float) -> float:
    return round(time.monotonic() - start, 3)


def _already_applied(table: Any, export_id: str) -> MergeResult | None:
    snapshot = applied_snapshot(table, export_id)
    if snapshot is None:
        return None
    log.info("export %s is already merged into %s (snapshot %s): nothing to do", export_id,
             ".".join(table.name()), snapshot.snapshot_id)
    return MergeResult("already_applied", export_id, snapshot.snapshot_id, snapshot.parent_snapshot_id,
                       dict(snapshot.summary.additional_properties))


def _require_chained(name: str, state: CommittedState, window_start: datetime | str, export_id: str) -> None:
    from ddb_lake.core.export.rules import to_datetime

    if state.watermark is None:
        raise ConfigError(f"Iceberg table {name} has no watermark: it must be bootstrapped from a full export "
                          f"before window export {export_id} can be merged")
    if to_datetime(window_start) != state.watermark:
        raise ConfigError(
            f"Iceberg table {name}: export {export_id} starts at {to_datetime(window_start).isoformat()} but the "
            f"table's watermark is {state.watermark.isoformat()}; merging it would leave a gap or apply changes "
            "twice. The next run exports from the watermark")


def _plain_arrow(schema: LakeSchema) -> pa.Schema:
    return schema.to_arrow().remove_metadata()


def _evolve_schema(tx: Any, table: Any, schema: LakeSchema) -> None:
    """Add the columns (and struct members) ``schema`` has beyond the table's; widen decimals; refuse the rest."""
    old = stored_schema(table)
    name = ".".join(table.name())
    if old is not None:
        added = check_evolution(name, old, schema)
        if schema == old:
            return
        log.info("table %s: schema evolves (new columns: %s)", name, ", ".join(added) or "none")
        with tx.update_schema() as update:
            update.union_by_name(_plain_arrow(schema))
    tx.set_properties({SCHEMA_PROPERTY: schema.dumps()})


def _write(tx: Any, io: Any, rows: pa.Table, overwrite: Any, counter: Any) -> int:
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    if rows.num_rows == 0:
        return 0
    files = list(_dataframe_to_data_files(tx.table_metadata, rows, io, overwrite.commit_uuid, counter))
    for data_file in files:
        overwrite.append_data_file(data_file)
    return len(files)


@dataclass(frozen=True, eq=False)
class _Hit:
    """A data file holding changed keys: their row numbers in the file, and its deleted and total row counts."""

    task: Any
    rows: np.ndarray
    dead: int
    total: int


def _files_with_keys(table: Any, changed: pa.Table, key_columns: Sequence[str]) -> tuple[list[_Hit], pa.Table]:
    """The data files holding a changed key (row numbers as stored) and the changed keys that exist."""
    if table.current_snapshot() is None or changed.num_rows == 0:
        return [], changed.slice(0, 0)
    tasks = list(table.scan().plan_files())

    def probe(task: Any) -> tuple[_Hit, pa.Table]:
        keys = raw_keys(table.io, task, key_columns)
        dead = deleted_positions(table.io, task)
        live = np.ones(keys.num_rows, dtype=bool)
        live[dead] = False
        rows = rows_with_keys(keys, changed, key_columns)
        rows = rows[live[rows]]
        return _Hit(task, rows, len(dead), keys.num_rows), keys.take(pa.array(rows))

    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        found = [hit for hit in pool.map(probe, tasks) if len(hit[0].rows)]
    if not found:
        return [], changed.slice(0, 0)
    existing = pa.concat_tables([keys.cast(changed.schema) for _, keys in found])
    return [hit for hit, _ in found], existing


def _classify(reduced: ReducedChanges, existing: pa.Table, key_columns: Sequence[str]) -> dict[str, Any]:
    """Inserted keys (upserts not in the table), updates, and deleted keys (removes that were in the table)."""
    upserts = reduced.upserts.select(list(key_columns))
    present = rows_with_keys(upserts, existing, key_columns)
    inserted_mask = np.ones(upserts.num_rows, dtype=bool)
    inserted_mask[present] = False
    deleted = reduced.deletes.take(pa.array(rows_with_keys(reduced.deletes, existing, key_columns)))
    return {
        "inserted": key_totals(upserts.filter(pa.array(inserted_mask)).to_batches(), key_columns),
        "updates": len(present),
        "deleted": key_totals(deleted.to_batches(), key_columns),
    }


def _before(state: CommittedState, table: Any, key_columns: Sequence[str]) -> KeyTotals:
    """The table's totals before this merge: recorded by the last validated commit, else scanned."""
    if state.rows is not None and state.key_checksum is not None:
        return KeyTotals(state.rows, state.key_checksum)
    return table_key_totals(table, key_columns)


def _rewrite_files(tx: Any, io: Any, hits: list[_Hit], changed: pa.Table, key_columns: Sequence[str],
                   overwrite: Any, counter: Any) -> int:
    """Rewrite each data file without its changed rows (and without rows its delete files delete), files in
    parallel; return the number of files written."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files

    def rewrite(hit: _Hit) -> list:
        data = ArrowScan(tx.table_metadata, io, tx.table_metadata.schema(), AlwaysTrue()).to_table([hit.task])
        keep = np.ones(data.num_rows, dtype=bool)
        keep[rows_with_keys(data, changed, key_columns)] = False
        kept = data.filter(pa.array(keep))
        return list(_dataframe_to_data_files(tx.table_metadata, kept, io, overwrite.commit_uuid, counter)) \
            if kept.num_rows else []

    with ThreadPoolExecutor(SCAN_THREADS) as pool:
        written = list(pool.map(rewrite, hits))
    for hit, files in zip(hits, written, strict=True):
        overwrite.delete_data_file(hit.task.file)
        for data_file in files:
            overwrite.append_data_file(data_file)
    return sum(len(files) for files in written)
