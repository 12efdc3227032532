"""The Athena engine of a window merge (``iceberg.merge_engine: athena``): the table's data is rewritten by Athena's
``MERGE INTO``, the worker handles only the window (its size, never the table's).

Steps: the window reduced to its last change per key is written as one Parquet file and registered in Glue
(``<table>_merge_window``); new columns are added to the Iceberg table (a schema commit); one Athena query finds
which window keys the table held at the snapshot before the merge (time travel, so a retry gets the same answer);
the ``MERGE INTO`` runs; then a ddb-lake commit (no data files) records export id, watermark and the change
arithmetic. Athena cannot set snapshot summary properties, hence the second commit: until it lands the chain still
stands at the snapshot before the merge, and a retry runs the same MERGE again, which changes nothing (each key gets
its window's final state either way). Imports no Airflow: the queries go through ``runner``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ddb_lake.core.iceberg.arithmetic import expected_after, key_totals
from ddb_lake.core.iceberg.athena_merge import (
    ROW_COLUMN,
    existing_keys_sql,
    merge_into_sql,
    window_table_name,
)
from ddb_lake.core.iceberg.change_set import (
    REMOVE,
    data_schema,
    last_per_key,
    require_change_set,
    with_metadata_names,
)
from ddb_lake.core.iceberg.watermark import commit_properties
from ddb_lake.core.lake.glue_table import glue_columns, table_input
from ddb_lake.core.schema.inference import OPERATION_COLUMN, WRITE_TS_COLUMN, metadata_fields
from ddb_lake.core.schema.lake_schema import LakeField, LakeSchema, LakeType
from ddb_lake.hooks import iceberg_merge as engine


class AthenaRunner(Protocol):
    """What the engine needs from Athena and Glue (``hooks.iceberg_athena.AthenaMergeRunner`` in a DAG)."""

    def register_window(self, database: str, wanted: dict[str, Any]) -> None: ...

    def query(self, sql: str, database: str, purpose: str, fetch: bool = True) -> list[list[str | None]]: ...


def window_schema(schema: LakeSchema) -> LakeSchema:
    """The window table's columns: change metadata, the table's columns, and the row number."""
    return LakeSchema((*metadata_fields(), *data_schema(schema).fields,
                       LakeField(ROW_COLUMN, ROW_COLUMN, LakeType("int64"), "row number in the window")))


def merge_window_athena(table: Any, changes: pa.Table, schema: LakeSchema, *, export_id: str,
                        window_start: datetime | str, window_end: datetime | str, key_columns: Sequence[str],
                        database: str, table_name: str, window_url: str, runner: AthenaRunner) -> engine.MergeResult:
    """Merge one converted window through Athena; the same result, checks and summary as ``merge_window``."""
    done = engine._already_applied(table, export_id)
    if done is not None:
        return done
    changes = with_metadata_names(changes, schema)
    require_change_set(changes.column_names, export_id)
    state, base = engine.committed_state(table), engine.state_snapshot(table)
    engine._require_chained(f"{database}.{table_name}", state, window_start, export_id)
    clock = time.monotonic()
    columns = window_schema(schema)
    winners = changes.take(pa.array(last_per_key(changes, key_columns, [WRITE_TS_COLUMN])))
    window = winners.select([f.name for f in columns.fields[:-1]]).append_column(
        ROW_COLUMN, pa.array(np.arange(winners.num_rows, dtype=np.int64))).cast(columns.to_arrow().remove_metadata())
    _write_window(table.io, window, window_url)
    runner.register_window(database, table_input(window_table_name(table_name), glue_columns(columns),
                                                 window_url, partitioned=False,
                                                 description=f"window of export {export_id} (ddb-lake MERGE source)"))
    with table.transaction() as tx:  # Athena inserts only columns the table has
        engine._evolve_schema(tx, table, data_schema(schema))
    found = runner.query(existing_keys_sql(database, table_name, window_table_name(table_name), key_columns,
                                           base.snapshot_id), database, f"existing keys of {export_id}")
    present = np.zeros(window.num_rows, dtype=bool)
    present[np.asarray([int(row[0]) for row in found], dtype=np.int64)] = True
    removed = pc.fill_null(pc.equal(window.column(OPERATION_COLUMN), REMOVE), False).to_numpy(zero_copy_only=False)
    keys = window.select(list(key_columns))
    inserted = key_totals(keys.filter(pa.array(~removed & ~present)).to_batches(), key_columns)
    deleted = key_totals(keys.filter(pa.array(removed & present)).to_batches(), key_columns)
    before = engine._before(state, table, key_columns)
    after = expected_after(before, inserted, deleted)
    props = commit_properties(
        export_id=export_id, export_type="INCREMENTAL_EXPORT", watermark=window_end, window_start=window_start,
        rows=after.rows, key_checksum=after.checksum, rows_before=before.rows, inserts=inserted.rows,
        updates=int((~removed & present).sum()), deletes=deleted.rows, changes=changes.num_rows,
        windows=state.windows + 1)
    if window.num_rows:
        runner.query(merge_into_sql(database, table_name, window_table_name(table_name),
                                    [f.name for f in data_schema(schema).fields], key_columns), database,
                     f"merge of {export_id}", fetch=False)
    table.refresh()
    with table.transaction() as tx, tx.update_snapshot(snapshot_properties=props).fast_append():
        pass  # a commit without files: the summary that moves the watermark
    table.refresh()
    return engine.MergeResult("merged", export_id, table.current_snapshot().snapshot_id, base.snapshot_id, props,
                              seconds=engine._lap(clock), engine="athena")


def _write_window(io: Any, window: pa.Table, url: str) -> None:
    with io.new_output(f"{url.rstrip('/')}/window.parquet").create(overwrite=True) as stream:
        pq.write_table(window, stream, compression="zstd")
