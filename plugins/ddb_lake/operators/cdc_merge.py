"""The CDC DAG's own tasks: where the table stands (``state``: bootstrap, heal a stream gap, or nothing), the merge
of the change files the stream handler wrote (``changes``), and the cleanup of merged files (``cleanup``). The
export, convert, bootstrap/heal merge and validation are the Iceberg table's tasks (``operators/iceberg_table.py``).
Rules: ``ddb_lake.core.cdc``; S3 calls: ``hooks/cdc_files.py``; the merge itself: ``hooks/iceberg_merge.py``."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

from ddb_lake.compat import AirflowSkipException, Context
from ddb_lake.core.cdc.change_files import FilePick, pick_files
from ddb_lake.core.cdc.conversion import convert_reduced
from ddb_lake.core.cdc.gap import heal_window
from ddb_lake.core.cdc.reduction import reduce_lines
from ddb_lake.core.errors import NotFoundError
from ddb_lake.core.export.rules import FULL_EXPORT, INCREMENTAL_EXPORT, to_datetime
from ddb_lake.core.iceberg.schema_rules import KEY_COLUMNS_PROPERTY
from ddb_lake.core.iceberg.watermark import BOOTSTRAP, INCREMENTAL, WindowPlan, window_locations
from ddb_lake.core.lake.layout import TableLayout
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.cdc_files import CdcFilesHook
from ddb_lake.hooks.iceberg_catalog import IcebergCatalogHook
from ddb_lake.operators.base import ClassifiedErrors

CDC_POSITION = "ddb-lake.cdc-position"
CDC_FILES = "ddb-lake.cdc-files"
CDC_DUPLICATES = "ddb-lake.cdc-duplicates"
BOOTSTRAP_LAG = timedelta(minutes=5)  # a full export's time must not pass LatestRestorableDateTime (~5 min behind)


def cdc_position(table: Any) -> str:
    """The last change file merged: the newest ``ddb-lake.cdc-position`` of the current snapshot or its ancestors
    (a heal or bootstrap commit does not move it)."""
    from pyiceberg.table.snapshots import ancestors_of

    current = table.current_snapshot()
    for snapshot in ancestors_of(current, table.metadata) if current else ():
        position = snapshot.summary.additional_properties.get(CDC_POSITION)
        if position is not None:
            return position
    return ""


class _CdcOperator(ClassifiedErrors, AwsBaseOperator[IcebergCatalogHook]):
    aws_hook_class = IcebergCatalogHook
    template_fields: Sequence[str] = ("now",)

    def __init__(self, *, database: str, table_name: str, bucket: str, cdc_prefix: str,
                 settle: timedelta = timedelta(seconds=60), now: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database, self.table_name, self.bucket, self.cdc_prefix = database, table_name, bucket, cdc_prefix
        self.settle, self.now = settle, now

    @cached_property
    def files(self) -> CdcFilesHook:
        return CdcFilesHook(**self._hook_parameters)

    def clock(self) -> datetime:
        """``now`` when given (tests, backfills), else the wall clock."""
        return to_datetime(self.now) if self.now else datetime.now(UTC)

    def pick(self, table: Any) -> FilePick:
        position = cdc_position(table)
        return pick_files(self.files.list_after(self.bucket, self.cdc_prefix, position), position, self.clock(),
                          self.settle)

    def _first_change(self, pick: FilePick) -> datetime | None:
        """Approximate creation time of the oldest change in the first waiting file (None: no file waits)."""
        if pick.empty:
            return None
        micros = min(int(line["Metadata"]["WriteTimestampMicros"]["N"])
                     for line in self.files.read_lines(self.bucket, pick.keys[0]))
        return _from_micros(micros)


def _from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


class CdcStateOperator(_CdcOperator):
    """Decide the export this run needs before merging change files: a bootstrap (no table yet), a heal window (the
    watermark is older than the stream keeps records), or none (skipped). Returns what ``IcebergChainStateOperator``
    returns, so the same export, convert and merge tasks follow."""

    ui_color = "#cfe8f3"

    def __init__(self, *, layout: TableLayout, **kwargs: Any) -> None:
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.layout = layout

    def execute(self, context: Context) -> dict[str, Any]:
        table, now = self.hook.load_table(self.database, self.table_name), self.clock()
        state = engine.committed_state(table)
        name = f"{self.database}.{self.table_name}"
        if state.watermark is None:
            at = now - BOOTSTRAP_LAG
            plan = WindowPlan(BOOTSTRAP, FULL_EXPORT, None, at, f"table {name} has no watermark yet: bootstrap "
                              f"from a full export at {at.isoformat()} (the stream must be on since before it)")
        else:
            pick = self.pick(table)
            first = self._first_change(pick)
            heal = heal_window(name, state.watermark, now, first)
            if heal is None:
                raise AirflowSkipException(f"table {name}: watermark {state.watermark.isoformat()} is within the "
                                           "stream's retention: no export needed")
            self.log.warning("%s", heal.reason)
            plan = WindowPlan(INCREMENTAL, INCREMENTAL_EXPORT, heal.start, heal.end, heal.reason)
        schema = engine.stored_schema(table)
        return {**plan.to_xcom(), **window_locations(self.layout, plan),
                "previous_schema": schema.to_json() if schema else None}



class CdcMergeOperator(_CdcOperator):
    """Merge the change files after the table's position into the Iceberg table in one commit (with the new
    position and watermark); skipped when no file is ready. Returns the merge result, as the Iceberg merge does,
    plus ``files``, ``duplicates`` and ``held_back``."""

    ui_color = "#9fd3c7"

    def __init__(self, *, numbers: str = "exact", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.numbers = numbers

    def execute(self, context: Context) -> dict[str, Any]:
        table = self.hook.load_table(self.database, self.table_name)
        state = engine.committed_state(table)
        if table is None or state.watermark is None:
            raise NotFoundError(f"Iceberg table {self.database}.{self.table_name} is not bootstrapped: the state "
                                "task's bootstrap must run first")
        pick = self.pick(table)
        if pick.empty:
            raise AirflowSkipException(f"no change file after {pick.position or 'the start'} is ready "
                                       f"({pick.held_back} held back for the {self.settle} settle time)")
        heal = heal_window(f"{self.database}.{self.table_name}", state.watermark, self.clock(),
                           self._first_change(pick))
        if heal is not None:
            raise AirflowSkipException(f"not merged: a stream gap must be healed first. {heal.reason}")
        reduced = reduce_lines(line for key in pick.keys for line in self.files.read_lines(self.bucket, key))
        export_id = "cdc-" + hashlib.sha256(f"{cdc_position(table)}|{pick.position}".encode()).hexdigest()[:24]
        keys = table.metadata.properties[KEY_COLUMNS_PROPERTY].split(",")
        with tempfile.TemporaryDirectory(prefix="ddb-lake-cdc-") as work:
            summary = convert_reduced(reduced, Path(work), export_id, previous_schema=engine.stored_schema(table),
                                      numbers=self.numbers)
            schema = LakeSchema.from_json(summary["schema"])
            rows = engine.read_parquet_files(table.io, [f["path"] for f in summary["files"]],
                                             schema.to_arrow().remove_metadata())
        newest = _from_micros(reduced.last_micros or 0)
        result = engine.merge_window(
            table, rows, schema, export_id=export_id, window_start=state.watermark,
            window_end=max(state.watermark, newest), key_columns=keys, extra_properties={
                CDC_POSITION: pick.position, CDC_FILES: str(len(pick.keys)), CDC_DUPLICATES: str(reduced.duplicates)})
        self.log.info("%s %d change file(s) (%d lines, %d duplicates, %d keys) into %s.%s up to %s: %s", result.action,
                      len(pick.keys), reduced.changes, reduced.duplicates, len(reduced.lines), self.database,
                      self.table_name, pick.position, result.properties)
        return {**result.to_xcom(), "key_columns": keys, "files": len(pick.keys), "duplicates": reduced.duplicates,
                "held_back": pick.held_back}


class CdcCleanupOperator(_CdcOperator):
    """Delete change files at or below the table's position (merged) written more than ``grace`` ago."""

    ui_color = "#f3e6cf"

    def __init__(self, *, grace: timedelta = timedelta(hours=24), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grace = grace

    def execute(self, context: Context) -> dict[str, Any]:
        from ddb_lake.core.cdc.change_files import cleanable

        table = self.hook.load_table(self.database, self.table_name)
        position = cdc_position(table) if table is not None else ""
        doomed = cleanable(self.files.list_after(self.bucket, self.cdc_prefix), position, self.clock(), self.grace)
        self.files.delete_keys(self.bucket, doomed)
        self.log.info("deleted %d merged change file(s) older than %s (position %s)", len(doomed), self.grace,
                      position or "none")
        return {"deleted": len(doomed), "position": position}
