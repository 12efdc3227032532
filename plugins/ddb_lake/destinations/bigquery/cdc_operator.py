"""BigQuery within minutes for a ``cdc:`` table (docs/cdc.md, "BigQuery"): after the CDC merge committed to Iceberg,
the same changes reach BigQuery in one staged MERGE per run, with BigQuery's own position in the same transaction.
Rules: ``core.cdc.bigquery_apply`` (what to apply), ``destinations.bigquery.cdc_sql`` (the transaction); calls:
``cdc_hook``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ddb_lake.compat import AirflowSkipException, Context
from ddb_lake.core.cdc.bigquery_apply import CHANGES, NOTHING, RELOAD, ApplyPlan, Commit, files_between, plan_apply
from ddb_lake.core.cdc.conversion import convert_reduced
from ddb_lake.core.cdc.reduction import reduce_lines
from ddb_lake.core.errors import NotFoundError, ValidationFailedError
from ddb_lake.core.iceberg.arithmetic import KeyTotals
from ddb_lake.core.iceberg.change_set import reduce_changes, with_metadata_names
from ddb_lake.core.iceberg.schema_rules import KEY_COLUMNS_PROPERTY
from ddb_lake.core.schema.lake_schema import LakeSchema
from ddb_lake.destinations.bigquery.cdc_hook import BigQueryCdcHook
from ddb_lake.destinations.bigquery.cdc_sql import DELETED_COLUMN, STAGE_SUFFIX, STATE_SUFFIX, apply_sql
from ddb_lake.destinations.bigquery.load_hook import DEFAULT_API_DEADLINE
from ddb_lake.destinations.bigquery.load_job import BigQueryDestination
from ddb_lake.destinations.bigquery.schema import BigQuerySchemaError, bigquery_fields
from ddb_lake.destinations.bigquery.widening import widen_schema
from ddb_lake.hooks import iceberg_merge as engine
from ddb_lake.hooks.iceberg_snapshot_files import conformed_rows
from ddb_lake.operators.cdc_merge import CDC_FILES, CDC_POSITION, _CdcOperator, cdc_position

DELETED_FIELD = {"name": DELETED_COLUMN, "type": "BOOL", "mode": "NULLABLE",
                 "description": "ddb-lake CDC: TRUE when the key's last change was a REMOVE"}
_ANY_DAY = date(2000, 1, 1)  # the ``latest`` layout has no day


def commits(table: Any) -> Iterator[Commit]:
    """The table's current snapshot and its ancestors, newest first, as the apply plan reads them."""
    from pyiceberg.table.snapshots import ancestors_of

    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        props = snapshot.summary.additional_properties
        yield Commit(snapshot.snapshot_id, str(snapshot.summary.operation.value), props.get(CDC_POSITION),
                     int(props.get(CDC_FILES) or 0))


