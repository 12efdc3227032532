"""A converted change set (incremental export → Parquet) reduced to one final change per key.

The converter writes one row per change line: ``_ddb_operation`` (INSERT / MODIFY / REMOVE), ``_ddb_write_ts``
(``Metadata.WriteTimestampMicros``), the key and the new image's attributes. Per key, the change with the latest
write timestamp wins (ties: the later line); a winning REMOVE deletes the key, any other winner is the item's whole
new image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ddb_lake.core.errors import ExportFormatError
from ddb_lake.core.schema.inference import OPERATION_ATTRIBUTE, OPERATION_COLUMN, WRITE_TS_ATTRIBUTE, WRITE_TS_COLUMN
from ddb_lake.core.schema.lake_schema import LakeSchema

METADATA_COLUMNS = (OPERATION_COLUMN, WRITE_TS_COLUMN)
METADATA_ATTRIBUTES = {OPERATION_ATTRIBUTE: OPERATION_COLUMN, WRITE_TS_ATTRIBUTE: WRITE_TS_COLUMN}
REMOVE = "REMOVE"
_ROW = "__ddb_lake_row"


@dataclass(frozen=True)
class ReducedChanges:
    """The final change per key: ``upserts`` (whole items, no metadata columns) and ``deletes`` (key columns)."""

    upserts: pa.Table
    deletes: pa.Table
    changes: int  # change rows read

    @property
    def keys(self) -> int:
        return self.upserts.num_rows + self.deletes.num_rows

    def changed_keys(self, key_columns: Sequence[str]) -> pa.Table:
        """Every key the window touched (upserted or deleted), key columns only."""
        return pa.concat_tables([self.upserts.select(key_columns), self.deletes.select(key_columns)])


def data_schema(schema: LakeSchema) -> LakeSchema:
    """The table's columns: a converted change set's schema without its change metadata (found by attribute)."""
    return LakeSchema(tuple(f for f in schema.fields if f.attribute not in METADATA_ATTRIBUTES))


def with_metadata_names(changes: pa.Table, schema: LakeSchema) -> pa.Table:
    """``changes`` with its metadata columns under their usual names.

    Converted with a ``previous_schema`` (the table's), the metadata columns are new attributes to the evolved
    schema and get names like any other new column (``c_ddb_operation``); they are found by attribute here.
    """
    renames = {f.name: METADATA_ATTRIBUTES[f.attribute] for f in schema.fields if f.attribute in METADATA_ATTRIBUTES}
    return changes.rename_columns([renames.get(name, name) for name in changes.column_names])


def require_change_set(columns: Sequence[str], export_id: str) -> None:
    """Refuse a converted export that holds full items where changes are expected (moto's incremental stand-in)."""
    missing = [c for c in METADATA_COLUMNS if c not in columns]
    if missing:
        raise ExportFormatError(
            f"the converted export has no {', '.join(missing)} column: its lines are full items ({{\"Item\": ...}}), "
            "not changes (Keys/NewImage/OldImage/Metadata). Merging full items as changes would lose every delete. "
            "Real incremental exports hold changes; the moto stand-in writes full items for incremental requests",
            export_id=export_id)


def last_per_key(keys: pa.Table, key_columns: Sequence[str], order_columns: Sequence[str]) -> np.ndarray:
    """Row indices of ``keys`` holding, per key, the last row by ``order_columns`` then by position."""
    n = keys.num_rows
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    table = keys.select([*key_columns, *order_columns]).append_column(_ROW, pa.array(np.arange(n, dtype=np.int64)))
    sort_keys = [(c, "ascending") for c in (*key_columns, *order_columns, _ROW)]
    order = pc.sort_indices(table, sort_keys=sort_keys)
    ordered = table.take(order)
    last = np.ones(n, dtype=bool)
    if n > 1:
        differs = np.zeros(n - 1, dtype=bool)
        for column in key_columns:
            values = ordered.column(column)
            differs |= pc.fill_null(pc.not_equal(values.slice(0, n - 1), values.slice(1)), True).to_numpy(
                zero_copy_only=False)
        last[:-1] = differs
    return order.to_numpy()[last]


def reduce_changes(changes: pa.Table, key_columns: Sequence[str]) -> ReducedChanges:
    """One change per key (the latest by write timestamp); REMOVE winners become deletes, others upserts."""
    missing = [c for c in key_columns if c not in changes.column_names]
    if missing:
        raise ExportFormatError(f"the change set has no key column(s) {missing}; columns: {changes.column_names}")
    winners = changes.take(pa.array(last_per_key(changes, key_columns, [WRITE_TS_COLUMN])))
    removed = pc.fill_null(pc.equal(winners.column(OPERATION_COLUMN), REMOVE), False)
    data_columns = [c for c in winners.column_names if c not in METADATA_COLUMNS]
    upserts = winners.filter(pc.invert(removed)).select(data_columns)
    deletes = winners.filter(removed).select(list(key_columns))
    return ReducedChanges(upserts=upserts, deletes=deletes, changes=changes.num_rows)


def rows_with_keys(table: pa.Table, probe: pa.Table, key_columns: Sequence[str]) -> np.ndarray:
    """Sorted row indices of ``table`` whose key is one of ``probe``'s keys (a hash semi-join on the key columns)."""
    if table.num_rows == 0 or probe.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    left = table.select(list(key_columns)).append_column(_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    right = probe.select(list(key_columns)).cast(left.select(list(key_columns)).schema)
    hits = left.join(right, keys=list(key_columns), join_type="left semi", use_threads=True)
    return np.sort(hits.column(_ROW).to_numpy())