class BigQueryCdcApplyOperator(_CdcOperator):
    """Bring ``project.dataset.table`` level with the Iceberg table: the change files merged since BigQuery's position
    (reduced, deletes included) in one MERGE, or a reload after a bootstrap or a heal; skipped when level. The row
    count and key checksum are then checked against the Iceberg commit's; a mismatch forgets BigQuery's position
    (the next run reloads) and fails."""

    template_fields: Sequence[str] = ("now",)
    ui_color = "#e8f0fe"

    def __init__(self, *, project_id: str, dataset: str, table: str, gcp_conn_id: str = "google_cloud_default",
                 location: str | None = None, numbers: str = "exact", api_deadline: float = DEFAULT_API_DEADLINE,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.project_id, self.dataset, self.table = project_id, dataset, table
        self.gcp_conn_id, self.location, self.numbers, self.api_deadline = gcp_conn_id, location, numbers, api_deadline

    @cached_property
    def bigquery(self) -> BigQueryCdcHook:
        return BigQueryCdcHook(self.gcp_conn_id, self.location, self.api_deadline)

    def execute(self, context: Context) -> dict[str, Any]:
        iceberg = self.hook.load_table(self.database, self.table_name)
        name = f"{self.database}.{self.table_name}"
        if iceberg is None or iceberg.current_snapshot() is None:
            raise NotFoundError(f"Iceberg table {name} has no snapshot yet: the state task's bootstrap runs first")
        applied = self.bigquery.applied_state(self.project_id, self.dataset, self.table + STATE_SUFFIX) or {}
        plan = plan_apply(name, commits(iceberg), applied.get("iceberg_snapshot_id"), applied.get("position") or "")
        if plan.action == NOTHING:
            raise AirflowSkipException(plan.reason)
        self.log.info("%s", plan.reason)
        keys = iceberg.metadata.properties[KEY_COLUMNS_PROPERTY].split(",")
        schema = engine.stored_schema(iceberg)
        assert schema is not None  # every table ddb-lake creates carries its LakeSchema
        files = self.change_files(plan) if plan.action == CHANGES else None
        if plan.action == CHANGES and files is None:
            plan = ApplyPlan(RELOAD, f"{plan.reason}, but some of them are gone (cleaned up): reload the table")
            self.log.warning("%s", plan.reason)
        with tempfile.TemporaryDirectory(prefix="ddb-lake-cdc-bq-") as work:
            stage = Path(work) / "stage.parquet"
            batches = (self.changed_rows(iceberg, files, schema, keys, Path(work)) if files is not None
                       else iceberg.scan().to_arrow_batch_reader())
            counts = _write_stage(batches, schema, stage)
            result = self.apply(iceberg, plan, schema, keys, stage, counts)
        self.check(iceberg, schema, keys)
        return result

    def change_files(self, plan: ApplyPlan) -> list[str] | None:
        """The change files between BigQuery's position and the table's; None when fewer remain than were merged."""
        listed = files_between(self.files.list_after(self.bucket, self.cdc_prefix, plan.from_position),
                               plan.from_position, plan.to_position)
        return listed if len(listed) == plan.files else None

    def changed_rows(self, iceberg: Any, files: list[str], schema: LakeSchema, keys: list[str],
                     work: Path) -> Iterator[pa.Table]:
        """The last change per key of ``files``: whole items, then deleted keys (other columns NULL)."""
        reduced = reduce_lines(line for key in files for line in self.files.read_lines(self.bucket, key))
        summary = convert_reduced(reduced, work, "cdc-bigquery", previous_schema=schema, numbers=self.numbers)
        converted = LakeSchema.from_json(summary["schema"])
        changes = with_metadata_names(engine.read_parquet_files(
            iceberg.io, [f["path"] for f in summary["files"]], converted.to_arrow().remove_metadata()), converted)
        final = reduce_changes(changes, keys)
        yield final.upserts
        yield final.deletes.append_column(DELETED_COLUMN, pa.array([True] * final.deletes.num_rows, pa.bool_()))

    def apply(self, iceberg: Any, plan: ApplyPlan, schema: LakeSchema, keys: list[str], stage: Path,
              counts: tuple[int, int]) -> dict[str, Any]:
        """Widen the table to the lake schema, load the staging table, run the transaction, drop the staging table."""
        project, dataset = self.project_id, self.dataset
        fields = bigquery_fields(schema, table=self.table)
        target = BigQueryDestination(project, dataset, self.table, "latest")
        widened = widen_schema(self.bigquery.table_fields(project, dataset, self.table), fields, table=self.table)
        if widened.renames:
            raise BigQuerySchemaError(
                f"BigQuery table {dataset}.{self.table}: column(s) {sorted(widened.renames)} changed type in a way "
                "that needs a versioned column, which the CDC apply does not write. Fix: pin the column's type in "
                "the table's YAML `columns:` to one that holds every value, or recreate the BigQuery table")
        self.bigquery.widen_table(target, _ANY_DAY, fields,
                                  description=f"DynamoDB table {self.table}, kept by ddb-lake CDC (docs/cdc.md)")
        staging = BigQueryDestination(project, dataset, self.table + STAGE_SUFFIX, "latest")
        self.bigquery.ensure_staging_table(staging, [*fields, DELETED_FIELD], expire_days=1)
        self.bigquery.load_parquet_file(project, dataset, staging.table, stage, [*fields, DELETED_FIELD])
        self.bigquery.ensure_state_table(project, dataset, self.table + STATE_SUFFIX)
        snapshot = iceberg.current_snapshot()
        state = engine.committed_state(iceberg)
        position = plan.to_position if plan.action == CHANGES else cdc_position(iceberg)
        self.bigquery.run_statement(project, apply_sql(
            f"{project}.{dataset}.{self.table}", f"{project}.{dataset}.{staging.table}",
            f"{project}.{dataset}.{self.table}{STATE_SUFFIX}", [f["name"] for f in fields], keys,
            snapshot_id=snapshot.snapshot_id, position=position,
            watermark=state.watermark.isoformat() if state.watermark else "1970-01-01T00:00:00+00:00",
            action=plan.action, key_count=sum(counts), replace=plan.action == RELOAD))
        self.bigquery.delete_table(project, dataset, staging.table)
        upserts, deletes = counts
        self.log.info("BigQuery %s.%s.%s: %s, %d upserts, %d deletes, now at Iceberg snapshot %s (position %s)",
                      project, dataset, self.table, plan.action, upserts, deletes, snapshot.snapshot_id,
                      position or "none")
        return {"action": plan.action, "reason": plan.reason, "iceberg_snapshot_id": snapshot.snapshot_id,
                "position": position, "upserts": upserts, "deletes": deletes, "files": plan.files,
                "table_id": f"{project}.{dataset}.{self.table}"}

    def check(self, iceberg: Any, schema: LakeSchema, keys: list[str]) -> None:
        """BigQuery's rows and key checksum against the Iceberg commit's (measured by its validation)."""
        state = engine.committed_state(iceberg)
        if state.rows is None or state.key_checksum is None:
            return
        types = {f["name"]: f["type"] for f in bigquery_fields(schema)}
        target = BigQueryDestination(self.project_id, self.dataset, self.table, "latest")
        rows, checksum = self.bigquery.key_checksum(target, _ANY_DAY, [(k, types[k]) for k in keys])
        if KeyTotals(rows, checksum) != KeyTotals(state.rows, state.key_checksum):
            self.bigquery.delete_table(self.project_id, self.dataset, self.table + STATE_SUFFIX)
            raise ValidationFailedError(
                f"BigQuery table {target.dataset}.{self.table}: {rows} rows, key checksum {checksum}; Iceberg table "
                f"{self.database}.{self.table_name}: {state.rows} rows, key checksum {state.key_checksum}: MISMATCH. "
                "BigQuery's CDC position was dropped, so the next run reloads the whole table from Iceberg")
        self.log.info("BigQuery %s rows, key checksum %s: equal to the Iceberg table's", rows, checksum)


def _write_stage(batches: Iterator[Any], schema: LakeSchema, path: Path) -> tuple[int, int]:
    """Write the staged rows (the table's columns in its Arrow types, plus the deleted flag) to one Parquet file;
    (upserts, deletes)."""
    arrow = schema.to_arrow().append(pa.field(DELETED_COLUMN, pa.bool_()))
    upserts = deletes = 0
    with pq.ParquetWriter(path, arrow, compression="zstd") as writer:
        for batch in batches:
            if DELETED_COLUMN not in batch.schema.names:
                batch = _with_flag(batch, False)
            rows = conformed_rows(batch, arrow)
            flagged = rows.column(DELETED_COLUMN).to_pylist().count(True)
            deletes, upserts = deletes + flagged, upserts + rows.num_rows - flagged
            writer.write_table(rows)
    return upserts, deletes


def _with_flag(batch: Any, value: bool) -> pa.Table:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    return table.append_column(DELETED_COLUMN, pa.array([value] * table.num_rows, pa.bool_()))
